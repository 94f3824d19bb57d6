"""Benchmark: what each shape of the cart read's two reads costs the database server.

On one embedded SecantusDB (a Python server sharing the app's cores, so its CPU per command
limits the cart read's throughput), a 50-item cart made through the services, then
interleaved rounds of each variant of the two reads of ``GET carts/{id}/items/``:

* the memberships (``cart_id`` equality, ordered by ``(added_at, _id)``, 51 rows) as an
  aggregation pipeline with ``$project`` (the ORM's shape), as a ``find`` with the same
  projection, and as a ``find`` of whole documents (what ``carts.selectors`` sends);
* the items by ``_id $in`` the same three ways;
* the read that replaced both when the cart's view is current (``carts.cart_view``): the
  cart document by ``_id``, its kept view (50 rendered items) on it; and the same document
  without the view (the projection of the cart list, ``carts.cart_list``); and the user's
  two carts (the 50-item one with its view, one without) by owner, whole and without views;
* a ``ping``, the cost of any command.

For each: the server process's CPU per call (psutil, the mean over all calls: the OS counts
CPU in ticks, so a single call's figure is meaningless), and this process's CPU and wall
time per call (medians, p10-p90). Needs the embedded server (``MONGODB_URI`` unset).

    .venv/bin/python bench/db_commands.py             # ~1 min
    .venv/bin/python bench/db_commands.py --calls 500
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import psutil
import structlog
from benchlib import CART_SIZE, database, seed_cart, setup_django, spread, test_database


def run(calls: int, server_pid: int) -> dict[str, dict[str, float]]:
    setup_django("_dbcommands")

    from django.db import connection as default_connection

    from carts import cart_view
    from carts.models import Cart, CartItem, Item
    from carts.read_model import VIEW_FIELD, WITHOUT_VIEW

    with test_database():
        user, cart = seed_cart(email="db@example.com")
        cart_view.cart_entries_page(user=user, cart_id=cart.pk, offset=0, limit=CART_SIZE)
        connection: Any = default_connection
        connection.ensure_connection()
        carts = connection.get_collection(Cart._meta.db_table)
        assert VIEW_FIELD in carts.find_one({"_id": cart.pk}), "the view was not kept"
        memberships = connection.get_collection(CartItem._meta.db_table)
        items = connection.get_collection(Item._meta.db_table)
        ids = [row["item_id"] for row in memberships.find({"cart_id": cart.pk}, {"item_id": 1})]
        # What the answer reads of each (the projections the view sent before).
        member_fields: dict[str, int] = dict.fromkeys(
            (
                "item_id",
                "owner_id",
                "added_at",
                "quantity",
                "note",
                "price_at_add",
                "currency_at_add",
            ),
            1,
        )
        member_fields["_id"] = 0
        item_fields = dict.fromkeys(
            (
                "owner_id", "url", "canonical_url", "title", "brand", "description", "price",
                "currency", "price_raw", "image_url", "availability", "sku", "gtin", "mpn",
                "variant", "store_domain", "extraction", "cart_ids", "created_at", "updated_at",
            ),
            1,
        )  # fmt: skip
        order = [("added_at", 1), ("_id", 1)]
        match = {"cart_id": cart.pk}
        pipeline: list[dict[str, Any]] = [
            {"$match": match},
            {"$sort": dict(order)},
            {"$skip": 0},
            {"$limit": CART_SIZE + 1},
            {"$project": member_fields},
        ]
        page = CART_SIZE + 1
        by_ids = {"_id": {"$in": ids}}
        variants: dict[str, Callable[[], Any]] = {
            "memberships: aggregate + $project": lambda: memberships.aggregate(pipeline).to_list(),
            "memberships: find + projection": lambda: memberships.find(
                match, member_fields, sort=order, limit=page, batch_size=page
            ).to_list(),
            "memberships: find, whole documents": lambda: memberships.find(
                match, sort=order, limit=page, batch_size=page
            ).to_list(),
            "items: aggregate + $project": lambda: items.aggregate(
                [{"$match": by_ids}, {"$project": item_fields}]
            ).to_list(),
            "items: find + projection": lambda: items.find(
                by_ids, item_fields, limit=len(ids), batch_size=len(ids)
            ).to_list(),
            "items: find, whole documents": lambda: items.find(
                by_ids, limit=len(ids), batch_size=len(ids)
            ).to_list(),
            "cart with its view: find_one by _id": lambda: carts.find_one({"_id": cart.pk}),
            "cart without its view: projection": lambda: carts.find_one(
                {"_id": cart.pk}, WITHOUT_VIEW
            ),
            "list of 2 carts: whole documents": lambda: carts.find({"owner_id": user.pk}).to_list(),
            "list of 2 carts: views projected out": lambda: carts.find(
                {"owner_id": user.pk}, WITHOUT_VIEW
            ).to_list(),
            "ping": lambda: connection.database.command("ping"),
        }
        for variant in variants.values():  # warm-up
            for _ in range(10):
                variant()
        server = psutil.Process(server_pid)
        server_ms = dict.fromkeys(variants, 0.0)
        client: dict[str, list[float]] = {name: [] for name in variants}
        wall: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(calls):
            for name, variant in variants.items():
                before = server.cpu_times()
                started_cpu, started = time.process_time(), time.perf_counter()
                variant()
                wall[name].append((time.perf_counter() - started) * 1000)
                client[name].append((time.process_time() - started_cpu) * 1000)
                after = server.cpu_times()
                server_ms[name] += (after.user + after.system - before.user - before.system) * 1000

        return {
            name: {
                "server_cpu_ms_mean": server_ms[name] / calls,
                "client_cpu_ms": spread(client[name])["median_ms"],
                "wall_ms": spread(wall[name])["median_ms"],
                "wall_p10_ms": spread(wall[name])["p10_ms"],
                "wall_p90_ms": spread(wall[name])["p90_ms"],
            }
            for name in variants
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="timed calls per variant")
    args = parser.parse_args()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    with database() as server_pid:
        if server_pid is None:
            raise SystemExit("needs the embedded server: unset MONGODB_URI")
        result = run(args.calls, server_pid)
    ping = result["ping"]["server_cpu_ms_mean"]
    lines = [
        f"{'':36} {'server CPU ms (mean)':>20} {'x ping':>7} {'client CPU ms':>14} "
        f"{'wall ms median [p10-p90]':>26}"
    ]
    for name, figure in result.items():
        # A ping's CPU rounds to 0 in short runs (the OS counts CPU in ticks): no ratio then.
        times_ping = f"{figure['server_cpu_ms_mean'] / ping:.1f}" if ping > 0.01 else "-"
        wall = f"{figure['wall_ms']:.2f} [{figure['wall_p10_ms']:.2f}-{figure['wall_p90_ms']:.2f}]"
        lines.append(
            f"{name:36} {figure['server_cpu_ms_mean']:>20.2f} "
            f"{times_ping:>7} "
            f"{figure['client_cpu_ms']:>14.2f} "
            f"{wall:>26}"
        )
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
