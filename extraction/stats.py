"""Extraction outcomes of the last hours, counted in Redis for the admin dashboard.

Extractions are not stored (the answer is cached, the product saved as an item only when a
cart is named), and CloudWatch metrics (:func:`buyhive.metrics.record_extraction`) are not
readable from the admin. So each extraction also adds one to a Redis hash per hour,
``extract-outcomes:<YYYYMMDDHH>`` (UTC), fields:

* ``ok`` / ``partial`` / ``failed``: the outcome (a title and a price / something / nothing),
* ``llm``: the LLM filled at least one field,
* ``cached``: answered from the extraction cache (counted in its outcome too).

One pipelined round trip per extraction (``HINCRBY`` and ``EXPIRE``), one to read the last 24
hours (24 ``HGETALL``). Hashes expire after :data:`KEEP_HOURS`. Counting never fails an
extraction: a Redis error is logged and the count is lost, which a dashboard can live with.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from django.core.cache import cache

logger = structlog.get_logger(__name__)

OUTCOMES = ("ok", "partial", "failed")
FIELDS = (*OUTCOMES, "llm", "cached")
KEEP_HOURS = 26


def _key(hour: datetime) -> str:
    return str(cache.make_key(f"extract-outcomes:{hour:%Y%m%d%H}"))


def _redis() -> Any:
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def extraction_count(*, outcome: str, llm: bool, cached: bool, now: datetime | None = None) -> None:
    """Count one extraction in the current hour's hash."""
    if outcome not in OUTCOMES:
        return
    key = _key(now or datetime.now(UTC))
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.hincrby(key, outcome, 1)
        if llm:
            pipe.hincrby(key, "llm", 1)
        if cached:
            pipe.hincrby(key, "cached", 1)
        pipe.expire(key, KEEP_HOURS * 3600)
        pipe.execute()
    except Exception as exc:  # noqa: BLE001 - a lost count never fails an extraction
        logger.warning("extraction_count_failed", error=type(exc).__name__)


def extraction_counts(*, hours: int = 24, now: datetime | None = None) -> dict[str, int]:
    """``{"total", "ok", "partial", "failed", "llm", "cached"}`` over the last ``hours``."""
    end = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    keys = [_key(end - timedelta(hours=back)) for back in range(hours)]
    totals = dict.fromkeys(FIELDS, 0)
    try:
        pipe = _redis().pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        for found in pipe.execute():
            for field, value in (found or {}).items():
                name = field.decode() if isinstance(field, bytes) else str(field)
                if name in totals:
                    totals[name] += int(value)
    except Exception as exc:  # noqa: BLE001 - the dashboard shows zeros, never a 500
        logger.warning("extraction_counts_unavailable", error=type(exc).__name__)
    totals["total"] = sum(totals[name] for name in OUTCOMES)
    return totals
