"""Rate limits on Redis (django-ratelimit), keyed after authentication.

django-ratelimit's decorator runs before DRF authenticates a JWT request, so views call
:func:`enforce` inside the handler, once ``request.user`` is known. Counters live in the
``RATELIMIT_USE_CACHE`` cache (Redis: atomic increments, shared by every worker).

When the cache itself is down the outcome is chosen per call: ``fail_open=False`` (sign-in,
registration, password reset: the default) refuses with 503 rather than let guessing run
unchecked; ``fail_open=True`` (reads, extraction) lets the request through and logs it.

Every counted limit is also *announced* on the response, allowed or refused, with the
IETF fields of draft-ietf-httpapi-ratelimit-headers (draft 11, 2026): one policy per limit
group that the request went through, named after the group::

    RateLimit-Policy: "login-ip";q=20;w=60
    RateLimit: "login-ip";r=17;t=42

``q`` is the quota and ``w`` the window in seconds; ``r`` what is left of the quota in the
current window and ``t`` the seconds until it resets. :func:`enforce` records each count on
the request (:func:`usages_of`) and :class:`buyhive.middleware.RateLimitHeadersMiddleware`
writes the fields, so a 429 carries them next to ``Retry-After``. The values are the same
counters the refusal is decided on, read in the same Redis round trip (no extra command).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any

import structlog
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django_ratelimit.core import _split_rate, get_usage

from buyhive.exceptions import RateLimited, ServiceUnavailable

logger = structlog.get_logger(__name__)

#: Where :func:`enforce` leaves its counts on the (Django) request.
_USAGES_ATTR = "_buyhive_ratelimit_usages"


@dataclass(frozen=True)
class LimitUsage:
    """One limit group's state after this request was counted."""

    group: str
    quota: int
    window: int
    remaining: int
    reset: int


def usages_of(request: HttpRequest | Any) -> list[LimitUsage]:
    """The limits this request was counted against, in the order they were checked."""
    django_request = getattr(request, "_request", request)
    return list(getattr(django_request, _USAGES_ATTR, {}).values())


def _remember(request: HttpRequest, *, group: str, rate: str, usage: dict[str, Any]) -> None:
    quota, window = _split_rate(rate)
    found = LimitUsage(
        group=group,
        quota=int(quota),
        window=int(window),
        remaining=max(0, int(quota) - int(usage["count"])),
        reset=max(0, int(usage.get("time_left") or 0)),
    )
    usages: dict[str, LimitUsage] = getattr(request, _USAGES_ATTR, None) or {}
    usages[group] = found
    setattr(request, _USAGES_ATTR, usages)


