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
write could store its stale copy just after the delete; with a version, that copy carries the
old version, which no request accepts any more. The entry lives under one key per user and
names the version it was read under, so a request reads the version and the entry in **one**
Redis round trip (``MGET``), and takes the entry only when the two versions agree: the
cached read costs one Redis command, where reading the version first, then an entry keyed
by it, cost two (under gunicorn, ``bench/reads.py --profile``: the two Redis waits were ~14 %
of the sampled worker time of the cart read, its two database commands ~19 %).

What is cached is a projection, never the row: the user's fields except ``password`` and
``last_login`` (:data:`CACHED_FIELDS`), and the digest the access token's revocation claim is
compared with (``get_md5_hash_password(password)``, which every access token carries
already). The password hash itself never reaches Redis. The user rebuilt from it is a
Django instance with ``password`` and ``last_login`` deferred: reading either loads it from
the database, and a ``save()`` writes only the loaded fields, so a cached user can never
overwrite the password.

The cache is an optimisation only: when Redis fails, the user is read from the database.

**A second, per-process layer** (``AUTH_USER_LOCAL_SECONDS``, 5 s) sits in front of Redis:
each worker process keeps the entries it read (from Redis or from the database) in memory for
a few seconds, so most requests cost no cache round trip either (``bench/reads.py``: the
Redis ``MGET`` was about a sixth of the cart read's app CPU). What it changes, and why that
is within issue 16's bound (access cut within 60 s):

* a write that cuts access drops the user's copy in the process that made it at once
  (:func:`forget_user`); the other processes keep theirs at most ``AUTH_USER_LOCAL_SECONDS``
  longer, then read Redis (a new version) and the database;
* a change no write path announces is seen when the shared entry would have expired, as
  before: a local copy never outlives ``AUTH_USER_CACHE_SECONDS`` from the moment the user
  was read from the database (or ``AUTH_USER_LOCAL_SECONDS`` when the shared layer is off);
* a copy read before a write in this process and stored after it is never kept: every
  :func:`forget_user` moves a process-wide epoch, and a read stores its copy only when the
  epoch did not move while it read (the race the version closes for the shared layer);
* each request gets its own user instance, rebuilt from the kept fields: a view that changes
  ``request.user`` changes no other request's.

With ``CACHE_BACKEND=mongodb`` (the low-cost stack) the shared layer is off, and the local one
alone spares the user's read on most requests.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any, NamedTuple

import structlog
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS
from rest_framework_simplejwt.utils import get_md5_hash_password

logger = structlog.get_logger(__name__)

#: How long the version key lives; far longer than an entry, so a version never comes back.
_VERSION_SECONDS = 24 * 3600


#: The user's fields kept in the cache: what authentication and the views read, never the
#: password hash (nor ``last_login``, which only the sign-in writes).
CACHED_FIELDS: tuple[str, ...] = (
    "id",
    "email",
    "name",
    "avatar_url",
    "email_verified",
    "is_active",
    "is_staff",
    "is_superuser",
    "date_joined",
    "alert_emails",
)


class CachedUser(NamedTuple):
    """A cache hit: the user rebuilt from :data:`CACHED_FIELDS`, and the digest the access
    token's revocation claim must equal (``get_md5_hash_password(user.password)``)."""

    user: Any
    revoke_claim: str


def _version_key(user_id: Any) -> str:
    return f"auth:uv:{user_id}"


def _user_key(user_id: Any) -> str:
    return f"auth:user:{user_id}:entry"


def _ttl() -> int:
    return int(settings.AUTH_USER_CACHE_SECONDS)


# -- the per-process layer ------------------------------------------------------------------
#: At most this many users are kept per process (the oldest copy goes first).
LOCAL_MAX_USERS = 10_000

#: user id (str) -> (kept until, wall clock; the entry as stored in Redis)
_local: dict[str, tuple[float, dict[str, Any]]] = {}
_local_lock = threading.Lock()
#: Moves on every :func:`forget_user` in this process (see the module's docstring).
_local_epoch = 0
#: The clock of the local layer (wall time: an entry's ``read_at`` crosses processes).
_now = time.time


def _local_ttl() -> int:
    return int(settings.AUTH_USER_LOCAL_SECONDS)


def local_epoch() -> int:
    """Read before the user is looked up; handed back to :func:`remember_user`."""
    return _local_epoch


def local_user(user_id: Any) -> CachedUser | None:
    """The user as this process kept it, while it may still be served; else None."""
    if _local_ttl() <= 0:
        return None
    kept = _local.get(str(user_id))
    if kept is None:
        return None
    until, entry = kept
    if _now() >= until:
        return None
    return _rebuild(entry)


def _keep_locally(user_id: Any, entry: dict[str, Any], epoch: int) -> None:
    """Keep ``entry`` in this process, unless a :func:`forget_user` ran since ``epoch``."""
    local_ttl = _local_ttl()
    if local_ttl <= 0 or not isinstance(entry.get("read_at"), (int, float)):
        return
    # Never longer than the shared entry would have lived from the database read.
    shared = _ttl()
    bound = shared if shared > 0 else local_ttl
    until = min(_now() + local_ttl, float(entry["read_at"]) + bound)
    key = str(user_id)
    with _local_lock:
        if epoch != _local_epoch:
            return  # a write in this process since the read: the copy may be stale
        _local.pop(key, None)  # re-inserted last: the oldest copies are at the front
        while len(_local) >= LOCAL_MAX_USERS:
            del _local[next(iter(_local))]
        _local[key] = (until, entry)


def clear_local() -> None:
    """Forget every user this process kept (tests; a settings change)."""
    global _local_epoch
    with _local_lock:
        _local.clear()
        _local_epoch += 1


def cached_user(user_id: Any, epoch: int | None = None) -> tuple[CachedUser | None, str | None]:
    """``(hit or None, version)`` for ``user_id`` from the shared layer; the version to store
    a fresh read under. A hit is also kept in this process when ``epoch`` (from
    :func:`local_epoch`, read before the lookup) is given.

    The version is None when the cache is unavailable or disabled (then nothing is stored).
    """
    if _ttl() <= 0:
        return None, None
    try:
        version_key, user_key = _version_key(user_id), _user_key(user_id)
        found = cache.get_many([version_key, user_key])  # one round trip (MGET)
        version = found.get(version_key)
        if version is None:
            version = secrets.token_hex(8)
            if not cache.add(version_key, version, _VERSION_SECONDS):
                version = cache.get(version_key)
                if version is None:
                    return None, None
            return None, version
        entry = found.get(user_key)
        if not isinstance(entry, dict) or entry.get("version") != version:
            return None, version  # none yet, or read before the last write: read afresh
        hit = _rebuild(entry)
        if hit is not None and epoch is not None:
            _keep_locally(user_id, entry, epoch)
        return hit, version
    except Exception:  # noqa: BLE001 - any cache failure means: read the database
        logger.warning("auth_cache_unavailable", exc_info=True)
        return None, None


def _entry(user: Any, version: str) -> dict[str, Any]:
    """What is stored for ``user`` read under ``version``: :data:`CACHED_FIELDS` and the
    revocation digest."""
    return {
        "version": version,
        "fields": {name: getattr(user, name) for name in CACHED_FIELDS},
        "revoke_claim": get_md5_hash_password(user.password),
        "read_at": _now(),  # when the user was read from the database
    }


def _rebuild(entry: Any) -> CachedUser | None:
    """The user of a stored entry, with the fields not cached deferred (None when the entry
    is missing or of another shape, e.g. written by an older release)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("fields"), dict):
        return None
    fields = entry["fields"]
    if set(fields) != set(CACHED_FIELDS) or not isinstance(entry.get("revoke_claim"), str):
        return None
    model = get_user_model()
    # ``from_db`` takes the values in the model's field order.
    names = [f.attname for f in model._meta.concrete_fields if f.attname in fields]
    user = model.from_db(DEFAULT_DB_ALIAS, names, [fields[name] for name in names])
    return CachedUser(user, entry["revoke_claim"])


def remember_user(user: Any, version: str | None, epoch: int | None = None) -> None:
    """Keep ``user``'s projection under ``version`` for ``AUTH_USER_CACHE_SECONDS``, and in
    this process when ``epoch`` (from :func:`local_epoch`, read before the user) is given."""
    if version is None and (epoch is None or _local_ttl() <= 0):
        return
    entry = _entry(user, version or "")
    if epoch is not None:
        _keep_locally(user.pk, entry, epoch)
    if version is None:
        return
    try:
        cache.set(_user_key(user.pk), entry, _ttl())
    except Exception:  # noqa: BLE001
        logger.warning("auth_cache_unavailable", exc_info=True)


def forget_user(user_id: Any) -> None:
    """Make every cached copy of the user unreachable (a new version): the next request
    reads the user from the database. This process's copy goes at once; the other
    processes' within ``AUTH_USER_LOCAL_SECONDS``."""
    global _local_epoch
    with _local_lock:
        _local_epoch += 1
        _local.pop(str(user_id), None)
    try:
        cache.set(_version_key(user_id), secrets.token_hex(8), _VERSION_SECONDS)
    except Exception:  # noqa: BLE001
        # Redis is down, so nobody reads entries either; they expire within the TTL.
        logger.warning("auth_cache_unavailable", exc_info=True)


def on_user_saved(sender: Any, instance: Any, **_: Any) -> None:
    """Receiver of ``post_save``/``post_delete`` of the user model (AccountsConfig.ready)."""
    if instance.pk is not None:
        forget_user(instance.pk)
