"""Load test: N signed-in users on gunicorn, production settings, for T seconds.

What it does:

1. Starts a throwaway embedded SecantusDB (unless ``MONGODB_URI`` is set: then that server,
   e.g. a real replica set, is used, in a database of its own that is dropped afterwards),
   runs ``migrate`` and starts ``gunicorn -c gunicorn.conf.py`` (its worker class, or
   ``--worker-class gthread|uvicorn``) on 127.0.0.1 with
   ``buyhive.settings.production`` and a local environment (random ``SECRET_KEY``, Redis
   database 14 flushed first, ``ALLOWED_HOSTS`` for the test host, ``X-Forwarded-Proto:
   https`` on every request as the load balancer would send). The production rate limits
   stay on.
2. Before the clock starts, each user registers (``POST auth/register/``: that is its one
   sign-in) and creates three carts. Every user comes from its own client address
   (``X-Forwarded-For`` from 198.18.0.0/15, the benchmarking range; the header is only a
   string, no traffic goes there), as users behind the load balancer do.
3. For ``--duration`` seconds each user loops over a shopper's mix with a think time between
   requests: list carts (20 %), open a cart's items (20 %), list items (10 %), add a new
   product to a cart (30 %), move an item between carts (``PUT items/{id}/carts/``, 20 %).
   With the default think time a user makes about 2-3 requests a second, about 1 write a
   second: well under ``RATE_WRITE_USER`` (300/min). A 429, like any non-2xx answer or a
   transport error, counts as an error.
4. Reports throughput, p50/p95/p99 per route, the errors, the CPU time of the gunicorn
   workers, the database server and this client, and then checks the database directly:
   every acknowledged add and move is there, with no duplicate item, no duplicate
   membership and no orphan membership.

Run it::

    .venv/bin/python bench/load.py                          # 20 users, 60 s, 2 workers
    .venv/bin/python bench/load.py --users 50 --duration 120 --workers 4 --json
    .venv/bin/python bench/load.py --profile var/load-profile   # py-spy on the workers
    .venv/bin/python bench/load.py --worker-class uvicorn --duration 30   # the ASGI workers
    MONGODB_URI='mongodb+srv://user:pw@cluster0.example.mongodb.net/?retryWrites=true' \\
        .venv/bin/python bench/load.py                      # against a real replica set

``--profile DIR`` runs gunicorn under ``py-spy record --subprocesses`` (requirements/dev.txt)
and prints the functions where the workers spent their time, grouped by layer. The exit code
is 0 only with zero errors and a clean consistency check.

The pieces live in ``bench/loadtest/``: ``servers``, ``shoppers``, ``consistency``,
``profiling``; this module runs the load and reports.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from loadtest.consistency import check_consistency
from loadtest.profiling import summarise_profile
from loadtest.servers import (
    ROOT,
    database,
    flush_redis,
    free_port,
    gunicorn,
    migrate,
    server_env,
    wait_ready,
)
from loadtest.shoppers import Stats, User, shopper, sign_up


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


async def run_load(args: argparse.Namespace, base: str, master: psutil.Process) -> dict[str, Any]:
    rng = random.Random(args.seed)
    run_id = secrets.token_hex(3)
    limits = httpx.Limits(max_connections=args.users + 4, max_keepalive_connections=args.users)
    async with httpx.AsyncClient(base_url=base, timeout=args.timeout, limits=limits) as client:
        users = [User(index=n, headers={}) for n in range(args.users)]
        for user in users:  # sequential: registration is rate-limited per client address
            await sign_up(client, user, run_id)
        stats = Stats()
        workers = master.children()
        database_process = [psutil.Process(args.db_pid)] if args.db_pid else []
        me = [psutil.Process()]
        before = (_cpu_seconds(workers), _cpu_seconds(database_process), _cpu_seconds(me))
        started = time.monotonic()
        deadline = started + args.duration
        await asyncio.gather(
            *(
                shopper(
                    client,
                    user,
                    stats,
                    deadline,
                    (args.think_min, args.think_max),
                    random.Random(rng.random()),
                )
                for user in users
            )
        )
        elapsed = time.monotonic() - started
        after = (_cpu_seconds(workers), _cpu_seconds(database_process), _cpu_seconds(me))
    routes = {
        route: {
            "requests": len(values),
            "p50_ms": round(percentile(values, 50), 1),
            "p95_ms": round(percentile(values, 95), 1),
            "p99_ms": round(percentile(values, 99), 1),
            "mean_ms": round(statistics.fmean(values), 1),
        }
        for route, values in sorted(stats.latencies.items())
    }
    everything = [v for values in stats.latencies.values() for v in values]
    return {
        "users": args.users,
        "duration_s": round(elapsed, 1),
        "gunicorn_workers": len(workers),
        "requests": stats.requests,
        "throughput_rps": round(stats.requests / elapsed, 1),
        "errors": sum(stats.errors.values()),
        "error_kinds": dict(stats.errors),
        "all_routes": {
            "p50_ms": round(percentile(everything, 50), 1),
            "p95_ms": round(percentile(everything, 95), 1),
            "p99_ms": round(percentile(everything, 99), 1),
        },
        "routes": routes,
        "worker_cpu_ms_per_request": round(
            (after[0] - before[0]) * 1000 / max(stats.requests, 1), 2
        ),
        "cpu_seconds": {
            "gunicorn_workers": round(after[0] - before[0], 1),
            "database_server": round(after[1] - before[1], 1) if database_process else None,
            "load_client": round(after[2] - before[2], 1),
            "available": round(elapsed * (os.cpu_count() or 1), 1),
        },
        "_users": users,
    }


def print_report(report: dict[str, Any]) -> None:
    out = sys.stdout.write
    out(
        f"\n{report['users']} users x {report['duration_s']} s, {report['gunicorn_workers']} "
        f"gunicorn workers ({report['worker_class']}): {report['requests']} requests, "
        f"{report['throughput_rps']} req/s, "
        f"{report['errors']} errors\n"
    )
    for kind, n in report["error_kinds"].items():
        out(f"  error  {kind}: {n}\n")
    out(f"  {'route':<26}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}\n")
    for route, row in report["routes"].items():
        out(
            f"  {route:<26}{row['requests']:>9}{row['p50_ms']:>9}{row['p95_ms']:>9}"
            f"{row['p99_ms']:>9}\n"
        )
    every = report["all_routes"]
    out(f"  {'all':<26}{report['requests']:>9}{every['p50_ms']:>9}{every['p95_ms']:>9}")
    out(f"{every['p99_ms']:>9}\n")
    cpu = report["cpu_seconds"]
    out(
        f"CPU seconds during the run: workers {cpu['gunicorn_workers']} "
        f"({report['worker_cpu_ms_per_request']} ms per request), database "
        f"{cpu['database_server']}, load client {cpu['load_client']} (of {cpu['available']})\n"
    )
    c = report["consistency"]
    out(
        f"consistency: {c['acknowledged_items_checked']} acknowledged items checked; lost items "
        f"{c['lost_items']}, lost memberships {c['lost_memberships']}, wrong cart sets "
        f"{c['items_with_wrong_cart_set']}, duplicate items {c['duplicate_items']}, duplicate "
        f"memberships {c['duplicate_memberships']}, orphan memberships "
        f"{c['orphan_memberships']}\n"
    )
    if "profile" in report:
        p = report["profile"]
        out(f"profile ({p['samples']} samples of the workers' threads, set-up excluded):\n")
        for name, pct in p["layers_pct"].items():
            out(f"  {pct:>5}%  {name}\n")
        out("  busiest frames of our code (inclusive):\n")
        for name, pct in p["own_code_inclusive_pct"].items():
            out(f"  {pct:>5}%  {name}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of timed load")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument(
        "--worker-class",
        choices=["gthread", "uvicorn"],
        default=None,
        help="GUNICORN_WORKER_CLASS (default: gunicorn.conf.py's)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="GUNICORN_THREADS (gthread; default: the conf's)"
    )
    parser.add_argument("--think-min", type=float, default=0.2, help="seconds between requests")
    parser.add_argument("--think-max", type=float, default=0.6)
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--profile", type=Path, default=None, help="py-spy output directory")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    import structlog

    # The embedded database's launcher logs through structlog: keep stdout for the report.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    if not 1 <= args.users <= 5000 or not 1 <= args.duration <= 3600:
        parser.error("users must be 1-5000 and duration 1-3600 s")

    flush_redis()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = ROOT / "var" / "load-gunicorn.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with database(args) as (uri, db_name, db_pid):
        args.db_pid = db_pid
        worker_class = (args.worker_class or "gunicorn.conf.py's default") + (
            f", {args.threads} threads" if args.threads else ""
        )
        env = server_env(uri, db_name, port, args.workers)
        if args.worker_class:
            env["GUNICORN_WORKER_CLASS"] = args.worker_class
        if args.threads:
            env["GUNICORN_THREADS"] = str(args.threads)
        migrate(env)
        with gunicorn(env, log, args.profile) as master:
            asyncio.run(wait_ready(base, master))
            report = asyncio.run(run_load(args, base, master))
        users = report.pop("_users")
        report["worker_class"] = worker_class
        report["consistency"] = check_consistency(uri, db_name, users)
    flush_redis()
    if args.profile is not None and (args.profile / "workers.txt").exists():
        report["profile"] = summarise_profile(args.profile / "workers.txt")
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        print_report(report)
    c = report["consistency"]
    clean = not any(
        c[k]
        for k in (
            "lost_items",
            "lost_memberships",
            "items_with_wrong_cart_set",
            "duplicate_items",
            "duplicate_memberships",
            "orphan_memberships",
        )
    )
    return 0 if report["errors"] == 0 and clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
