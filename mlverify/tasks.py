"""mlverify's periodic work, run by the task-queue worker (``CELERY_BEAT_SCHEDULE``)."""

from __future__ import annotations

from celery import shared_task

from mlverify.services import page_samples_purge


@shared_task(name="mlverify.purge_page_samples")
def purge_page_samples() -> int:
    """Delete the shared pages no one labelled within ``PAGE_SAMPLE_KEEP_DAYS``."""
    return page_samples_purge()
