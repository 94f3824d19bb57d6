"""Benchmark: cart reads do not slow down as the database grows.

In one run, on one embedded server (or ``MONGODB_URI``), through Django's test Client (the
whole middleware stack, JWT authentication, DRF, the real database):

* ``GET carts/{id}/items/`` for a 50-item cart, with 1,000 and then 20,000 items of other
  users stored;
* ``GET carts/`` for the same user, who has 20 carts (item counts and totals included);
* the floor: a raw pymongo ``find`` of the same documents (the cart's memberships, then its
  items by ``_id``), with no Django, DRF or HTTP in the way.

It reports the median, p95 and spread of each, and the ratio of the medians at 20,000 and at
1,000 other items, which should be near 1: the reads are index-backed and bounded by the
answer, not by the collection. The user signs in once through ``POST auth/login/`` (rate
limits on); seeding uses ``bulk_create``.

    .venv/bin/python bench/carts.py                  # ~40 s on a quiet 2-core machine
    .venv/bin/python bench/carts.py --requests 200 --json

Requests are interleaved (one of each figure per round) and a third round goes back to
1,000 other items, so that the machine's noise shows next to the ratio; the database
server's CPU time per request (psutil, embedded server only) is reported beside wall time,
since on a shared machine wall time also measures the neighbours.

Without ``MONGODB_URI`` a throwaway embedded SecantusDB is started. The benchmark works in
its own database (``test_<MONGODB_NAME>_cartsbench``, created and dropped here) and Redis
database (``TEST_REDIS_URL``, default db 14).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psutil
import structlog
from benchlib import PASSWORD, bearer_headers, database, setup_django, summarise, test_database
from pymongo import UpdateOne

CART_SIZE = 50
CARTS = 20
ITEMS_PER_OTHER_CART = 10
SMALL_DB, BIG_DB = 1_000, 20_000


def _cpu_ms(process: Any) -> float:
    """CPU time (user + system) the database server process has used, in ms."""
    if process is None:
        return 0.0
    times = process.cpu_times()
    return (times.user + times.system) * 1000


def run(requests: int, server_pid: int | None) -> dict[str, Any]:
    setup_django("_cartsbench")

    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from carts import services
    from carts.models import CartItem, Item

    with test_database():
        assert settings.RATELIMIT_ENABLE, "rate limits must stay on"
        user = User.objects.create_user(email="bench@example.com", password=PASSWORD, name="B")
        client = Client()
        auth = bearer_headers(client, user.email)

        carts = [services.cart_create(owner=user, name=f"Cart {n}") for n in range(CARTS)]
        now = timezone.now()

        def make_items(owner: Any, count: int, prefix: str) -> list[Item]:
            items = [
                Item(
                    owner=owner,
                    url=f"https://{prefix}.example.com/p/{n}",
                    canonical_url=f"https://{prefix}.example.com/p/{n}",
                    store_domain=f"{prefix}.example.com",
                    title=f"{prefix} product {n}",
                    brand="Bench",
                    price=Decimal("9.99") + n,
                    currency="USD" if n % 3 else "EUR",
                    availability="InStock",
                    image_url=f"https://cdn.example.com/{prefix}/{n}.jpg",
                    variant={"size": "M"},
                    extraction={"provenance": {"title": {"source": "json-ld"}}},
                    created_at=now,
                    updated_at=now,
                )
                for n in range(count)
            ]
            return Item.objects.bulk_create(items, batch_size=1000)

        mine = make_items(user, CART_SIZE + ITEMS_PER_OTHER_CART * (CARTS - 1), "mine")
        memberships = [
            CartItem(cart=carts[0], item=item, owner=user, price_at_add=item.price)
            for item in mine[:CART_SIZE]
        ]
        rest = mine[CART_SIZE:]
        for index, cart in enumerate(carts[1:]):
            chunk = rest[index * ITEMS_PER_OTHER_CART : (index + 1) * ITEMS_PER_OTHER_CART]
            memberships += [CartItem(cart=cart, item=item, owner=user) for item in chunk]
        CartItem.objects.bulk_create(memberships, batch_size=1000)
        # The items' read model of their memberships (``Item.cart_ids``), as the services keep it.
        connection.get_collection(Item._meta.db_table).bulk_write(
            [
                UpdateOne({"_id": ms.item_id}, {"$set": {"cart_ids": [ms.cart_id]}})
                for ms in memberships
            ]
        )
        big_cart = carts[0]

        others = [User(email=f"other{n}@example.com", password="!") for n in range(50)]  # noqa: S106 - unusable
        User.objects.bulk_create(others)
        others = list(User.objects.filter(email__startswith="other"))

        def add_other_items(count: int, start: int) -> None:
            per_owner = count // len(others)
            for index, owner in enumerate(others):
                make_items(owner, per_owner, f"o{start}-{index}")

        raw_items = connection.get_collection(Item._meta.db_table)
        raw_members = connection.get_collection(CartItem._meta.db_table)

        def raw_floor() -> int:
            ids = [
                doc["item_id"]
                for doc in raw_members.find({"cart_id": big_cart.pk}, {"item_id": 1})
                .sort([("added_at", 1), ("_id", 1)])
                .limit(CART_SIZE)
            ]
            return len(list(raw_items.find({"_id": {"$in": ids}})))

        def cart_items() -> None:
            response = client.get(f"/api/v1/carts/{big_cart.pk}/items/?limit={CART_SIZE}", **auth)
            assert response.status_code == 200, response.content
            assert len(response.json()["results"]) == CART_SIZE

        def cart_list() -> None:
            response = client.get("/api/v1/carts/", **auth)
            assert response.status_code == 200, response.content
            assert response.json()["count"] == CARTS

        actions: dict[str, Callable[[], Any]] = {
            "GET carts/{id}/items/ (50 items)": cart_items,
            f"GET carts/ ({CARTS} carts)": cart_list,
            "raw pymongo find (floor)": raw_floor,
        }
        server = psutil.Process(server_pid) if server_pid else None

        def measure() -> dict[str, Any]:
            """Interleaved rounds (one call of each action per round), so that a change in
            the machine's load hits every figure alike."""
            walls: dict[str, list[float]] = {name: [] for name in actions}
            server_cpu = dict.fromkeys(actions, 0.0)
            client_cpu = dict.fromkeys(actions, 0.0)
            for action in actions.values():
                action()  # warm-up
            for _ in range(requests):
                for name, action in actions.items():
                    cpu_before = _cpu_ms(server)
                    client_before = time.process_time()
                    started = time.perf_counter()
                    action()
                    walls[name].append((time.perf_counter() - started) * 1000)
                    client_cpu[name] += (time.process_time() - client_before) * 1000
                    server_cpu[name] += _cpu_ms(server) - cpu_before
            return {
                name: {
                    **summarise(walls[name]),
                    "client_cpu_ms_per_request": round(client_cpu[name] / requests, 2),
                    "server_cpu_ms_per_request": round(server_cpu[name] / requests, 2)
                    if server
                    else None,
                }
                for name in actions
            }

        results: dict[str, Any] = {}
        stored = 0
        for label, target in (("1000", SMALL_DB), ("20000", BIG_DB)):
            seeding = time.perf_counter()
            add_other_items(target - stored, stored)
            stored = target
            assert raw_floor() == CART_SIZE
            results[label] = {
                "items_in_database": Item.objects.count(),
                "seed_seconds": round(time.perf_counter() - seeding, 1),
                **measure(),
            }
        # Back to 1,000 other items: the difference between the two 1,000 runs is the noise
        # of this machine (other jobs share its cores).
        raw_items.delete_many({"store_domain": {"$regex": f"^o{SMALL_DB}-"}})
        results["1000 again"] = {"items_in_database": Item.objects.count(), **measure()}

        def ratio(name: str, metric: str, over: str, under: str) -> float | None:
            top, bottom = results[over][name][metric], results[under][name][metric]
            return round(top / bottom, 2) if top is not None and bottom else None

        ratios = {
            name: {
                "median_wall 20000/1000": ratio(name, "median_ms", "20000", "1000"),
                "server_cpu 20000/1000": ratio(name, "server_cpu_ms_per_request", "20000", "1000"),
                "median_wall 1000again/1000 (noise)": ratio(
                    name, "median_ms", "1000 again", "1000"
                ),
            }
            for name in actions
        }
        return {
            "server": connection.settings_dict["HOST"].split("?")[0],
            "requests_per_figure": requests,
            "results": results,
            "ratios": ratios,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="timed requests per figure")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    # Logs (the embedded server's start, Django's) go to stderr: stdout is the report.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    started = time.perf_counter()
    with database() as server_pid:
        result = run(args.requests, server_pid)
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    header = f"{'':34} {'1,000 other items':>22} {'20,000 other items':>22} {'1,000 again':>22}"
    lines = [header + "   ratio 20k/1k (wall, server CPU)"]
    for name, ratios in result["ratios"].items():
        cells = []
        for label in ("1000", "20000", "1000 again"):
            figure = result["results"][label][name]
            cpu = figure["server_cpu_ms_per_request"]
            cpu_text = f"cpu {cpu:5.1f}" if cpu is not None else "cpu    -"
            cells.append(f"{figure['median_ms']:8.2f} ms {cpu_text}")
        lines.append(
            f"{name:34} "
            + " ".join(f"{cell:>22}" for cell in cells)
            + f"   {ratios['median_wall 20000/1000']}, {ratios['server_cpu 20000/1000']}"
        )
    lines.append(
        f"medians of {args.requests} interleaved requests each (wall ms; cpu = database "
        f"server CPU ms per request); total {result['total_seconds']} s on {result['server']}"
    )
    sys.stdout.write(json.dumps(result, indent=2) + "\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
