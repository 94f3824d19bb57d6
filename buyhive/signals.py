"""Extra fields on django-structlog's one ``request_finished`` line per request."""

from __future__ import annotations

import time
from typing import Any

from django.dispatch import receiver
from django_structlog import signals


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
