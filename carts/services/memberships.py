"""Putting items in carts and taking them out: the membership writes, the items-per-cart
cap, orphan marks, and moves between carts (``item_set_carts``).

Every write of a membership (``CartItem``) also writes the item's ``cart_ids`` (the read
model of its memberships, see ``carts.models.Item``) in the same transaction, and sets or
clears its ``orphaned_at`` in that same write. Writing the item document is also what
serialises membership changes of one item: two transactions changing its carts both write
it, so the second conflicts and is retried in a fresh snapshot (``buyhive.transactions``).

Every write that changes a cart's answer also drops that cart's view in the same
transaction (``carts.read_model``): the carts whose memberships change, in the write that
stamps their ``updated_at``, and the item's other carts (their answer shows its
``cart_ids``) in the same command.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog
from django.conf import settings
from django.utils import timezone
from pymongo import UpdateOne

from buyhive.exceptions import LimitExceeded, NotFound
from buyhive.transactions import raw_collection, run_in_transaction
from carts.models import Cart, CartItem, Item
from carts.read_model import drop_views, stamp_carts
from carts.services._common import _clean_quantity, resolve_carts

logger = structlog.get_logger(__name__)


def _item_carts_in_snapshot(item: Item) -> list[Any]:
    """The item's ``cart_ids`` as the transaction sees them (NotFound when it was deleted)."""
    row = Item.objects.filter(pk=item.pk).order_by().values_list("cart_ids", flat=True).first()
    if row is None:
        raise NotFound("Item not found.")
    return list(row)


def _swap_item_carts(
    *, item: Item, change: Callable[[list[Any]], list[Any]], now: Any
) -> tuple[list[Any], list[Any]]:
    """Set ``item``'s ``cart_ids`` to ``change(current)``, inside the caller's transaction:
    ``(before, after)``.

    One conditional update on ``{_id, cart_ids: <as the caller read them>}``: no read when
    the item the view read is current (the usual case). When it is not (changed since it was
    read), the current list is read in the transaction's snapshot and the update made again
    on it; a change committed after the snapshot then makes this write conflict, and the
    whole transaction is retried. ``orphaned_at`` goes in the same write: cleared when the
    item is in a cart afterwards, set when it leaves its last one. The write is made even
    when nothing changes, so that the answer is checked against the item as it is.
    """
    current = list(item.cart_ids or [])
    for _attempt in range(2):
        after = change(current)
        orphaned_at = item.orphaned_at
        if after:
            orphaned_at = None
        elif current or orphaned_at is None:
            orphaned_at = now
        collection, session = raw_collection(Item)
        matched = collection.update_one(
            {"_id": item.pk, "cart_ids": current},
            {"$set": {"cart_ids": after, "orphaned_at": orphaned_at}},
            session=session,
        ).matched_count
        if matched:
            item.cart_ids, item.orphaned_at = after, orphaned_at
            return current, after
        current = _item_carts_in_snapshot(item)
    raise NotFound("Item not found.")  # pragma: no cover - a snapshot does not change under us


def pull_cart_from_items(*, cart_id: Any, owner_id: Any, item_ids: Sequence[Any], now: Any) -> None:
    """Take ``cart_id`` out of the ``cart_ids`` of ``item_ids`` (a cart being deleted), and
    stamp ``orphaned_at`` on those left in no cart; inside the caller's transaction.

    The items' other carts show their ``cart_ids``: the views of the owner's carts are
    dropped (one command; which carts those items are in is not read).
    """
    if not item_ids:
        return
    drop_views(owner_ids=[owner_id])
    collection, session = raw_collection(Item)
    ids = list(item_ids)
    collection.update_many({"_id": {"$in": ids}}, {"$pull": {"cart_ids": cart_id}}, session=session)
    collection.update_many(
        {"_id": {"$in": ids}, "cart_ids": {"$size": 0}, "orphaned_at": None},
        {"$set": {"orphaned_at": now}},
        session=session,
    )


