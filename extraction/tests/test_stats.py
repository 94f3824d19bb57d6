"""Extraction outcomes counted per hour in Redis (the admin dashboard's extraction panel)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.test import override_settings

from extraction.stats import extraction_count, extraction_counts

NOW = datetime(2026, 12, 3, 12, 30, tzinfo=UTC)


def test_counts_add_up_over_the_last_24_hours_only() -> None:
    extraction_count(outcome="ok", llm=True, cached=False, now=NOW)
    extraction_count(outcome="ok", llm=False, cached=True, now=NOW - timedelta(hours=5))
    extraction_count(outcome="partial", llm=True, cached=False, now=NOW - timedelta(hours=23))
    extraction_count(outcome="failed", llm=False, cached=False, now=NOW - timedelta(hours=25))
    counts = extraction_counts(hours=24, now=NOW)
    assert counts == {"total": 3, "ok": 2, "partial": 1, "failed": 0, "llm": 2, "cached": 1}
    assert extraction_counts(hours=48, now=NOW)["failed"] == 1


def test_an_unknown_outcome_is_not_counted() -> None:
    extraction_count(outcome="weird", llm=True, cached=False, now=NOW)
    assert extraction_counts(now=NOW)["total"] == 0
    assert extraction_counts(now=NOW)["llm"] == 0


def test_counting_with_redis_down_never_fails() -> None:
    unreachable = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    with override_settings(CACHES=unreachable):
        extraction_count(outcome="ok", llm=False, cached=False, now=NOW)
        assert extraction_counts(now=NOW)["total"] == 0
