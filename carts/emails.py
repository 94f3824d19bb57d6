"""The "a cart was shared with you" email: text + HTML from ``templates/carts/``.

Sent through Django's mail framework, so the backend is a setting: Amazon SES through
django-ses in production, the console locally, locmem in tests. One message per recipient,
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
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string

from buyhive.product.money import format_money
from carts.models import Cart, CartItem, Item

logger = structlog.get_logger(__name__)

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


def build_share_messages(
    *,
    cart: Cart,
    rows: Sequence[tuple[CartItem, Item]],
    totals: list[dict[str, str | None]],
    sender_name: str,
    sender_email: str,
    recipients: Sequence[str],
    message: str,
    link: str,
) -> list[EmailMultiAlternatives]:
    """One text + HTML message per recipient (nothing is sent here).

    ``totals`` are the API's (``CartSummary.totals_list``); the mail shows them for people.
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
        "site_name": settings.SITE_NAME,
    }
    subject = _one_line(f"{sender} shared the cart “{cart.name}” with you", 200)
    text_body = render_to_string("carts/share_email.txt", context)
    html_body = render_to_string("carts/share_email.html", context)
    messages = []
    for recipient in recipients:
        email = EmailMultiAlternatives(
            subject=subject,
            body=text_body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[recipient],
            reply_to=[sender_email] if sender_email else None,
        )
        email.attach_alternative(html_body, "text/html")
        messages.append(email)
    return messages


def send_messages(messages: Sequence[EmailMultiAlternatives]) -> int:
    """Send over one backend connection; returns how many were accepted."""
    connection = get_connection(fail_silently=False)
    sent = connection.send_messages(list(messages)) or 0
    logger.info("share_email_sent", messages=len(messages), accepted=sent)
    return int(sent)
