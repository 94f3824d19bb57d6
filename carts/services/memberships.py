"""Putting items in carts and taking them out: the membership writes, the items-per-cart
cap, orphan marks, and moves between carts (``item_set_carts``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import structlog
from django.conf import settings
from django.utils import timezone

from buyhive.exceptions import LimitExceeded, NotFound
from carts.models import Cart, CartItem, Item
from carts.services._common import _clean_quantity, resolve_carts
from carts.transactions import run_in_transaction

logger = structlog.get_logger(__name__)


def _mark_orphans(item_ids: Iterable[Any], now: Any) -> None:
    """Stamp ``orphaned_at`` on those of ``item_ids`` that are now in no cart."""
    ids = list(dict.fromkeys(item_ids))
    if not ids:
        return
    still_in_a_cart = set(
        CartItem.objects.filter(item_id__in=ids).values_list("item_id", flat=True)
    )
    orphans = [pk for pk in ids if pk not in still_in_a_cart]
    if orphans:
        unmarked = [
            pk
            for pk, orphaned_at in Item.objects.filter(pk__in=orphans).values_list(
                "pk", "orphaned_at"
            )
            if orphaned_at is None
        ]
        if unmarked:
            Item.objects.filter(pk__in=unmarked).update(orphaned_at=now)


def _add_membership(
    *,
    cart_id: Any,
    item: Item,
    quantity: int | None,
    note: str | None,
    now: Any,
    in_carts: Iterable[Any] | None = None,
    cart_written: bool = False,
) -> tuple[CartItem, bool]:
    """Put ``item`` in cart ``cart_id`` (inside the caller's transaction).

    The caller has checked that the cart is the item owner's (a cart from a selector or
    ``resolve_carts``). Writes the cart first (``updated_at``): concurrent adds to one cart
    then conflict and are retried, so the count below is exact and the cap cannot be
    overshot; a cart deleted meanwhile matches nothing and is a NotFound. Returns
    ``(membership, created)``; an existing membership gets the ``quantity``/``note`` given.
    Every query filters on one indexed field (see ``carts.selectors``).

    Commands (issue 16's budgets): the cart update (skipped when ``cart_written``: the caller
    wrote it already, in the same transaction), the read of the item's memberships (skipped
    when the caller knows them: ``in_carts``, the ids of the carts the item is in, empty for
    an item created in this transaction), the count for the cap, the insert, and the item's
    ``orphaned_at`` reset only when it was set.
    """
    if not cart_written and not Cart.objects.filter(pk=cart_id).update(updated_at=now):
        raise NotFound("Cart not found.")
    if in_carts is None or cart_id in set(in_carts):
        existing = next(
            (ms for ms in CartItem.objects.filter(item_id=item.pk) if ms.cart_id == cart_id), None
        )
    else:
        existing = None
    if existing is not None:
        changed = []
        if quantity is not None and existing.quantity != quantity:
            existing.quantity = quantity
            changed.append("quantity")
        if note is not None and existing.note != note:
            existing.note = note
            changed.append("note")
        if changed:
            existing.save(update_fields=changed)
        return existing, False
    cap = settings.MAX_ITEMS_PER_CART
    if CartItem.objects.filter(cart_id=cart_id).count() >= cap:
        name = Cart.objects.filter(pk=cart_id).values_list("name", flat=True).first()
        raise LimitExceeded(f"The cart {name!r} already holds the maximum of {cap} items.")
    membership = CartItem.objects.create(
        cart_id=cart_id,
        item_id=item.pk,
        owner_id=item.owner_id,
        added_at=now,
        quantity=quantity or 1,
        note=note or "",
        price_at_add=item.price,
        currency_at_add=item.currency,
    )
    if item.orphaned_at is not None:
        Item.objects.filter(pk=item.pk).update(orphaned_at=None)
        item.orphaned_at = None
    return membership, True


def item_add_to_cart(
    *, cart: Cart, item: Item, quantity: int | None = None, note: str | None = None
) -> tuple[CartItem, bool]:
    """Put ``item`` in ``cart`` (same owner, else NotFound): ``(membership, created)``."""
    if cart.owner_id != item.owner_id:
        raise NotFound("This item and this cart belong to different users.")
    quantity = _clean_quantity(quantity)

    def work() -> tuple[CartItem, bool]:
        return _add_membership(
            cart_id=cart.pk, item=item, quantity=quantity, note=note, now=timezone.now()
        )

    return run_in_transaction(work, label="item_add_to_cart")


def item_remove_from_cart(*, cart: Cart, item: Item) -> None:
    """Take ``item`` out of ``cart`` (NotFound when it is not in it). The item stays."""

    def work() -> None:
        now = timezone.now()
        memberships = [
            pk
            for pk, cart_id in CartItem.objects.filter(item_id=item.pk).values_list("pk", "cart_id")
            if cart_id == cart.pk
        ]
        if not memberships:
            raise NotFound("This item is not in this cart.")
        CartItem.objects.filter(pk__in=memberships).delete()
        Cart.objects.filter(pk=cart.pk).update(updated_at=now)
        _mark_orphans([item.pk], now)

    run_in_transaction(work, label="item_remove_from_cart")


def item_set_carts(*, item: Item, cart_ids: Sequence[Any]) -> list[Cart]:
    """Make ``cart_ids`` exactly the carts ``item`` is in, atomically (moves and copies).

    Removals happen first, then additions in the order given; a cap reached on any cart
    aborts the whole transaction and the item's memberships stay as they were. Unknown or
    foreign ids: 400 on ``cart_ids``, before anything is written. Memberships that stay
    keep their added time, quantity, note and price snapshot.
    """
    carts = resolve_carts(owner=item.owner_id, cart_ids=cart_ids)
    target = [cart.pk for cart in carts]
    target_set = set(target)

    orphaned_at = item.orphaned_at

    def work() -> list[Cart]:
        now = timezone.now()
        item.orphaned_at = orphaned_at  # as read, also when an aborted attempt is retried
        rows = list(CartItem.objects.filter(item_id=item.pk).values_list("pk", "cart_id"))
        current = {cart_id for _pk, cart_id in rows}
        removed = [(pk, cart_id) for pk, cart_id in rows if cart_id not in target_set]
        added = [cart_id for cart_id in target if cart_id not in current]
        if removed:
            CartItem.objects.filter(pk__in=[pk for pk, _cart_id in removed]).delete()
        touched = [cart_id for _pk, cart_id in removed] + added
        # One write stamps every cart concerned; for the added ones it is also what makes
        # concurrent adds conflict before their counts (see ``_add_membership``).
        if touched and Cart.objects.filter(pk__in=touched).update(updated_at=now) != len(touched):
            raise NotFound("Cart not found.")  # deleted since it was resolved
        for cart_id in added:
            _add_membership(
                cart_id=cart_id,
                item=item,
                quantity=None,
                note=None,
                now=now,
                in_carts=current,
                cart_written=True,
            )
        if not target:
            _mark_orphans([item.pk], now)
        return carts

    result = run_in_transaction(work, label="item_set_carts")
    logger.info("item_carts_set", item_id=str(item.pk), carts=len(result))
    return result
