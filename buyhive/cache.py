"""Cache calls that never fail a request: an outage costs speed, not the answer.

Extraction results, model scores and embeddings are only ever an optimisation, so every read
or write of them goes through :func:`cache_get` / :func:`cache_set`: a Redis outage is
logged (the error type, not a traceback: it is an outage, not a bug) and treated as a miss.
Rate-limit counters are *not* optional and do not use this (see ``buyhive.ratelimit``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from django.core.cache import cache

logger = structlog.get_logger(__name__)


def cache_get(key: str, *, backend: Any = None, event: str = "cache_get_failed") -> Any:
    """``backend.get(key)`` (Django's default cache), or None when the cache is unavailable."""
    try:
        return (cache if backend is None else backend).get(key)
    except Exception as exc:  # noqa: BLE001 - any cache failure is a miss
        logger.warning(event, error=type(exc).__name__)
        return None


def cache_set(
    key: str,
    value: Any,
    timeout: float | None,
    *,
    backend: Any = None,
    event: str = "cache_set_failed",
) -> None:
    """``backend.set(key, value, timeout)``; a cache outage is logged and ignored."""
    try:
        (cache if backend is None else backend).set(key, value, timeout)
    except Exception as exc:  # noqa: BLE001
        logger.warning(event, error=type(exc).__name__)


def cache_get_many(
    keys: Sequence[str], *, backend: Any = None, event: str = "cache_get_failed"
) -> dict[str, Any]:
    """``backend.get_many(keys)`` (one round trip on Redis, one command on the MongoDB cache):
    the keys found; an outage is logged and finds none."""
    try:
        return dict((cache if backend is None else backend).get_many(list(keys)))
    except Exception as exc:  # noqa: BLE001 - any cache failure is a miss
        logger.warning(event, error=type(exc).__name__)
        return {}


def cache_set_many(
    values: Mapping[str, Any],
    timeout: float | None,
    *,
    backend: Any = None,
    event: str = "cache_set_failed",
) -> None:
    """``backend.set_many(values, timeout)``; a cache outage is logged and ignored."""
    if not values:
        return
    try:
        (cache if backend is None else backend).set_many(dict(values), timeout)
    except Exception as exc:  # noqa: BLE001
        logger.warning(event, error=type(exc).__name__)