def items_refresh_cart_ids(*, item_ids: Sequence[Any]) -> None:
    """Recompute ``cart_ids`` of ``item_ids`` from their memberships (``added_at``, ``_id``
    order), inside the caller's transaction: for a bulk writer of memberships
    (``import_legacy``) that does not go through :func:`_add_membership`. The views of the
    carts those items are in are dropped."""
    ids = list(dict.fromkeys(item_ids))
    if not ids:
        return
    rows = sorted(
        CartItem.objects.filter(item_id__in=ids)
        .order_by()
        .values_list("added_at", "pk", "item_id", "cart_id")
    )
    carts_of: dict[Any, list[Any]] = {pk: [] for pk in ids}
    for _added_at, _pk, item_id, cart_id in rows:
        carts_of[item_id].append(cart_id)
    collection, session = raw_collection(Item)
    collection.bulk_write(
        [UpdateOne({"_id": pk}, {"$set": {"cart_ids": carts}}) for pk, carts in carts_of.items()],
        ordered=False,
        session=session,
    )
    drop_views(cart_ids=[cart_id for carts in carts_of.values() for cart_id in carts])


def _add_membership(
    *,
    cart_id: Any,
    item: Item,
    quantity: int | None,
    note: str | None,
    now: Any,
    in_carts: Sequence[Any] | None = None,
    cart_written: bool = False,
    item_written: bool = False,
) -> tuple[CartItem, bool]:
    """Put ``item`` in cart ``cart_id`` (inside the caller's transaction).

    The caller has checked that the cart is the item owner's (a cart from a selector or
    ``resolve_carts``). Writes the cart first (``updated_at``): concurrent adds to one cart
    then conflict and are retried, so the count below is exact and the cap cannot be
    overshot; a cart deleted meanwhile matches nothing and is a NotFound. Returns
    ``(membership, created)``; an existing membership gets the ``quantity``/``note`` given.
    Every query filters on one indexed field (see ``carts.selectors``).

    Commands (issue 16's budgets): the cart update, which also drops the views of the item's
    other carts (skipped when ``cart_written``: the caller wrote it already, in the same
    transaction); the item's ``cart_ids`` with this cart added
    and ``orphaned_at`` cleared, in one write conditional on the ``cart_ids`` the caller
    read (:func:`_swap_item_carts`), skipped when the caller knows the item's carts
    (``in_carts``: empty for an item created in this transaction) and wrote this cart into
    them already (``item_written``: an item inserted with its carts, a move's single write
    of the item); the count for the cap and the insert, or, when the item is in the cart
    already, the read of that membership (and its update when quantity or note change).
    """
    # The item's other carts show its cart_ids: their views go in the cart's write.
    read_carts = list(in_carts) if in_carts is not None else list(item.cart_ids or [])
    if not cart_written and not stamp_carts(stamped=[cart_id], dropped=read_carts, now=now):
        raise NotFound("Cart not found.")
    if in_carts is None:
        # The item's carts as the caller read them, checked by the write that adds this
        # cart to them (a stale read is re-read in the snapshot): no read of memberships.
        in_carts, _after = _swap_item_carts(
            item=item,
            change=lambda current: current if cart_id in current else [*current, cart_id],
            now=now,
        )
        item_written = True
        unseen = set(in_carts) - set(read_carts)
        if unseen:  # the caller's read was stale: drop the carts it missed
            drop_views(cart_ids=unseen)
    existing = None
    if cart_id in set(in_carts):
        existing = CartItem.objects.filter(cart_id=cart_id, item_id=item.pk).order_by().first()
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
    if not item_written:
        cart_ids = [*dict.fromkeys(in_carts), cart_id]
        Item.objects.filter(pk=item.pk).update(cart_ids=cart_ids, orphaned_at=None)
        item.cart_ids, item.orphaned_at = cart_ids, None
    return membership, True


def item_add_to_cart(
    *, cart: Cart, item: Item, quantity: int | None = None, note: str | None = None
) -> tuple[CartItem, bool]:
    """Put ``item`` in ``cart`` (same owner, else NotFound): ``(membership, created)``."""
    if cart.owner_id != item.owner_id:
        raise NotFound("This item and this cart belong to different users.")
    quantity = _clean_quantity(quantity)
    cart_ids, orphaned_at = list(item.cart_ids or []), item.orphaned_at

    def work() -> tuple[CartItem, bool]:
        item.cart_ids, item.orphaned_at = list(cart_ids), orphaned_at  # as read, on a retry too
        return _add_membership(
            cart_id=cart.pk, item=item, quantity=quantity, note=note, now=timezone.now()
        )

    try:
        return run_in_transaction(work, label="item_add_to_cart")
    except BaseException:
        item.cart_ids, item.orphaned_at = cart_ids, orphaned_at  # nothing was written
        raise


