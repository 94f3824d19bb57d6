"""Carts' scheduled work."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from carts.services import items_delete_orphans


@shared_task(name="carts.purge_orphan_items")
def purge_orphan_items() -> int:
    """``purge_orphan_items --older-than ORPHAN_ITEMS_MAX_AGE_DAYS``, on the scheduler."""
    cutoff = timezone.now() - timedelta(days=settings.ORPHAN_ITEMS_MAX_AGE_DAYS)
    deleted, _kept = items_delete_orphans(orphaned_before=cutoff)
    return deleted
