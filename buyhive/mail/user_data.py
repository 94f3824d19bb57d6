"""The outbox's part in deleting an account (:mod:`buyhive.registries`).

The outbox keeps each mail's row as its idempotency record (``MAIL_KEEP_SENT_DAYS``), and a
row can name the user three ways: as its recipient (``to``: confirmations, resets, alert
mails), as the sender a share mail replies to (``reply_to``), or in its key (keys of the
account's own mails carry the user id: ``register:<id>``, ``alerts:digest:<id>:...``).
All of them go, pending ones included: a deleted account sends nothing more. The address's
suppressions go too: they are the person's choices about our mail, and the person asked us
to forget them (a later share to the address carries its own one-click unsubscribe).

Nothing is exported from here: the mails' contents are the other apps' data, which they
export themselves.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from buyhive.mail.models import OutboundMail, Suppression


def mail_delete(user: Any) -> int:
    """Delete every outbox row and suppression that names ``user``; the rows deleted."""
    address = (user.email or "").strip().lower()
    names_user = Q(key__contains=str(user.pk))
    if address:
        names_user |= Q(to__iexact=address) | Q(reply_to__iexact=address)
    deleted = OutboundMail.objects.filter(names_user).delete()[0]
    if address:
        deleted += Suppression.objects.filter(address__iexact=address).delete()[0]
    return deleted
