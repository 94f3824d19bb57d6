"""Carts' scheduled work."""

from __future__ import annotations

from datetime import timedelta

from bson import ObjectId
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from carts.models import Item
from carts.services import items_delete_orphans
from carts.watch import services as watch


@shared_task(name="carts.purge_orphan_items")
def purge_orphan_items() -> int:
    """``purge_orphan_items --older-than ORPHAN_ITEMS_MAX_AGE_DAYS``, on the scheduler."""
    cutoff = timezone.now() - timedelta(days=settings.ORPHAN_ITEMS_MAX_AGE_DAYS)
    deleted, _kept = items_delete_orphans(orphaned_before=cutoff)
    return deleted


@shared_task(name="carts.watch_roll_up")
def watch_roll_up() -> dict[str, int]:
    """Roll the price watch's raw observations up into daily points; drop the old raw ones."""
    from carts.watch.services import observations_roll_up

    return observations_roll_up()


@shared_task(name="carts.refresh_rates")
def refresh_rates() -> str | None:
    """Fetch the ECB's daily reference rates (idempotent per publication day)."""
    from carts.watch.rates import rates_refresh

    day = rates_refresh()
    return day.isoformat() if day else None


@shared_task(name="carts.watch_item_saved")
def watch_item_saved(item_id: str) -> None:
    """The first point of a newly saved item's history (``cart_add_item`` sends it)."""
    item = Item.objects.filter(pk=ObjectId(item_id)).first()
    if item is not None:  # deleted since: nothing to record
        watch.item_saved(item=item, created=False)
