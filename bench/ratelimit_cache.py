"""Benchmark: what one rate-limit hit costs on Redis and on the MongoDB cache.

The low-cost configuration (``CACHE_BACKEND=mongodb``, docs/deploy.md) keeps the rate-limit
counters in the app's database instead of Redis. Every write request counts one hit
(``buyhive.ratelimit.enforce``: django-ratelimit's ``add`` then ``incr``, two round trips
on either store), so this measures that call, in this process, against both caches:
Redis (``TEST_REDIS_URL``, default db 14) and ``buyhive.mongo_cache.MongoCache`` on the same
database server the app uses (a throwaway embedded SecantusDB unless ``MONGODB_URI`` is
set). Rounds alternate the two stores, so the machine's noise hits both alike; each round
times ``--hits`` calls spread over 50 keys (as 50 users would), and the report gives the
medians over rounds, their min-max spread, and the ratio MongoDB / Redis per round. It also
counts the database commands one hit sends with the MongoDB cache (a pymongo listener), and
times a ``find_one`` by ``_id`` on the same server in the same rounds: the hit's cost as a
multiple of one primary-key read carries over to another server (Atlas), the milliseconds
of an embedded Python server on a shared machine do not.

    .venv/bin/python bench/ratelimit_cache.py            # ~30 s
    .venv/bin/python bench/ratelimit_cache.py --rounds 7 --hits 500 --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any

from benchlib import database


def run(rounds: int, hits: int) -> dict[str, Any]:
    import django

    os.environ["MONGODB_NAME"] = os.environ.get("MONGODB_NAME", "buyhive") + "_rlbench"
    django.setup()

    from django.conf import settings
    from django.core.cache import caches
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import override_settings, setup_test_environment

    from buyhive.exceptions import RateLimited
    from buyhive.mongo_cache import MongoCache
    from buyhive.ratelimit import enforce
    from carts.tests.mongo_commands import listening

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    stores = {
        "redis": settings.CACHES,
        "mongodb": {
            "default": {
                "BACKEND": "buyhive.mongo_cache.MongoCache",
                "LOCATION": "bench_django_cache",
                "KEY_PREFIX": f"rlbench-{os.getpid()}",
            }
        },
    }
    request = RequestFactory().post("/api/v1/carts/")
    per_round: dict[str, list[float]] = {name: [] for name in [*stores, "find_one"]}
    commands_per_hit: float | None = None
    try:
        with override_settings(CACHES=stores["mongodb"]):
            cache = caches["default"]
            assert isinstance(cache, MongoCache)
            cache.create_collection()
        for n in range(rounds + 1):  # round 0 warms both up and is not reported
            order = list(stores) if n % 2 else list(reversed(stores))
            for name in order:
                with override_settings(CACHES=stores[name]):
                    samples = []
                    for i in range(hits):
                        started = time.perf_counter()
                        try:
                            enforce(request, group=f"bench{n}", rate="100000/h", key=f"u:{i % 50}")
                        except RateLimited as exc:  # the rate is far above: never
                            raise SystemExit(
                                "rate limited: the benchmark's rate is too low"
                            ) from exc
                        samples.append((time.perf_counter() - started) * 1000)
                    if n:
                        per_round[name].append(statistics.median(samples))
            # The portable reference: one primary-key read on the same database server, so
            # the MongoDB figure can be carried over to another server (Atlas) as a ratio.
            with override_settings(CACHES=stores["mongodb"]):
                collection = caches["default"].collection  # type: ignore[attr-defined]
                samples = []
                for i in range(hits):
                    started = time.perf_counter()
                    collection.find_one({"_id": f"absent-{i % 50}"})
                    samples.append((time.perf_counter() - started) * 1000)
                if n:
                    per_round["find_one"].append(statistics.median(samples))
        with override_settings(CACHES=stores["mongodb"]), listening() as recorder:
            enforce(request, group="count", rate="100000/h", key="u:counted")  # created: 1
            recorder.clear()
            for _ in range(10):
                enforce(request, group="count", rate="100000/h", key="u:counted")
            commands_per_hit = len(recorder.commands) / 10
    finally:
        connection.creation.destroy_test_db(
            connection.settings_dict["NAME"].removeprefix("test_"), verbosity=0
        )

    def spread(values: list[float]) -> dict[str, float]:
        return {
            "median": round(statistics.median(values), 3),
            "min": round(min(values), 3),
            "max": round(max(values), 3),
        }

    ratios = [m / r for m, r in zip(per_round["mongodb"], per_round["redis"], strict=True)]
    per_read = [m / f for m, f in zip(per_round["mongodb"], per_round["find_one"], strict=True)]
    return {
        "rounds": rounds,
        "hits_per_round": hits,
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "ms_per_hit_median_of_rounds": {name: spread(v) for name, v in per_round.items()},
        "ratio_mongodb_over_redis": spread(ratios),
        "ratio_mongodb_over_find_one": spread(per_read),
        "mongodb_commands_per_hit": commands_per_hit,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hits", type=int, default=300, help="timed hits per round and store")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with database():
        report = run(args.rounds, args.hits)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    per = report["ms_per_hit_median_of_rounds"]
    ratio = report["ratio_mongodb_over_redis"]
    sys.stdout.write(
        f"{report['rounds']} rounds x {report['hits_per_round']} hits, load average "
        f"{report['load_average']} (shared machine)\n"
        f"  redis    {per['redis']['median']:.3f} ms/hit [{per['redis']['min']:.3f}-"
        f"{per['redis']['max']:.3f}]\n"
        f"  mongodb  {per['mongodb']['median']:.3f} ms/hit [{per['mongodb']['min']:.3f}-"
        f"{per['mongodb']['max']:.3f}], {report['mongodb_commands_per_hit']:.1f} database "
        f"commands per hit\n"
        f"  find_one by _id on the same server (reference) {per['find_one']['median']:.3f} ms "
        f"[{per['find_one']['min']:.3f}-{per['find_one']['max']:.3f}]\n"
        f"rate-limit hit, MongoDB cache / Redis: {ratio['median']:.2f}x "
        f"[{ratio['min']:.2f}-{ratio['max']:.2f}]; MongoDB cache / one find_one: "
        f"{report['ratio_mongodb_over_find_one']['median']:.2f}x "
        f"[{report['ratio_mongodb_over_find_one']['min']:.2f}-"
        f"{report['ratio_mongodb_over_find_one']['max']:.2f}]\n"
    )


if __name__ == "__main__":
    main()
