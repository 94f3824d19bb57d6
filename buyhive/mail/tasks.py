"""The mail tasks: deliver one outbox row, and the scheduler's outbox chores."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from buyhive.mail import services

#: Backoff between delivery attempts: 30 s, 60 s, 120 s ... at most 15 min (SQS's longest delay).
_BACKOFF_BASE_S = 30
_BACKOFF_MAX_S = 900


@shared_task(name=services.DELIVER_TASK, bind=True, max_retries=None)
def deliver(self: Any, mail_id: str) -> str:
    """Send one mail at most once however often this task is delivered (see services.deliver)."""
    try:
        return services.deliver(mail_id=mail_id)
    except services.DeliveryFailed as exc:
        countdown = min(_BACKOFF_MAX_S, _BACKOFF_BASE_S * 2 ** max(0, exc.attempts - 1))
        raise self.retry(countdown=countdown, exc=exc) from exc


@shared_task(name="buyhive.mail.flush_outbox")
def flush_outbox() -> int:
    return services.flush_outbox()


@shared_task(name="buyhive.mail.purge_sent")
def purge_sent() -> int:
    return services.purge_sent()
