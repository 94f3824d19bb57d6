"""Rate limits on Redis (django-ratelimit), keyed after authentication.

django-ratelimit's decorator runs before DRF authenticates a JWT request, so views call
:func:`enforce` inside the handler, once ``request.user`` is known. Counters live in the
``RATELIMIT_USE_CACHE`` cache (Redis: atomic increments, shared by every worker).

When the cache itself is down the outcome is chosen per call: ``fail_open=False`` (sign-in,
registration, password reset: the default) refuses with 503 rather than let guessing run
unchecked; ``fail_open=True`` (reads, extraction) lets the request through and logs it.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from buyhive.exceptions import RateLimited, ServiceUnavailable

logger = structlog.get_logger(__name__)


def enforce(
    request: HttpRequest | Any,
    *,
    group: str,
    rate: str,
    key: str,
    fail_open: bool = False,
) -> None:
    """Count one hit of ``key`` in ``group``; raise :class:`RateLimited` past ``rate``.

    ``key`` is the value limited on: ``"ip:<client ip>"``, ``"user:<id>"``,
    ``"email:<address>"``. ``rate`` is django-ratelimit's ``"count/period"``.
    """
    if not settings.RATELIMIT_ENABLE:
        return
    django_request = getattr(request, "_request", request)
    try:
        usage = get_usage(
            django_request,
            group=group,
            key=lambda _group, _request: key,
            rate=rate,
            increment=True,
        )
        if usage is not None and usage["limit"] == 0 and usage["time_left"] == -1:
            # django-ratelimit's answer when the cache returned no count.
            raise ConnectionError("rate-limit cache returned no count")
    except Exception as exc:  # noqa: BLE001 - any cache failure decides by policy
        logger.warning("ratelimit_cache_unavailable", group=group, error=type(exc).__name__)
        if fail_open:
            return
        raise ServiceUnavailable("Temporarily unavailable. Try again shortly.") from exc
    if usage is not None and usage["should_limit"]:
        logger.info("rate_limited", group=group)
        raise RateLimited(retry_after=int(usage.get("time_left") or 60))