def item_remove_from_cart(*, cart: Cart, item: Item) -> None:
    """Take ``item`` out of ``cart`` (NotFound when it is not in it). The item stays.

    Commands: the item's ``cart_ids`` (and ``orphaned_at`` when it leaves its last cart) in
    one conditional write, the membership's delete, the cart's ``updated_at`` with the
    views of the cart and of the item's other carts dropped.
    """
    cart_ids, orphaned_at = list(item.cart_ids or []), item.orphaned_at

    def work() -> None:
        now = timezone.now()
        item.cart_ids, item.orphaned_at = list(cart_ids), orphaned_at  # as read
        if cart.pk not in item.cart_ids:
            # Perhaps added since the item was read: ask the transaction's snapshot.
            item.cart_ids = _item_carts_in_snapshot(item)
            if cart.pk not in item.cart_ids:
                raise NotFound("This item is not in this cart.")
        before, after = _swap_item_carts(
            item=item, change=lambda current: [c for c in current if c != cart.pk], now=now
        )
        if cart.pk not in before:
            raise NotFound("This item is not in this cart.")
        CartItem.objects.filter(cart_id=cart.pk, item_id=item.pk).delete()
        stamp_carts(stamped=[cart.pk], dropped=after, now=now)

    try:
        run_in_transaction(work, label="item_remove_from_cart")
    except BaseException:
        item.cart_ids, item.orphaned_at = cart_ids, orphaned_at  # nothing was written
        raise


def item_set_carts(*, item: Item, cart_ids: Sequence[Any]) -> list[Cart]:
    """Make ``cart_ids`` exactly the carts ``item`` is in, atomically (moves and copies).

    Removals happen first, then additions in the order given; a cap reached on any cart
    aborts the whole transaction and the item's memberships stay as they were. Unknown or
    foreign ids: 400 on ``cart_ids``, before anything is written. Memberships that stay
    keep their added time, quantity, note and price snapshot.

    Commands (issue 16's budget of 8 for a move, the item's and the carts' reads included):
    the item's new ``cart_ids`` in one conditional write (its current carts are the ones the
    view read, checked by that write: no read of the memberships), the delete of the
    memberships left, one update of every cart concerned, then for each cart joined the count
    for the cap and the insert.
    """
    carts = resolve_carts(owner=item.owner_id, cart_ids=cart_ids)
    target = [cart.pk for cart in carts]
    target_set = set(target)
    read_cart_ids, orphaned_at = list(item.cart_ids or []), item.orphaned_at

    def new_carts(current: list[Any]) -> list[Any]:
        kept = [cart_id for cart_id in current if cart_id in target_set]
        return kept + [cart_id for cart_id in target if cart_id not in set(current)]

    def work() -> list[Cart]:
        now = timezone.now()
        item.cart_ids, item.orphaned_at = list(read_cart_ids), orphaned_at  # as read
        current, _after = _swap_item_carts(item=item, change=new_carts, now=now)
        removed = [cart_id for cart_id in current if cart_id not in target_set]
        added = [cart_id for cart_id in target if cart_id not in set(current)]
        if removed:
            CartItem.objects.filter(item_id=item.pk, cart_id__in=removed).delete()
        touched = removed + added
        kept = [cart_id for cart_id in current if cart_id in target_set]
        # One write stamps every cart concerned; for the added ones it is also what makes
        # concurrent adds conflict before their counts (see ``_add_membership``). The carts
        # the item stays in show its cart_ids: their views are dropped in the same command.
        if touched and not stamp_carts(stamped=touched, dropped=kept, now=now):
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
                item_written=True,
            )
        return carts

    try:
        result = run_in_transaction(work, label="item_set_carts")
    except BaseException:
        item.cart_ids, item.orphaned_at = read_cart_ids, orphaned_at  # nothing was written
        raise
    logger.info("item_carts_set", item_id=str(item.pk), carts=len(result))
    return result
