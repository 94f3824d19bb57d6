"""The "a cart was shared with you" email: text + HTML from ``templates/carts/``.

Queued through the outbox (``buyhive.mail``) and sent by the worker through Django's mail
framework, so the backend is a setting: Amazon SES through django-ses in production, the
console locally, locmem or files in tests. One message per recipient,
so that no recipient sees the others' addresses. The sender's message is user input: the
HTML template escapes it (autoescape), the text part carries it as plain text, and the
subject is built only from the cart name and the sender's name with line breaks removed.
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


def queue_share_mails(
    *,
    cart: Cart,
    rows: Sequence[tuple[CartItem, Item]],
    totals: list[dict[str, str | None]],
    sender_name: str,
    sender_email: str,
    recipients: Sequence[str],
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
    sender = _one_line(sender_name, 80) or _one_line(sender_email, 254)
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
    subject = _one_line(f"{sender} shared the cart “{cart.name}” with you", 200)
    queued = 0
    for recipient in recipients:
        mail = send_templated_mail(
            kind=SHARE_MAIL_KIND,
            to=recipient,
            key=f"{SHARE_MAIL_KIND}:{share_key}:{recipient}",
            template="carts/share_email",
            context=context,
            subject=subject,
            reply_to=sender_email,
            unsubscribe=True,
        )
        queued += mail is not None
    logger.info("share_email_queued", recipients=len(recipients), queued=queued)
    return queued
