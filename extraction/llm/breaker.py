"""A per-provider circuit breaker whose state every worker shares (Django's cache)."""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Protocol

import structlog
from django.conf import settings

logger = structlog.get_logger(__name__)


class CacheLike(Protocol):
    """The part of Django's cache API the breaker uses."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any, timeout: Any = ...) -> Any: ...

    def add(self, key: str, value: Any, timeout: Any = ...) -> bool: ...

    def incr(self, key: str, delta: int = 1) -> int: ...

    def delete(self, key: str) -> Any: ...


class LocalStore:
    """A tiny in-process cache with the same calls, used when the shared cache errors."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[Any, float]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str) -> tuple[Any, float] | None:
        entry = self._data.get(key)
        if entry is not None and entry[1] <= time.monotonic():
            del self._data[key]
            return None
        return entry

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            entry = self._live(key)
            return default if entry is None else entry[0]

    def set(self, key: str, value: Any, timeout: Any = 300) -> None:
        with self._lock:
            self._data[key] = (value, time.monotonic() + float(timeout))

    def add(self, key: str, value: Any, timeout: Any = 300) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._data[key] = (value, time.monotonic() + float(timeout))
            return True

    def incr(self, key: str, delta: int = 1) -> int:
        with self._lock:
            entry = self._live(key)
            if entry is None:
                raise ValueError(f"Key {key!r} not found")
            value = int(entry[0]) + delta
            self._data[key] = (value, entry[1])
            return value

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)


_LOCAL_STORE = LocalStore()
_cache_warned_at = 0.0


def _default_cache() -> CacheLike:
    from django.core.cache import cache

    return cache  # type: ignore[return-value]


class CircuitBreaker:
    """Per-provider breaker: closed -> open after N consecutive failures -> half-open.

    State lives in the Django cache (Redis in development, CI and production) so every
    gunicorn worker sees the same outage and only one of them sends the half-open probe
    (``cache.add`` is atomic there). If the cache itself errors, the breaker carries on with
    an in-process store (per worker), logging a warning at most once a minute: the breaker then
    protects each worker separately, which is weaker but never blocks extraction.

    Keys, under ``{prefix}:{provider}:``: ``failures`` (consecutive failures, kept for a
    failure window of ``max(60, 5 x reset)`` seconds), ``open_until`` (epoch seconds) and
    ``probe`` (held by the one caller allowed through while half-open). A 429 with a
    ``Retry-After`` opens the breaker at once for that long (at most the reset window), since
    the provider has said when to come back.
    """

    def __init__(
        self,
        *,
        failure_threshold: int = 3,
        reset_seconds: float = 60.0,
        cache: CacheLike | None = None,
        key_prefix: str = "llm:breaker",
        local_store: LocalStore | None = None,
    ) -> None:
        self.failure_threshold = max(1, int(failure_threshold))
        self.reset_seconds = max(0.0, float(reset_seconds))
        self._cache = cache
        self._cache_resolved = cache is not None
        self.key_prefix = key_prefix
        self._local = local_store or _LOCAL_STORE

    @classmethod
    def from_settings(cls) -> CircuitBreaker:
        return cls(
            failure_threshold=int(settings.LLM_BREAKER_FAILURES),
            reset_seconds=float(settings.LLM_BREAKER_RESET_SECONDS),
        )

    # -- storage with fallback ------------------------------------------------------------
    def _store(self) -> CacheLike | None:
        if not self._cache_resolved:
            self._cache_resolved = True
            try:
                self._cache = _default_cache()
            except Exception as exc:  # noqa: BLE001 - no Django cache: use the local store
                self._warn(exc)
                self._cache = None
        return self._cache

    def _warn(self, exc: Exception) -> None:
        global _cache_warned_at
        now = time.monotonic()
        if now - _cache_warned_at >= 60 or _cache_warned_at == 0.0:
            _cache_warned_at = now
            logger.warning("llm.breaker_cache_unavailable", error=f"{type(exc).__name__}: {exc}")

    def _call(self, op: str, *args: Any) -> Any:
        store = self._store()
        if store is not None:
            try:
                return getattr(store, op)(*args)
            except Exception as exc:
                if op == "incr" and isinstance(exc, ValueError) and "not found" in str(exc):
                    raise
                self._warn(exc)
        return getattr(self._local, op)(*args)

    def _key(self, provider: str, part: str) -> str:
        return f"{self.key_prefix}:{provider}:{part}"

    @staticmethod
    def _ttl(seconds: float) -> int:
        return max(1, math.ceil(seconds))

    @property
    def _failure_window(self) -> float:
        return max(60.0, 5 * self.reset_seconds)

    # -- the breaker ----------------------------------------------------------------------
    def state(self, provider: str) -> str:
        """``closed``, ``open`` or ``half_open`` (for logs, readiness and tests)."""
        open_until = self._call("get", self._key(provider, "open_until"))
        if open_until is None:
            return "closed"
        return "open" if time.time() < float(open_until) else "half_open"

    def allow(self, provider: str) -> bool:
        """May a request go to ``provider`` now? In half-open state only one caller gets True."""
        open_until = self._call("get", self._key(provider, "open_until"))
        if open_until is None:
            return True
        if time.time() < float(open_until):
            return False
        probe_ttl = self._ttl(max(self.reset_seconds, 30.0))
        return bool(self._call("add", self._key(provider, "probe"), 1, probe_ttl))

    def record_success(self, provider: str) -> None:
        was_open = self._call("get", self._key(provider, "open_until")) is not None
        for part in ("failures", "open_until", "probe"):
            self._call("delete", self._key(provider, part))
        if was_open:
            logger.info("llm.breaker_closed", provider=provider)

    def record_failure(self, provider: str, *, retry_after: float | None = None) -> None:
        open_key = self._key(provider, "open_until")
        if retry_after is not None and retry_after > 0:
            seconds = min(retry_after, self.reset_seconds) if self.reset_seconds else retry_after
            self._open(provider, seconds, "retry_after")
            return
        if self._call("get", open_key) is not None:  # the half-open probe failed: open again
            self._open(provider, self.reset_seconds, "probe_failed")
            return
        fail_key = self._key(provider, "failures")
        self._call("add", fail_key, 0, self._ttl(self._failure_window))
        try:
            failures = int(self._call("incr", fail_key))
        except ValueError:  # expired between add and incr
            self._call("set", fail_key, 1, self._ttl(self._failure_window))
            failures = 1
        if failures >= self.failure_threshold:
            self._open(provider, self.reset_seconds, f"{failures}_failures")

    def _open(self, provider: str, seconds: float, why: str) -> None:
        until = time.time() + seconds
        ttl = self._ttl(seconds + self._failure_window)
        self._call("set", self._key(provider, "open_until"), until, ttl)
        self._call("delete", self._key(provider, "failures"))
        self._call("delete", self._key(provider, "probe"))
        logger.warning("llm.breaker_opened", provider=provider, seconds=seconds, why=why)
