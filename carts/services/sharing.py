"""Sharing a cart: its public read-only link, and mailing it to recipients."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from typing import Any

import structlog
from django.conf import settings
from django.utils import timezone

from accounts.services import email_confirmation_on_refused_share
from buyhive.exceptions import EmailUnverified, NotFound, ValidationFailed
from buyhive.transactions import run_in_transaction
from carts import emails as share_emails
from carts import models as m
from carts.models import Cart
from carts.selectors import cart_summaries, membership_rows
from carts.services._common import _clean_field
from carts.share_caps import share_mail_caps_take
from carts.validation import clean_input_text

logger = structlog.get_logger(__name__)


def share_url(token: str) -> str:
    """The public read-only address of a shared cart."""
    return f"{settings.PUBLIC_BASE_URL}/api/v1/shared/{token}/"


def cart_share_link_create(*, cart: Cart) -> tuple[str, bool]:
    """The cart's share token, created when it has none: ``(token, created)``.

    The token is ``secrets.token_urlsafe(32)`` (256 random bits). Setting it is a
    conditional update, so two concurrent calls agree on one token.
    """
    if cart.share_token:
        return cart.share_token, False
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    updated = Cart.objects.filter(pk=cart.pk, share_token__isnull=True).update(
        share_token=token, shared_at=now
    )
    if not updated:
        cart.refresh_from_db(fields=["share_token", "shared_at"])
        if cart.share_token:
            return cart.share_token, False
        raise NotFound("Cart not found.")
    cart.share_token, cart.shared_at = token, now
    logger.info("cart_share_link_created", cart_id=str(cart.pk))
    return token, True


def cart_share_link_revoke(*, cart: Cart) -> bool:
    """Revoke the public link (the old token stops working). False when there was none."""
    updated = Cart.objects.filter(pk=cart.pk, share_token__isnull=False).update(
        share_token=None, shared_at=None
    )
    cart.share_token, cart.shared_at = None, None
    if updated:
        logger.info("cart_share_link_revoked", cart_id=str(cart.pk))
    return bool(updated)


def cart_share_links_revoke_all(*, owner: Any) -> int:
    """Revoke every share link of ``owner``'s carts (the public tokens stop working at once).

    For moderation: a deactivated account must not keep publishing carts. Answers how many
    links were live.
    """
    owner_id = getattr(owner, "pk", owner)
    revoked = Cart.objects.filter(owner_id=owner_id, share_token__isnull=False).update(
        share_token=None, shared_at=None
    )
    if revoked:
        logger.info("cart_share_links_revoked", user_id=str(owner_id), revoked=revoked)
    return int(revoked)


def on_account_deactivated(sender: Any, user: Any, **_: Any) -> dict[str, int]:
    """Receiver of ``accounts.signals.account_deactivated`` (connected in CartsConfig.ready)."""
    return {"share_links_revoked": cart_share_links_revoke_all(owner=user)}


def cart_share_by_email(
    *, cart: Cart, sender: Any, emails: Sequence[str], message: str = ""
) -> int:
    """Mail a read-only view of ``cart`` to ``emails`` (at most ``MAX_SHARE_RECIPIENTS``).

    Only a sender whose email address is confirmed may share by mail: mail from the
    service's own address to strangers is what phishing and spam need. An unconfirmed
    sender is refused (403 ``email_unverified``), and the first such refusal mails them a
    confirmation link (accounts that predate confirmation never got one). Every share then
    counts against the daily caps per recipient, per account and in all
    (:mod:`carts.share_caps`, 429).

    The mail carries the cart's public link, created here when the cart has none. Addresses
    are de-duplicated case-insensitively. The mails are written to the outbox in one
    transaction and published to the worker after it commits, so the request answers at
    once; a broker that is down leaves them for the scheduler's flush. Returns the number of
    recipients (an address that unsubscribed is counted too, so the sender never learns who
    did). The hourly rate limit is the caller's (per user, ``RATE_SHARE_USER``).
    """
    if not getattr(sender, "email_verified", False):
        email_confirmation_on_refused_share(user=sender)
        logger.info("share_refused_email_unverified", user_id=str(sender.pk))
        raise EmailUnverified(
            "Confirm your email address before sharing by email: we sent you a link. "
            "The share link works without it."
        )
    recipients = list(dict.fromkeys(address.strip().lower() for address in emails if address))
    if not recipients:
        raise ValidationFailed("Give at least one address.", fields={"emails": ["Required."]})
    if len(recipients) > settings.MAX_SHARE_RECIPIENTS:
        text = f"Ensure there are no more than {settings.MAX_SHARE_RECIPIENTS} addresses."
        raise ValidationFailed(text, fields={"emails": [text]})
    message = _clean_field(
        lambda v: clean_input_text(v, max_length=m.NOTE_MAX, multiline=True), message, "message"
    )
    share_mail_caps_take(sender_id=sender.pk, recipients=recipients)
    token, _created = cart_share_link_create(cart=cart)
    rows = membership_rows(user=sender, cart=cart)
    summary = cart_summaries(user=sender, carts=[cart])[cart.pk]
    # The sender's id names the outbox rows, so deleting the account finds them
    # (buyhive.mail.user_data); the rest makes each share's mails its own.
    share_key = f"{sender.pk}.{uuid.uuid4().hex}"

    def work() -> int:
        return share_emails.queue_share_mails(
            cart=cart,
            rows=rows,
            totals=summary.totals_list(),
            sender_name=getattr(sender, "name", "") or "",
            sender_email=getattr(sender, "email", "") or "",
            sender_verified=bool(getattr(sender, "email_verified", False)),
            recipients=recipients,
            message=message,
            link=share_url(token),
            share_key=share_key,
        )

    run_in_transaction(work, label="cart_share_by_email")
    logger.info("cart_shared_by_email", cart_id=str(cart.pk), recipients=len(recipients))
    return len(recipients)
