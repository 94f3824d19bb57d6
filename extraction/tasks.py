"""Extraction's scheduled work."""

from __future__ import annotations

from celery import shared_task

from extraction.learning.services import learning_records_purge


@shared_task(name="extraction.purge_learning_records")
def purge_learning_records() -> int:
    """Delete the items' candidate records past their 14 days (extraction.learning)."""
    return learning_records_purge()
