"""The MongoDB cache (``CACHE_BACKEND=mongodb``) against the real embedded database.

What the rate limits and caps rely on is checked under real concurrency: threads, each with
its own Django connection, racing ``add`` and ``incr`` on one key, and django-ratelimit's own
``get_usage`` through ``buyhive.ratelimit.enforce`` letting exactly the rate through.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connections
from django.test import RequestFactory, override_settings

from buyhive.exceptions import RateLimited
from buyhive.mongo_cache import MongoCache
from buyhive.ratelimit import enforce
from buyhive.tests.test_production_settings import production_env, run_python

pytestmark = pytest.mark.django_db(transaction=True)

COLLECTION = "test_django_cache"
MONGO_CACHES = {
    "default": {
        "BACKEND": "buyhive.mongo_cache.MongoCache",
        "LOCATION": COLLECTION,
        "KEY_PREFIX": "t",
    }
}


@pytest.fixture
def mongo_cache() -> Iterator[MongoCache]:
    """The MongoDB cache as the default cache, its collection made as ``migrate`` makes it."""
    with override_settings(CACHES=MONGO_CACHES):
        cache = caches["default"]
        assert isinstance(cache, MongoCache)
        call_command("createcachecollection", verbosity=0)
        try:
            yield cache
        finally:
            connections["default"].database.drop_collection(COLLECTION)


def _race(workers: int, call: Callable[[], Any]) -> list[Any]:
    """``call`` once per thread, all released together; each thread's Django connection is
    its own, as a gthread worker's are."""
    barrier = threading.Barrier(workers)

    def run() -> Any:
        barrier.wait()
        try:
            return call()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(workers) as pool:
        return [f.result() for f in [pool.submit(run) for _ in range(workers)]]


def test_values_round_trip_and_integers_stay_integers(mongo_cache: MongoCache) -> None:
    mongo_cache.set("n", 41)
    mongo_cache.set("obj", {"a": [1, 2], "b": "x"})
    mongo_cache.set("flag", True)
    assert mongo_cache.incr("n") == 42
    assert mongo_cache.get("obj") == {"a": [1, 2], "b": "x"}
    assert mongo_cache.get("flag") is True
    assert mongo_cache.get_many(["n", "obj", "missing"]) == {
        "n": 42,
        "obj": {"a": [1, 2], "b": "x"},
    }
    assert mongo_cache.set_many({"x": 1, "y": "two"}) == []
    assert mongo_cache.get("y") == "two"
    assert mongo_cache.delete("x") is True
    assert mongo_cache.delete("x") is False
    mongo_cache.delete_many(["y", "n"])
    assert mongo_cache.get_many(["y", "n"]) == {}
    assert mongo_cache.get("missing", "fallback") == "fallback"


def test_add_only_stores_a_missing_or_expired_key(mongo_cache: MongoCache) -> None:
    assert mongo_cache.add("k", 1, timeout=60) is True
    assert mongo_cache.add("k", 2, timeout=60) is False
    assert mongo_cache.get("k") == 1
    mongo_cache.set("k", 5, timeout=-1)  # already expired, still in the collection
    assert mongo_cache.get("k") is None
    assert not mongo_cache.has_key("k")
    assert mongo_cache.add("k", 7, timeout=60) is True
    assert mongo_cache.get("k") == 7


def test_incr_of_a_missing_or_expired_key_is_a_value_error(mongo_cache: MongoCache) -> None:
    with pytest.raises(ValueError):
        mongo_cache.incr("nothing")
    mongo_cache.set("old", 3, timeout=-1)
    with pytest.raises(ValueError):
        mongo_cache.incr("old")
    mongo_cache.set("text", "abc")
    with pytest.raises(TypeError):
        mongo_cache.incr("text")
    mongo_cache.set("n", 10)
    assert mongo_cache.decr("n", 4) == 6


def test_touch_moves_the_expiry_of_live_keys_only(mongo_cache: MongoCache) -> None:
    mongo_cache.set("k", "v", timeout=-1)
    assert mongo_cache.touch("k", 60) is False
    mongo_cache.set("k", "v", timeout=1)
    assert mongo_cache.touch("k", None) is True  # None: never expires
    row = mongo_cache.collection.find_one({"_id": mongo_cache.make_key("k")})
    assert row is not None and row["e"].year == 9999


def test_the_collection_has_a_ttl_index_and_clear_empties_it(mongo_cache: MongoCache) -> None:
    indexes = {i["name"]: i for i in mongo_cache.collection.list_indexes()}
    assert indexes["expires_ttl"]["key"] == {"e": 1}
    assert indexes["expires_ttl"]["expireAfterSeconds"] == 0
    call_command("createcachecollection", verbosity=0)  # idempotent
    mongo_cache.set("a", 1)
    mongo_cache.clear()
    assert mongo_cache.collection.count_documents({}) == 0


def test_concurrent_increments_are_never_lost(mongo_cache: MongoCache) -> None:
    mongo_cache.add("hits", 0, timeout=300)
    per_thread = 25

    def hammer() -> list[int]:
        return [caches["default"].incr("hits") for _ in range(per_thread)]

    seen = [value for values in _race(8, hammer) for value in values]
    assert mongo_cache.get("hits") == 8 * per_thread
    # Every increment answered a distinct count: no two read the same value.
    assert sorted(seen) == list(range(1, 8 * per_thread + 1))


def test_concurrent_adds_of_one_key_store_exactly_one(mongo_cache: MongoCache) -> None:
    counter = iter(range(100))
    lock = threading.Lock()

    def add() -> bool:
        with lock:
            mine = next(counter)
        return caches["default"].add("once", mine, timeout=60)

    results = _race(8, add)
    assert results.count(True) == 1
    assert mongo_cache.get("once") in range(8)


def test_rate_limit_lets_exactly_the_rate_through_under_concurrency(
    mongo_cache: MongoCache,
) -> None:
    """django-ratelimit's add-then-incr on the MongoDB cache, eight threads at once."""
    request = RequestFactory().get("/api/v1/carts/")
    attempts = 5

    def attempt_all() -> list[bool]:
        allowed = []
        for _ in range(attempts):
            try:
                enforce(request, group="bench-write", rate="10/m", key="user:racer")
                allowed.append(True)
            except RateLimited:
                allowed.append(False)
        return allowed

    outcomes = [ok for run in _race(8, attempt_all) for ok in run]
    assert outcomes.count(True) == 10
    assert outcomes.count(False) == 8 * attempts - 10


def test_production_runs_without_redis_on_the_mongodb_cache() -> None:
    code = """
        import json
        import django
        django.setup()
        from django.conf import settings
        print(json.dumps({
            "backend": settings.CACHES["default"]["BACKEND"],
            "auth_cache_seconds": settings.AUTH_USER_CACHE_SECONDS,
        }))
    """
    result = run_python(code, production_env(CACHE_BACKEND="mongodb", REDIS_URL=None))
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.splitlines()[-1])
    assert loaded == {"backend": "buyhive.mongo_cache.MongoCache", "auth_cache_seconds": 0}
    # And with Redis chosen, its URL is still required.
    refused = run_python(code, production_env(CACHE_BACKEND="redis", REDIS_URL=None))
    assert refused.returncode != 0
    assert "need these environment variables: REDIS_URL" in refused.stderr
