"""Benchmark: what a cart's kept view, on its document (``carts.read_model.VIEW_FIELD``),
costs the requests that read the cart through the ORM without answering its items.

The ORM fetches a cart's whole document (django-mongodb-backend projects no default
columns), so since the view moved onto the cart an add or a move also receives the cart's
rendered entries. In one run, on one embedded server (or ``MONGODB_URI``), in this process
through Django's test Client (the whole stack), on a 50-item cart (``benchlib.seed_cart``),
interleaved calls of each action with the cart's document holding its 50-entry view and
without it (the field unset between calls, outside the clock):

* **add**: ``POST carts/{id}/items/`` of a new product (the cart grows by one per call);
* **cart by the ORM**: ``carts.selectors.cart_for_user``-like ``Cart.objects.filter(pk=)
  .first()``, the read an add, a move and the detail make.

App CPU (``time.process_time``) and wall time per call, medians with the p10-p90 spread.

    .venv/bin/python bench/cart_view_weight.py            # ~1 min
    .venv/bin/python bench/cart_view_weight.py --requests 100
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import structlog
from benchlib import (
    CART_SIZE,
    bearer_headers,
    database,
    seed_cart,
    setup_django,
    spread,
    test_database,
)


def run(requests: int) -> dict[str, Any]:
    setup_django("_viewweight")

    from django.db import connection as default_connection
    from django.test import Client

    from carts.models import Cart
    from carts.read_model import VIEW_FIELD

    with test_database():
        user, cart = seed_cart(email="weight@example.com")
        client = Client()
        auth = bearer_headers(client, user.email)
        read = client.get(f"/api/v1/carts/{cart.pk}/items/?limit={CART_SIZE}", **auth)
        assert read.status_code == 200 and len(read.json()["results"]) == CART_SIZE
        connection: Any = default_connection
        carts = connection.get_collection(Cart._meta.db_table)
        view = carts.find_one({"_id": cart.pk})[VIEW_FIELD]
        assert len(view["entries"]) == CART_SIZE, "the view was not kept"
        added = iter(range(10**6))

        def add() -> None:
            response = client.post(
                f"/api/v1/carts/{cart.pk}/items/",
                {"url": f"https://shop.example.com/new/{next(added)}", "title": "New"},
                content_type="application/json",
                **auth,
            )
            assert response.status_code == 201, response.content

        def orm_cart() -> None:
            assert Cart.objects.filter(pk=cart.pk).order_by().first() is not None

        def with_view() -> None:
            carts.update_one({"_id": cart.pk}, {"$set": {VIEW_FIELD: view}})

        def without_view() -> None:
            carts.update_one({"_id": cart.pk}, {"$unset": {VIEW_FIELD: ""}})

        actions: dict[str, Callable[[], None]] = {"add": add, "cart by the ORM": orm_cart}
        setups = {"with its view": with_view, "without": without_view}
        cpu: dict[str, list[float]] = {}
        wall: dict[str, list[float]] = {}
        for round_ in range(requests + 3):  # the first three: warm-up
            for action_name, action in actions.items():
                for setup_name, setup in setups.items():
                    setup()
                    started_cpu, started = time.process_time(), time.perf_counter()
                    action()
                    if round_ >= 3:
                        name = f"{action_name}, {setup_name}"
                        cpu.setdefault(name, []).append((time.process_time() - started_cpu) * 1000)
                        wall.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        return {name: {"cpu": spread(cpu[name]), "wall": spread(wall[name])} for name in cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="timed calls per figure")
    args = parser.parse_args()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    with database():
        result = run(args.requests)
    lines = [f"{'':32} {'app CPU ms median [p10-p90]':>28} {'wall ms median [p10-p90]':>28}"]
    for name, figure in result.items():
        c, w = figure["cpu"], figure["wall"]
        lines.append(
            f"{name:32} {c['median_ms']:>10.3f} [{c['p10_ms']:.3f}-{c['p90_ms']:.3f}]"
            f"{'':>2} {w['median_ms']:>10.3f} [{w['p10_ms']:.3f}-{w['p90_ms']:.3f}]"
        )
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
