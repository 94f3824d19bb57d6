"""Benchmark: app CPU per request of the 50-item cart read (issue 16's goal: at most 3 ms).

In one run, on one embedded server (or ``MONGODB_URI``), in this process through Django's test
Client (the whole middleware stack, JWT authentication from the auth cache, DRF, the real
database), interleaved rounds of:

* **cart read**: ``GET carts/{id}/items/?limit=50`` on a 50-item cart (items with prices,
  variants and extraction details, each in one or two carts);
* **me**: ``GET auth/me/``, the floor of any authenticated request (same stack, one small
  answer, no database command once the user is cached): the baseline of the ratios;
* **ORM + serializer page**: the page as the view built it before the raw read (the
  memberships and items as model instances, the items' other memberships read, then
  ``CartItemOutputSerializer``), called directly, without the HTTP stack.

CPU is this process's (``time.process_time``: the app's share, not the database server's),
per call, reported as the median and the p10-p90 spread, and as ratios to the floor measured
in the same rounds. Wall time is shown beside it, but on a shared machine it also measures the
neighbours.

    .venv/bin/python bench/cart_read_cpu.py               # ~30 s
    .venv/bin/python bench/cart_read_cpu.py --requests 500 --json
"""

from __future__ import annotations

import argparse
import json
import statistics
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
    setup_django("_cpubench")

    from django.test import Client

    from carts.models import CartItem, Item
    from carts.serializers import CartItemOutputSerializer

    with test_database():
        user, cart = seed_cart(email="cpu@example.com")
        client = Client()
        auth = bearer_headers(client, user.email)
        url = f"/api/v1/carts/{cart.pk}/items/?limit={CART_SIZE}"

        def cart_read() -> None:
            response = client.get(url, **auth)
            assert response.status_code == 200, response.content

        # Checked once, outside the timed calls (parsing the answer is the client's work).
        assert len(client.get(url, **auth).json()["results"]) == CART_SIZE

        def me() -> None:
            assert client.get("/api/v1/auth/me/", **auth).status_code == 200

        def orm_page() -> None:
            page = list(CartItem.objects.filter(cart_id=cart.pk).order_by("added_at", "pk"))
            page = page[: CART_SIZE + 1]
            items = {i.pk: i for i in Item.objects.filter(pk__in=[ms.item_id for ms in page])}
            carts_of: dict[Any, list[str]] = {pk: [] for pk in items}
            rows = CartItem.objects.filter(item_id__in=list(items)).order_by()
            for _a, _p, item_id, cart_id in sorted(
                rows.values_list("added_at", "pk", "item_id", "cart_id")
            ):
                carts_of[item_id].append(str(cart_id))
            listed = []
            for ms in page:
                item = items[ms.item_id]
                item.membership = ms  # type: ignore[attr-defined]
                item.cart_ids = carts_of[item.pk]
                listed.append(item)
            body = json.dumps(list(CartItemOutputSerializer(listed, many=True).data))
            assert body

        actions: dict[str, Callable[[], None]] = {
            "GET carts/{id}/items/ (50 items)": cart_read,
            "GET auth/me/ (floor)": me,
            "ORM + serializer page (before)": orm_page,
        }
        for action in actions.values():  # warm-up: caches, the auth cache, imports
            for _ in range(5):
                action()
        cpu: dict[str, list[float]] = {name: [] for name in actions}
        wall: dict[str, list[float]] = {name: [] for name in actions}
        for _ in range(requests):
            for name, action in actions.items():
                started_cpu, started = time.process_time(), time.perf_counter()
                action()
                cpu[name].append((time.process_time() - started_cpu) * 1000)
                wall[name].append((time.perf_counter() - started) * 1000)
        floor = statistics.median(cpu["GET auth/me/ (floor)"])
        return {
            "requests_per_figure": requests,
            "cpu": {name: spread(samples) for name, samples in cpu.items()},
            "wall": {name: spread(samples) for name, samples in wall.items()},
            "cpu_ratio_to_floor": {
                name: round(statistics.median(samples) / floor, 2) for name, samples in cpu.items()
            },
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="timed calls per figure")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    with database():
        result = run(args.requests)
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    lines = [f"{'':36} {'app CPU ms: median [p10-p90]':>32} {'x floor':>8} {'wall ms':>9}"]
    for name, figure in result["cpu"].items():
        spread = f"{figure['median_ms']:.2f} [{figure['p10_ms']:.2f}-{figure['p90_ms']:.2f}]"
        lines.append(
            f"{name:36} {spread:>32} {result['cpu_ratio_to_floor'][name]:>8} "
            f"{result['wall'][name]['median_ms']:>9.2f}"
        )
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
