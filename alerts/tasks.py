"""The alerts app's queued work: evaluation after a change, and the daily digest."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from alerts import emails, services

EVALUATE_TASK = "alerts.evaluate"


@shared_task(name=EVALUATE_TASK)
def evaluate(change: dict[str, Any]) -> int:
    """Evaluate the alert on one changed item, then mail what is due at once.

    Idempotent: a replay makes no second notification (``alert_evaluate``) and no second
    mail (the outbox key), and mails what an interrupted run left unmailed.
    """
    made = services.alert_evaluate(change=change)
    emails.notifications_mail_now(item_id=change.get("item_id"))
    return len(made)


@shared_task(name="alerts.send_daily_digests")
def send_daily_digests() -> int:
    return emails.notifications_send_digests()
