"""The "a cart was shared with you" email: text + HTML from ``templates/carts/``.

Queued through the outbox (``buyhive.mail``) and sent by the worker through Django's mail
framework, so the backend is a setting: Amazon SES through django-ses in production, the
console locally, locmem or files in tests. One message per recipient,
so that no recipient sees the others' addresses. The sender's message is user input: the
HTML template escapes it (autoescape) and the text part carries it as plain text.

What a phisher would want from a mail sent from our address is kept out of their hands:
the subject holds no user-written text but the cart name, on one line and at most
``SUBJECT_CART_NAME_MAX`` characters; the body names the sender by their confirmed address
(their display name beside it); and ``Reply-To`` is the sender's address only when it is
confirmed, otherwise there is none (replies then go to our no-reply sender).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog

from buyhive.mail.services import send_templated_mail
from buyhive.product.money import format_money
from carts.models import Cart, CartItem, Item

logger = structlog.get_logger(__name__)

#: The mail kind a recipient unsubscribes from ("no more shared carts").
SHARE_MAIL_KIND = "cart_share"
#: Items listed in the mail; a bigger cart says "and N more" and links to the full list.
MAX_ITEMS_IN_EMAIL = 50
#: The cart name's share of the subject, the only user-written text it carries.
SUBJECT_CART_NAME_MAX = 60


@dataclass(frozen=True, slots=True)
class EmailLine:
    title: str
    brand: str
    price: str | None
    url: str
    image_url: str
    quantity: int


def _price_text(price: Decimal | None, currency: str | None) -> str | None:
    """A price for people: ``1 500 JPY``, ``12.345 KWD`` (``buyhive.product.money``)."""
    if price is None:
        return None
    return format_money(price, currency=currency)


def _one_line(text: str, limit: int) -> str:
    return " ".join((text or "").split())[:limit]


def share_subject(cart_name: str) -> str:
    """``A cart was shared with you: “<cart name>”``: the name on one line, length-capped."""
    name = _one_line(cart_name, SUBJECT_CART_NAME_MAX + 1)
    if len(name) > SUBJECT_CART_NAME_MAX:
        name = name[: SUBJECT_CART_NAME_MAX - 1].rstrip() + "…"
    return f"A cart was shared with you: “{name}”"


def queue_share_mails(
    *,
    cart: Cart,
    rows: Sequence[tuple[CartItem, Item]],
    totals: list[dict[str, str | None]],
    sender_name: str,
    sender_email: str,
    recipients: Sequence[str],
    sender_verified: bool = False,
    message: str,
    link: str,
    share_key: str,
) -> int:
    """Queue one text + HTML mail per recipient through the outbox; returns how many.

    Each carries the one-click unsubscribe (the recipients are not the account's owner); an
    address that unsubscribed from shared carts is skipped, silently. ``share_key`` names
    this share request, so the same request queued twice sends each mail once. ``totals``
    are the API's (``CartSummary.totals_list``); the mail shows them for people.
    """
    lines = [
        EmailLine(
            title=item.title or item.url or "Untitled item",
            brand=item.brand,
            price=_price_text(item.price, item.currency),
            url=item.url,
            image_url=item.image_url,
            quantity=membership.quantity,
        )
        for membership, item in rows[:MAX_ITEMS_IN_EMAIL]
    ]
    address = _one_line(sender_email, 254)
    name = _one_line(sender_name, 80)
    sender = f"{name} ({address})" if name and address else (name or address)
    context: dict[str, Any] = {
        "cart_name": cart.name,
        "sender": sender,
        "message": message,
        "lines": lines,
        "more": max(0, len(rows) - len(lines)),
        "item_count": len(rows),
        "totals": [
            format_money(Decimal(str(total["amount"])), currency=total["currency"])
            for total in totals
        ],
        "link": link,
    }
    subject = share_subject(cart.name)
    reply_to = address if sender_verified else ""
    queued = 0
    for recipient in recipients:
        mail = send_templated_mail(
            kind=SHARE_MAIL_KIND,
            to=recipient,
            key=f"{SHARE_MAIL_KIND}:{share_key}:{recipient}",
            template="carts/share_email",
            context=context,
            subject=subject,
            reply_to=reply_to,
            unsubscribe=True,
        )
        queued += mail is not None
    logger.info("share_email_queued", recipients=len(recipients), queued=queued)
    return queued
