"""Liveness (``/health``) and readiness (``/ready``).

``/health`` touches nothing but the process, so a container or load-balancer probe never
fails because of a dependency. ``/ready`` checks each dependency and says what it found:
the database decides (503 when it does not answer a ping); the cache and the task broker
only degrade; models and the LLM are optional and only reported: their apps register those
checks in :mod:`buyhive.registries`, so this module imports neither. One exception: while a
registered check says ``warming`` (the worker is still loading its models at start-up), the
answer is 503 with status ``warming``, so no request routed by readiness pays for a load; it
ends when the warm-up does, whether the models loaded or turned out unavailable. Details go
only to callers allowed to see them (:func:`shows_details`).
"""

from __future__ import annotations

import hmac
import time
from typing import Any

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from buyhive import registries

logger = structlog.get_logger(__name__)


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        connection = connections["default"]
        connection.ensure_connection()
        connection.connection.admin.command("ping")  # type: ignore[union-attr]
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        logger.warning("ready_database_down", error=type(exc).__name__)
        return {
            "status": "down",
            "reason": f"database did not answer a ping ({type(exc).__name__})",
        }
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _check_cache() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        cache.set("ready:probe", "1", 10)
        if cache.get("ready:probe") != "1":
            raise RuntimeError("cache did not return what was written")
    except Exception as exc:  # noqa: BLE001
        logger.warning("ready_cache_degraded", error=type(exc).__name__)
        return {"status": "degraded", "reason": f"cache unavailable ({type(exc).__name__})"}
    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return {
        "status": "ok",
        "backend": backend,
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
    }


def check_broker() -> dict[str, Any]:
    """The task queue's broker (Redis locally, SQS in production) and its queue's depth.

    Only degrades ``/ready``: with the queue down the web service still answers (mail waits
    in the outbox, docs/reliability.md), so taking it out of rotation would be worse.
    """
    from buyhive.celery import app

    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    started = time.perf_counter()
    try:
        with app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=2)
            # kombu's virtual channels (Redis, SQS) count a queue's waiting messages here:
            # LLEN on Redis, ApproximateNumberOfMessages on SQS.
            depth = int(connection.default_channel._size(queue))
            transport = connection.transport.driver_type
    except Exception as exc:  # noqa: BLE001 - any failure means the queue is unavailable
        logger.warning("ready_broker_degraded", error=type(exc).__name__)
        return {"status": "degraded", "reason": f"task broker unavailable ({type(exc).__name__})"}
    return {
        "status": "ok",
        "transport": transport,
        "queue": queue,
        "depth": depth,
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
    }


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    checks = {
        "database": _check_database(),
        "cache": _check_cache(),
        "broker": check_broker(),
        # The optional components (models, LLM), registered by their apps at start-up.
        **registries.run_readiness_checks(),
    }
    warming = any(check.get("status") == "warming" for check in checks.values())
    is_ready = checks["database"]["status"] == "ok" and not warming
    if checks["database"]["status"] != "ok":
        status = "unavailable"
    elif warming:
        status = "warming"
    elif checks["cache"]["status"] != "ok" or checks["broker"]["status"] != "ok":
        status = "degraded"
    else:
        status = "ok"
    if not shows_details(request):
        checks = {name: {"status": check["status"]} for name, check in checks.items()}
    return JsonResponse({"status": status, "checks": checks}, status=200 if is_ready else 503)


def shows_details(request: HttpRequest) -> bool:
    """Whether this caller may see each check's detail (models, LLM, latencies, reasons).

    Local settings show them to everyone (``READY_DETAILS_PUBLIC``); production only to a
    caller presenting ``READY_DETAIL_TOKEN`` in ``X-Ready-Token`` (compared in constant time;
    an unset token shows nothing). Anyone else gets each check's status only: which
    models are loaded and which LLM is configured is a map for an attacker.
    """
    if settings.READY_DETAILS_PUBLIC:
        return True
    expected = settings.READY_DETAIL_TOKEN
    given = request.headers.get("X-Ready-Token", "")
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())
