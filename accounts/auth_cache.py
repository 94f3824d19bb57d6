"""A short cache of the authenticated user, so that a request costs no database read for it.

Every API request authenticates with a JWT whose user SimpleJWT reads from MongoDB: one
command per request, a third of a cart read's budget (issue 16). The user is cached in Redis
(Django's cache) for at most ``AUTH_USER_CACHE_SECONDS`` (60 s), under a key made of the user
id and a **version**: a random token kept under the user's version key. Every write that must
cut access (a save of the user: deactivation, a password change, any profile change; and
:func:`accounts.tokens.revoke_all_for_user`: logout everywhere, reset, takeover) replaces the
version, so the next request misses and reads the user afresh: immediate. A write that
bypasses both (a raw ``QuerySet.update`` on users) takes effect when the entry expires, within
60 s.

Why a version rather than deleting the entry: a request that read the user just before the
write could store its stale copy just after the delete; with a version, that copy lands under
the old key, which nobody reads any more.

The cache is an optimisation only: when Redis fails, the user is read from the database.
"""

from __future__ import annotations

import secrets
from typing import Any

import structlog
from django.conf import settings
from django.core.cache import cache

logger = structlog.get_logger(__name__)

#: How long the version key lives; far longer than an entry, so a version never comes back.
_VERSION_SECONDS = 24 * 3600


def _version_key(user_id: Any) -> str:
    return f"auth:uv:{user_id}"


def _user_key(user_id: Any, version: str) -> str:
    return f"auth:user:{user_id}:{version}"


def _ttl() -> int:
    return int(settings.AUTH_USER_CACHE_SECONDS)


def cached_user(user_id: Any) -> tuple[Any, str | None]:
    """``(user or None, version)`` for ``user_id``; the version to store a fresh read under.

    The version is None when the cache is unavailable or disabled (then nothing is stored).
    """
    if _ttl() <= 0:
        return None, None
    try:
        version = cache.get(_version_key(user_id))
        if version is None:
            version = secrets.token_hex(8)
            if not cache.add(_version_key(user_id), version, _VERSION_SECONDS):
                version = cache.get(_version_key(user_id))
                if version is None:
                    return None, None
            return None, version
        return cache.get(_user_key(user_id, version)), version
    except Exception:  # noqa: BLE001 - any cache failure means: read the database
        logger.warning("auth_cache_unavailable", exc_info=True)
        return None, None


def remember_user(user: Any, version: str | None) -> None:
    """Keep ``user`` under ``version`` for ``AUTH_USER_CACHE_SECONDS``."""
    if version is None:
        return
    try:
        cache.set(_user_key(user.pk, version), user, _ttl())
    except Exception:  # noqa: BLE001
        logger.warning("auth_cache_unavailable", exc_info=True)


def forget_user(user_id: Any) -> None:
    """Make every cached copy of the user unreachable (a new version): the next request
    reads the user from the database."""
    try:
        cache.set(_version_key(user_id), secrets.token_hex(8), _VERSION_SECONDS)
    except Exception:  # noqa: BLE001
        # Redis is down, so nobody reads entries either; they expire within the TTL.
        logger.warning("auth_cache_unavailable", exc_info=True)


def on_user_saved(sender: Any, instance: Any, **_: Any) -> None:
    """Receiver of ``post_save``/``post_delete`` of the user model (AccountsConfig.ready)."""
    if instance.pk is not None:
        forget_user(instance.pk)
