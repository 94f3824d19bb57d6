"""Outgoing mail for every app: one outbox, idempotent delivery by the worker, unsubscribe.

It sits in the lowest layer because accounts and carts (and later the price watch) all send
mail and may not import upward. The one entry point is
:func:`buyhive.mail.services.send_templated_mail`.
"""
