"""Creating, renaming and deleting carts (with the carts-per-user cap), and closing an
account's carts after a takeover."""

from __future__ import annotations

import contextlib
from typing import Any

import structlog
from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from buyhive.exceptions import LimitExceeded
from buyhive.transactions import run_in_transaction
from carts import models as m
from carts.models import Cart, CartItem, CartOwner, Item, normalize_cart_name
from carts.services._common import _clean_field, _duplicate_name
from carts.services.memberships import pull_cart_from_items
from carts.validation import clean_cart_name, clean_input_text

logger = structlog.get_logger(__name__)


def _ensure_cart_owner(owner: Any) -> None:
    """Create the owner's ``CartOwner`` row once, outside any transaction.

    A duplicate-key error aborts a MongoDB transaction, so the row is made before it; a
    concurrent creation losing the race is harmless.
    """
    if CartOwner.objects.filter(owner=owner).exists():
        return
    with contextlib.suppress(IntegrityError):
        CartOwner.objects.create(owner=owner)


def cart_create(*, owner: Any, name: Any, description: Any = "") -> Cart:
    """Create a cart. 400 on a duplicate name, 409 past ``MAX_CARTS_PER_USER``."""
    name = _clean_field(clean_cart_name, name, "name")
    description = _clean_field(
        lambda v: clean_input_text(v, max_length=m.CART_DESCRIPTION_MAX, multiline=True),
        description,
        "description",
    )
    key = normalize_cart_name(name)
    _ensure_cart_owner(owner)

    def work() -> Cart:
        now = timezone.now()
        # The serialisation point for the cap (see CartOwner).
        CartOwner.objects.filter(owner=owner).update(touched_at=now)
        cap = settings.MAX_CARTS_PER_USER
        if Cart.objects.filter(owner=owner).count() >= cap:
            raise LimitExceeded(f"You can have at most {cap} carts.")
        if Cart.objects.filter(owner=owner, name_lower=key).exists():
            raise _duplicate_name()
        return Cart.objects.create(
            owner=owner, name=name, description=description, created_at=now, updated_at=now
        )

    try:
        cart = run_in_transaction(work, label="cart_create")
    except IntegrityError as exc:
        raise _duplicate_name() from exc
    logger.info("cart_created", cart_id=str(cart.pk))
    return cart


def cart_update(*, cart: Cart, name: Any = None, description: Any = None) -> Cart:
    """Rename and/or re-describe a cart (``None`` leaves a field as it is)."""
    changed: list[str] = []
    if name is not None:
        name = _clean_field(clean_cart_name, name, "name")
        key = normalize_cart_name(name)
        if (
            key != cart.name_lower
            and Cart.objects.filter(owner_id=cart.owner_id, name_lower=key)
            .exclude(pk=cart.pk)
            .exists()
        ):
            raise _duplicate_name()
        cart.name = name
        changed.append("name")
    if description is not None:
        cart.description = _clean_field(
            lambda v: clean_input_text(v, max_length=m.CART_DESCRIPTION_MAX, multiline=True),
            description,
            "description",
        )
        changed.append("description")
    if not changed:
        return cart
    cart.updated_at = timezone.now()
    try:
        cart.save(update_fields=[*changed, "updated_at"])
    except IntegrityError as exc:
        raise _duplicate_name() from exc
    return cart


def cart_delete(*, cart: Cart) -> None:
    """Delete a cart and its memberships, in one transaction. Its items stay."""

    def work() -> None:
        now = timezone.now()
        item_ids = list(CartItem.objects.filter(cart_id=cart.pk).values_list("item_id", flat=True))
        CartItem.objects.filter(cart_id=cart.pk).delete()
        Cart.objects.filter(pk=cart.pk).delete()
        pull_cart_from_items(cart_id=cart.pk, owner_id=cart.owner_id, item_ids=item_ids, now=now)

    run_in_transaction(work, label="cart_delete")
    logger.info("cart_deleted", cart_id=str(cart.pk))


def carts_close_after_takeover(*, owner: Any) -> dict[str, int]:
    """After a takeover of ``owner``'s account, nothing made before stays public.

    A verified Google sign-in took over an account whose address was never verified
    (``accounts.signals.account_taken_over``): whoever registered it first may have made
    carts and shared them, and a share link keeps showing whatever the real owner adds
    later. Every share link of the account is revoked (the tokens stop working); the carts
    and items stay, as the owner's, and are counted so the sign-in answer can say what was
    already there: ``{"carts", "items", "share_links_revoked"}``.
    """
    revoked = Cart.objects.filter(owner=owner, share_token__isnull=False).update(
        share_token=None, shared_at=None
    )
    summary = {
        "carts": Cart.objects.filter(owner=owner).count(),
        "items": Item.objects.filter(owner=owner).count(),
        "share_links_revoked": revoked,
    }
    logger.warning("carts_closed_after_takeover", user_id=str(owner.pk), **summary)
    return summary


def on_account_taken_over(sender: Any, user: Any, **_: Any) -> dict[str, int]:
    """Receiver of ``accounts.signals.account_taken_over`` (connected in CartsConfig.ready)."""
    return carts_close_after_takeover(owner=user)
