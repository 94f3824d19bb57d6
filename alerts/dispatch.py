"""Hands alert evaluation to the worker: one ``alerts.evaluate`` task per changed item."""

from __future__ import annotations

from typing import Any

import structlog

logger = structlog.get_logger(__name__)


def evaluate_later(changes: list[dict[str, Any]]) -> None:
    """Publish the evaluations; never raises.

    The change is already written when this runs (carts announces after its transaction), so
    a broker that is down must not fail the user's request: the evaluation then runs here, in
    the request, which is slower but loses nothing (the mail itself still goes through the
    outbox, which the scheduler flushes when the broker is back).
    """
    from alerts import tasks

    for change in changes:
        try:
            tasks.evaluate.apply_async(kwargs={"change": change})
        except Exception as exc:  # noqa: BLE001 - any broker failure degrades the same way
            logger.warning("alert_enqueue_failed", error=type(exc).__name__)
            tasks.evaluate(change)
