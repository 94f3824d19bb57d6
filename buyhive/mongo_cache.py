"""Django's cache in a MongoDB collection, for deployments without Redis.

``CACHE_BACKEND=mongodb`` selects it. The cheapest configuration (docs/deploy.md) has no
ElastiCache: the rate-limit counters, the auth cache, the Google keys and the extraction and
model caches then live in the database the app already talks to. django-mongodb-backend
5.2.4 ships no cache backend (the ``MongoDBCache`` of its earlier betas is not in it), and
Django's own ``DatabaseCache`` needs SQL, so this is ours. What it must get right is what
django-ratelimit, ``buyhive.ratelimit`` and ``carts.share_caps`` rely on:

* ``add`` is atomic: an upsert whose filter only matches an *expired* entry, so a live entry
  makes the insert collide on ``_id`` (``DuplicateKeyError``: not added). Two racing adds of a
  missing key: one inserts, the other collides.
* ``incr``/``decr`` are atomic: one ``findAndModify`` with ``$inc`` on a live entry, the
  server's own read-modify-write (never read, add, write back). Integers are stored as BSON
  integers for that reason; everything else is pickled.
* Expiry is exact: every read checks ``e > now`` (reads in Python after an exact-``_id``
  lookup; ``incr``, ``touch`` and ``add`` in their filters); the TTL index on ``e`` only
  reclaims the space later (MongoDB's TTL monitor runs about once a minute).

Each call is one database command (``get_many``, ``set_many``, ``delete_many`` too). The
collection and its TTL index are made by ``migrate`` (a ``post_migrate`` receiver) or
``manage.py createcachecollection``. Entries are written outside any transaction the request
may be in, as Redis writes were.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, cast

from bson import Binary, Int64
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.db import connections
from pymongo import ReturnDocument, UpdateOne
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError, OperationFailure

#: "Never expires": far enough for the TTL monitor never to reach it.
_NEVER = datetime(9999, 12, 31, tzinfo=UTC)


def _encode(value: Any) -> Any:
    # type() rather than isinstance(): True stays a pickled bool, not the integer 1.
    if type(value) is int and -(2**63) <= value < 2**63:
        return Int64(value)
    return Binary(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))


def _decode(stored: Any) -> Any:
    if isinstance(stored, bytes):
        return pickle.loads(stored)  # noqa: S301 - only this backend writes the collection
    return int(stored)


class MongoCache(BaseCache):
    """``CACHES`` backend: ``LOCATION`` is the collection; ``OPTIONS["DATABASE"]`` the alias."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.collection_name = location or "django_cache"
        self.alias = params.get("OPTIONS", {}).get("DATABASE", "default")

    @property
    def collection(self) -> Collection[dict[str, Any]]:
        # The ORM's shared MongoClient (one pool per process), without its debug wrapper.
        return cast(Any, connections[self.alias]).database[self.collection_name]

    def create_collection(self) -> bool:
        """The collection and its TTL index (idempotent); True when the collection was new."""
        database = cast(Any, connections[self.alias]).database
        created = self.collection_name not in database.list_collection_names(
            filter={"name": self.collection_name}
        )
        if created:
            database.create_collection(self.collection_name)
        self.collection.create_index("e", expireAfterSeconds=0, name="expires_ttl")
        return created

    # ----------------------------------------------------------------------------------------

    def _expiry(self, timeout: float | object | None) -> datetime:
        at = self.get_backend_timeout(cast(float | None, timeout))
        return _NEVER if at is None else datetime.fromtimestamp(at, tz=UTC)

    @staticmethod
    def _live() -> dict[str, Any]:
        return {"e": {"$gt": datetime.now(UTC)}}

    # Reads select by _id alone and check the expiry here: the same one command, and an
    # exact-_id lookup is the fastest query any server has (on SecantusDB 0.24 ms against
    # 3.1 ms with the expiry in the filter, on the development machine).

    @staticmethod
    def _is_live(row: dict[str, Any] | None) -> bool:
        if row is None:
            return False
        expires = row["e"]
        if expires.tzinfo is None:  # pymongo hands back naive UTC unless tz_aware
            expires = expires.replace(tzinfo=UTC)
        return bool(expires > datetime.now(UTC))

    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        key = self.make_and_validate_key(key, version=version)
        row = self.collection.find_one({"_id": key}, {"v": 1, "e": 1})
        return _decode(row["v"]) if row is not None and self._is_live(row) else default

    def get_many(self, keys: Iterable[str], version: int | None = None) -> dict[str, Any]:
        by_key = {self.make_and_validate_key(k, version=version): k for k in keys}
        if not by_key:
            return {}
        rows = self.collection.find({"_id": {"$in": list(by_key)}}, {"v": 1, "e": 1})
        return {by_key[row["_id"]]: _decode(row["v"]) for row in rows if self._is_live(row)}

    def has_key(self, key: str, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return self._is_live(self.collection.find_one({"_id": key}, {"e": 1}))

    def set(
        self,
        key: str,
        value: Any,
        timeout: float | object | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> None:
        key = self.make_and_validate_key(key, version=version)
        self.collection.update_one(
            {"_id": key}, {"$set": {"v": _encode(value), "e": self._expiry(timeout)}}, upsert=True
        )

    def set_many(
        self,
        data: dict[str, Any],
        timeout: float | object | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> list[str]:
        if not data:
            return []
        expiry = self._expiry(timeout)
        writes = [
            UpdateOne(
                {"_id": self.make_and_validate_key(k, version=version)},
                {"$set": {"v": _encode(v), "e": expiry}},
                upsert=True,
            )
            for k, v in data.items()
        ]
        self.collection.bulk_write(writes, ordered=False)
        return []

    def add(
        self,
        key: str,
        value: Any,
        timeout: float | object | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> bool:
        """Store ``value`` only if ``key`` has no live entry; atomic (see the module)."""
        key = self.make_and_validate_key(key, version=version)
        try:
            self.collection.update_one(
                {"_id": key, "e": {"$lte": datetime.now(UTC)}},
                {"$set": {"v": _encode(value), "e": self._expiry(timeout)}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return True

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        """Add ``delta`` to a live integer entry in one atomic command; ValueError if absent."""
        key = self.make_and_validate_key(key, version=version)
        try:
            row = self.collection.find_one_and_update(
                {"_id": key, **self._live()},
                {"$inc": {"v": Int64(delta)}},
                projection={"v": 1},
                return_document=ReturnDocument.AFTER,
            )
        except OperationFailure as exc:  # $inc on a pickled (non-numeric) value
            raise TypeError(f"cache value of {key!r} is not an integer") from exc
        if row is None:
            raise ValueError(f"Key {key!r} not found.")
        return int(row["v"])

    def decr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        return self.incr(key, -delta, version=version)

    def touch(
        self, key: str, timeout: float | object | None = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        key = self.make_and_validate_key(key, version=version)
        result = self.collection.update_one(
            {"_id": key, **self._live()}, {"$set": {"e": self._expiry(timeout)}}
        )
        return result.matched_count > 0

    def delete(self, key: str, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return self.collection.delete_one({"_id": key}).deleted_count > 0

    def delete_many(self, keys: Iterable[str], version: int | None = None) -> None:
        names = [self.make_and_validate_key(k, version=version) for k in keys]
        if names:
            self.collection.delete_many({"_id": {"$in": names}})

    def clear(self) -> None:
        self.collection.delete_many({})

    def close(self, **kwargs: Any) -> None:
        """Nothing to close: the client is the ORM's pool."""


def mongo_caches() -> list[MongoCache]:
    """Every configured cache that is a :class:`MongoCache`."""
    from django.conf import settings
    from django.core.cache import caches

    return [cache for alias in settings.CACHES if isinstance(cache := caches[alias], MongoCache)]
