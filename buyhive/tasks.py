"""Project-wide scheduled chores (the per-app ones live in each app's ``tasks.py``)."""

from __future__ import annotations

from celery import shared_task
from django.core.management import call_command


@shared_task(name="buyhive.clear_sessions")
def clear_sessions() -> None:
    """Django's ``clearsessions``: delete the expired rows of the session store."""
    call_command("clearsessions")