def _sf_string(value: str) -> str:
    """A Structured Field string (RFC 8941): quotes and backslashes escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ratelimit_headers(usages: list[LimitUsage]) -> dict[str, str]:
    """``RateLimit-Policy`` and ``RateLimit`` for ``usages`` (empty when there are none)."""
    if not usages:
        return {}
    return {
        "RateLimit-Policy": ", ".join(
            f"{_sf_string(u.group)};q={u.quota};w={u.window}" for u in usages
        ),
        "RateLimit": ", ".join(
            f"{_sf_string(u.group)};r={u.remaining};t={u.reset}" for u in usages
        ),
    }


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
    if usage is not None:
        _remember(django_request, group=group, rate=rate, usage=usage)
    if usage is not None and usage["should_limit"]:
        logger.info("rate_limited", group=group)
        raise RateLimited(retry_after=int(usage.get("time_left") or 60))


def allow(request: HttpRequest | Any, *, group: str, rate: str, key: str) -> bool:
    """Count one hit of ``key`` in ``group``; whether it is still within ``rate``.

    For caps that do not refuse the request but skip a side effect (a mail): a cache
    failure answers False (skip it), never an error.
    """
    if not settings.RATELIMIT_ENABLE:
        return True
    django_request = getattr(request, "_request", request)
    try:
        usage = get_usage(
            django_request, group=group, key=lambda _g, _r: key, rate=rate, increment=True
        )
    except Exception as exc:  # noqa: BLE001 - decide by policy: skip the side effect
        logger.warning("ratelimit_cache_unavailable", group=group, error=type(exc).__name__)
        return False
    if usage is None or (usage["limit"] == 0 and usage["time_left"] == -1):
        return False
    return not usage["should_limit"]


@dataclass(frozen=True)
class FailureThrottle:
    """Growing delays after repeated failures of one account from one client.

    Only failures count (a success forgets them), and they count per *account and client*
    (``key`` = account + :func:`buyhive.client_ip.client_key`), so someone else's wrong
    passwords, from another address, never delay the owner. After ``free`` failures each
    further one makes that pair wait ``base_delay * 2**n`` seconds (at most ``max_delay``)
    before its next attempt: a guessing client slows down geometrically, nobody is blocked
    outright. When one account collects ``account_alarm`` failures across all clients (a
    distributed guess), each client gets only one free failure on it before the delays start;
    a client that has not failed on it (the owner, elsewhere) is not affected.

    Counters live in the default cache (Redis) and are forgotten ``window`` seconds after
    the last failure. ``check`` fails closed (503) when the cache is down, as sign-in does.
    """

    group: str
    free: int = 5
    base_delay: int = 1
    max_delay: int = 900
    account_alarm: int = 20
    window: int = 3600

    @classmethod
    def for_sign_in(cls, group: str) -> FailureThrottle:
        """Wrong passwords of a sign-in form (the API's, the admin's), with settings ``LOGIN_*``."""
        return cls(
            group=group,
            free=settings.LOGIN_FREE_FAILURES,
            max_delay=settings.LOGIN_FAILURE_MAX_DELAY,
            account_alarm=settings.LOGIN_ACCOUNT_ALARM,
        )

    def _keys(self, account: str, client: str) -> tuple[str, str, str]:
        digest = hashlib.sha256(account.encode()).hexdigest()[:32]
        return (
            f"fail:{self.group}:{digest}:{client}",
            f"wait:{self.group}:{digest}:{client}",
            f"fail:{self.group}:{digest}",
        )

    def delay_after(self, failures: int, *, free: int | None = None) -> int:
        """Seconds to wait after the ``failures``-th failure in a row (0: none)."""
        allowed = self.free if free is None else free
        if failures <= allowed:
            return 0
        return int(min(self.max_delay, self.base_delay * 2 ** min(failures - allowed - 1, 30)))

    def check(self, *, account: str, client: str) -> None:
        """Raise :class:`RateLimited` while this pair's delay runs."""
        if not settings.RATELIMIT_ENABLE:
            return
        _, wait_key, _ = self._keys(account, client)
        try:
            until = cache.get(wait_key)
        except Exception as exc:
            logger.warning("failure_throttle_cache_unavailable", group=self.group)
            raise ServiceUnavailable("Temporarily unavailable. Try again shortly.") from exc
        if until is not None:
            remaining = float(until) - time.time()
            if remaining > 0:
                logger.info("failure_throttled", group=self.group)
                raise RateLimited(retry_after=max(1, math.ceil(remaining)))

    def failed(self, *, account: str, client: str) -> int:
        """Record a failure; returns the delay (seconds) it starts for this pair."""
        pair_key, wait_key, account_key = self._keys(account, client)
        try:
            pair = _incr(pair_key, self.window)
            total = _incr(account_key, self.window)
            free = 1 if total >= self.account_alarm else self.free
            delay = self.delay_after(pair, free=free)
            if delay:
                cache.set(wait_key, time.time() + delay, timeout=delay)
        except Exception as exc:  # noqa: BLE001 - the refusal itself still stands
            logger.warning("failure_throttle_cache_unavailable", error=type(exc).__name__)
            return 0
        return delay

    def succeeded(self, *, account: str, client: str) -> None:
        """Forget this pair's failures (the account-wide count stays until it expires)."""
        pair_key, wait_key, _ = self._keys(account, client)
        with contextlib.suppress(Exception):
            cache.delete_many([pair_key, wait_key])


def _incr(key: str, timeout: int) -> int:
    """Atomically add one to ``key`` (created at 1), and keep it ``timeout`` seconds."""
    if cache.add(key, 1, timeout=timeout):
        return 1
    value = int(cache.incr(key))
    cache.touch(key, timeout)
    return value
