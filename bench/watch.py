"""Benchmark: the price watch's ingest, and the time from a crossing to its notification.

In one run, on one embedded server (or ``MONGODB_URI``), through Django's test Client (the
whole middleware stack, JWT authentication, DRF, the deterministic extractor, the real
database), with a real Celery worker subprocess on Redis:

1. **Ingest at a rising rate.** ``--users`` users each save ``--products`` products out of a
   shared catalogue (so products have several savers, as popular ones do), then
   ``POST watch/observations/`` is sent open-loop at each target rate of ``--rates`` for
   ``--seconds`` seconds, from ``--threads`` client threads. Each report carries a real
   product page (JSON-LD, ~1 KB) whose price moves now and then. Per stage: the achieved
   throughput (answers per second), p50/p95/p99 latency and errors. The hourly limit is
   lifted (``WATCH_REPORT_INTERVAL_S=0``) so every report is counted and written (the worst
   case), and the per-user rate limit is raised: this measures capacity, not the caps.
2. **Crossing to notification.** ``--crossings`` times: a user with ``alert_emails:
   immediate`` and a target-price alert reports a price below it; the clock runs from just
   before the ``POST`` to the moment ``GET notifications/`` lists the notification (polled
   every 20 ms), the worker having evaluated the alert and written the mail to the outbox.

    .venv/bin/python bench/watch.py                      # ~2 min on a quiet 2-core machine
    .venv/bin/python bench/watch.py --rates 10 20 40 80 --seconds 10 --json

The benchmark works in its own database (``test_<MONGODB_NAME>_watchbench``, created and
dropped here), Redis database 14 (cache) and its own broker key prefix and queue.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import structlog
from benchlib import database, setup_django, summarise, test_database

os.environ.setdefault("RATE_EXTRACT_USER", "100000/m")
os.environ.setdefault("WATCH_REPORT_INTERVAL_S", "0")


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 2)


def run(args: argparse.Namespace) -> dict[str, Any]:
    setup_django("_watchbench")
    with test_database():
        return _measure(args)


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    """Both parts of the benchmark, on the fresh test database, with a worker of its own."""
    from django.db import connections
    from django.test import Client

    from accounts.models import User
    from accounts.tokens import issue_tokens
    from buyhive.tests.task_worker import start_worker, wait_for
    from carts import services
    from carts.tests.watch_pages import product_page

    worker = None
    try:
        db = connections["default"].settings_dict
        work_dir = Path(tempfile.mkdtemp(prefix="watchbench-"))
        worker = start_worker(mongodb_uri=db["HOST"], db_name=db["NAME"], work_dir=work_dir)

        catalogue = max(args.products, args.users * args.products // 4)
        users = []
        seeded = time.perf_counter()
        for n in range(args.users):
            user = User.objects.create_user(
                email=f"watch{n}@example.com", password=None, email_verified=True
            )
            for k in range(args.products):
                product = (n * 7 + k * 13) % catalogue
                services.item_upsert(
                    owner=user,
                    data={
                        "url": f"https://shop{product % 10}.example.com/p/{product}",
                        "title": f"Product {product}",
                        "price": "100.00",
                        "currency": "EUR",
                        "availability": "InStock",
                    },
                )
            token = issue_tokens(user)["access"]
            urls = [
                f"https://shop{((n * 7 + k * 13) % catalogue) % 10}.example.com/p/"
                f"{(n * 7 + k * 13) % catalogue}"
                for k in range(args.products)
            ]
            users.append((token, urls))
        seed_seconds = round(time.perf_counter() - seeded, 1)

        local = threading.local()

        def client() -> Client:
            if not hasattr(local, "client"):
                local.client = Client()
            return local.client

        counter = iter(range(10**9))
        lock = threading.Lock()

        def one_report() -> tuple[float, int]:
            with lock:
                n = next(counter)
            token, urls = users[n % len(users)]
            url = urls[(n // len(users)) % len(urls)]
            price = "100.00" if (n // 7) % 5 else "95.00"  # a change now and then
            started = time.perf_counter()
            response = client().post(
                "/api/v1/watch/observations/",
                json.dumps({"url": url, "html": product_page(price)}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
            )
            return (time.perf_counter() - started) * 1000, response.status_code

        for _ in range(args.threads * 2):  # warm-up: imports, middleware, connections
            one_report()
        stages = []
        with ThreadPoolExecutor(max_workers=args.threads) as pool:
            for rate in args.rates:
                futures = []
                interval = 1.0 / rate
                begin = time.perf_counter()
                deadline = begin + args.seconds
                next_at = begin
                while next_at < deadline:
                    delay = next_at - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    futures.append(pool.submit(one_report))
                    next_at += interval
                results = [future.result() for future in futures]
                elapsed = time.perf_counter() - begin
                latencies = [ms for ms, status in results if status == 202]
                errors = sum(1 for _ms, status in results if status != 202)
                stages.append(
                    {
                        "target_per_s": rate,
                        "sent": len(results),
                        "achieved_per_s": round(len(latencies) / elapsed, 1),
                        "errors": errors,
                        "p50_ms": _percentile(latencies, 0.5) if latencies else None,
                        "p95_ms": _percentile(latencies, 0.95) if latencies else None,
                        "p99_ms": _percentile(latencies, 0.99) if latencies else None,
                    }
                )
                sys.stderr.write(f"stage {rate}/s: {stages[-1]}\n")

        # Crossing -> notification listed.
        alert_user = User.objects.create_user(
            email="alerts@example.com", password=None, email_verified=True, alert_emails="immediate"
        )
        token = issue_tokens(alert_user)["access"]
        auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        api = Client()
        delays = []
        for n in range(args.crossings):
            url = f"https://alerts.example.com/p/{n}"
            item, _ = services.item_upsert(
                owner=alert_user,
                data={"url": url, "title": f"Alert {n}", "price": "100.00", "currency": "EUR"},
            )
            api.put(
                f"/api/v1/items/{item.pk}/alert/",
                json.dumps({"target_price": "80"}),
                content_type="application/json",
                **auth,
            )
            started = time.perf_counter()
            response = api.post(
                "/api/v1/watch/observations/",
                json.dumps({"url": url, "html": product_page("79.00")}),
                content_type="application/json",
                **auth,
            )
            assert response.status_code == 202, response.content
            wait_for(
                lambda n=n: api.get("/api/v1/notifications/?limit=1", **auth).json()["count"] > n,
                timeout=30,
                interval=0.02,
                what="the notification",
            )
            delays.append((time.perf_counter() - started) * 1000)
        from carts.watch.models import Observation

        return {
            "server": "MongoDB at MONGODB_URI" if os.environ.get("MONGODB_URI") else "SecantusDB",
            "users": args.users,
            "products_per_user": args.products,
            "catalogue": catalogue,
            "seed_seconds": seed_seconds,
            "threads": args.threads,
            "ingest": stages,
            "observations_stored": Observation.objects.count(),
            "crossing_to_notification": summarise(delays),
        }
    finally:
        if worker is not None:
            worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--products", type=int, default=10, help="saved products per user")
    parser.add_argument("--rates", type=float, nargs="+", default=[5, 10, 20, 40, 80])
    parser.add_argument("--seconds", type=float, default=10, help="per rate")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--crossings", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    started = time.perf_counter()
    with database():
        result = run(args)
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    lines = [f"{'target/s':>9} {'achieved/s':>11} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} errors"]
    for stage in result["ingest"]:
        lines.append(
            f"{stage['target_per_s']:>9} {stage['achieved_per_s']:>11} {stage['p50_ms']:>8} "
            f"{stage['p95_ms']:>8} {stage['p99_ms']:>8} {stage['errors']}"
        )
    crossing = result["crossing_to_notification"]
    lines.append(
        f"crossing -> notification listed: median {crossing['median_ms']} ms, "
        f"p95 {crossing['p95_ms']} ms (n={crossing['n']}); total {result['total_seconds']} s"
    )
    sys.stdout.write(json.dumps(result, indent=2) + "\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
