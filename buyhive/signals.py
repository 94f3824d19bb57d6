"""Extra fields on django-structlog's one ``request_finished`` line per request."""

from __future__ import annotations

import time
from typing import Any

import structlog
from django.dispatch import receiver
from django_structlog import signals

from buyhive.client_ip import get_client_ip


@receiver(signals.bind_extra_request_metadata)
def bind_client_ip(sender: Any, request: Any, logger: Any, log_kwargs: Any, **_: Any) -> None:
    """Log the client address the rate limits use (``buyhive.client_ip``).

    django-structlog's own IP logging (off in settings) asks django-ipware, which takes the
    left-most ``X-Forwarded-For`` entry: a value the client writes itself.
    """
    structlog.contextvars.bind_contextvars(ip=get_client_ip(request))


@receiver(signals.bind_extra_request_finished_metadata)
def add_request_timing(
    sender: Any, request: Any, logger: Any, response: Any, log_kwargs: dict[str, Any], **_: Any
) -> None:
    """Add method, path, status and duration (ms) to the request's log line."""
    started = getattr(request, "started_at", None)
    log_kwargs["method"] = request.method
    log_kwargs["path"] = request.path
    log_kwargs["status"] = response.status_code
    if started is not None:
        log_kwargs["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
