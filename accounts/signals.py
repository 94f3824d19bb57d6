"""Signals the accounts app sends, so that upper layers can act without accounts importing them.

``account_taken_over``: a verified Google sign-in took over an account whose email had never
been verified (see :func:`accounts.services.google_sign_in`). Whoever registered the address
first may have left things behind that still reach the account (a public share link keeps
showing what the owner adds). Each receiver applies its own app's rule and returns a dict of
counts (``{"carts": 2, "share_links_revoked": 1}``); the sign-in answer merges them so the
owner learns what was already there. Sent inside the takeover's transaction: a failing
receiver fails the sign-in rather than leave a window open.

Arguments: ``sender`` (the User class), ``user``.
"""

from __future__ import annotations

from django.dispatch import Signal

account_taken_over = Signal()

#: ``account_deactivated``: staff deactivated the account
#: (:func:`accounts.services.user_deactivate`), which has already revoked its sessions. Each
#: receiver closes what its app keeps open for the user (carts: public share links) and
#: returns a dict of counts (``{"share_links_revoked": 2}``), merged into the service's answer.
#: Sent inside the deactivation's transaction. Arguments: ``sender`` (the User class), ``user``.
account_deactivated = Signal()
