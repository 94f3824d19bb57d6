"""Maintenance writes: deleting items that are in no cart (``purge_orphan_items``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

from buyhive.transactions import run_in_transaction
from carts.models import CartItem, Item

logger = structlog.get_logger(__name__)


def items_delete_orphans(
    *,
    item_ids: Sequence[Any] | None = None,
    orphaned_before: Any = None,
    dry_run: bool = False,
    batch_size: int = 500,
) -> tuple[int, int]:
    """Delete items that are in no cart: ``(deleted, kept)``.

    Candidates are ``item_ids`` (the admin action), or the items orphaned before
    ``orphaned_before`` (``purge_orphan_items``, on the ``carts_item_orphaned`` index). Each
    batch re-checks the memberships inside its transaction, so an item put back in a cart
    meanwhile is kept. ``dry_run`` counts without deleting.
    """
    if item_ids is not None:
        candidates = list(dict.fromkeys(item_ids))
    elif orphaned_before is not None:
        candidates = list(
            Item.objects.filter(orphaned_at__lt=orphaned_before)
            .order_by("orphaned_at")
            .values_list("pk", flat=True)
        )
    else:
        raise ValueError("Give item_ids or orphaned_before.")
    deleted = kept = 0
    for start in range(0, len(candidates), batch_size):
        batch = candidates[start : start + batch_size]

        def work(batch: list[Any] = batch) -> tuple[int, int]:
            in_a_cart = set(
                CartItem.objects.filter(item_id__in=batch).values_list("item_id", flat=True)
            )
            orphans = [pk for pk in batch if pk not in in_a_cart]
            if orphans and not dry_run:
                Item.objects.filter(pk__in=orphans).delete()
            return len(orphans), len(batch) - len(orphans)

        batch_deleted, batch_kept = run_in_transaction(work, label="items_delete_orphans")
        deleted += batch_deleted
        kept += batch_kept
    if not dry_run:
        logger.info("orphan_items_deleted", deleted=deleted, kept=kept)
    return deleted, kept
