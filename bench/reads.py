"""Benchmark: the 50-item cart read and the cart list, this backend against the prototype's
shape and a floor.

One command, one database server, HTTP servers on loopback, each with the same number of
worker processes (default 2), loaded in turn by ``wrk`` with the same connections (default 8)
for the same time (default 12 s), in interleaved rounds so that the machine's noise hits all
of them alike:

* **backend**: this project under gunicorn with the production settings
  (``gunicorn.conf.py``), ``GET /api/v1/carts/{id}/items/?limit=50`` with a JWT; with
  ``--worker-classes gthread uvicorn`` once per worker class (``GUNICORN_WORKER_CLASS``),
  interleaved like the rest: the measurement behind the choice in docs/scaling.md; with
  ``--threads 1 4`` once per gthread thread count (``GUNICORN_THREADS``);
* **prototype**: ``bench/prototype_app.py``, FastAPI + motor over the prototype's
  one-document-per-user shape (``docs/migration.md``), no auth;
* **floor**: ``bench/floor_app.py``, a bare ASGI app answering one pymongo ``find_one``.

Each serves two reads (``--reads``, default both, each measured against its own baseline):

* **items**: one cart's 50 items (``GET carts/{id}/items/?limit=50``);
* **carts**: the user's 20 carts with their item counts and totals (``GET carts/``). Each of
  the 50 items is in the first cart and in one of the 19 others, so every cart has items
  (2-3 each besides the first). The prototype and the floor answer each cart's id, name,
  count and per-currency totals from the user's one document.

The two ASGI apps run under gunicorn with uvicorn workers, not ``uvicorn --workers N``:
uvicorn's own multi-process mode binds its socket without ``IPPROTO_TCP``, so asyncio never
sets ``TCP_NODELAY`` on accepted connections and every keep-alive request after the first
waits ~40 ms for the client's delayed ACK (Kludex/uvicorn#3149). Measured here: a no-database
ASGI app answered 175 req/s at a 45 ms p50 that way, 4,700 req/s at 3 ms under gunicorn. An
earlier version of this benchmark served them that way and capped the baseline at ~166 req/s.

Before the clock starts every target's answer is checked (status 200, 50 items or 20 carts), so a
misconfigured server cannot win by answering errors fast; wrk's non-2xx and socket errors are
counted and make the exit code 1.

For each it reports requests per second, p50/p95 latency, and the CPU time per request of the
app's processes and of the database server (psutil, embedded server only), as medians over
the rounds with their min-max spread. Then, in-process through Django's test client with a
pymongo command listener, the database commands each budgeted request sends (the budgets of
issue 16: the cart read, ``GET carts/`` with 20 carts, add to cart, move; the tests assert
the same counts). The last line states the ratios against the baseline (the prototype), per read.

    .venv/bin/python bench/reads.py            # ~6 min on a 2-core machine; needs wrk
    .venv/bin/python bench/reads.py --reads items   # the cart read alone, ~3 min
    .venv/bin/python bench/reads.py --worker-classes gthread uvicorn --rounds 5
    .venv/bin/python bench/reads.py --rounds 5 --duration 20 --json
    .venv/bin/python bench/reads.py --profile var/reads-profile   # py-spy on the backend

``--profile DIR`` runs the (first) backend's gunicorn under ``py-spy record --subprocesses``
(as ``bench/load.py --profile`` does) and adds where its workers' sampled time went, per
layer, the seeding through the API left out. The sampler costs the backend CPU (a cart read
measured 6.7 ms of app CPU under it against 3.8 ms without, same tree): take the figures
from a run without it.

``wrk`` comes from Debian's packages (``apt-get install wrk``). Without ``MONGODB_URI`` a
throwaway embedded SecantusDB is started; the benchmark's database is dropped at the end, and
its Redis database is ``LOAD_REDIS_URL`` (default db 14).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadtest import servers as load  # noqa: E402  (bench/ is on sys.path when run as a script)
from loadtest.profiling import SETUP_MARKERS, summarise_profile  # noqa: E402
from loadtest.shoppers import PASSWORD  # noqa: E402

ROOT = load.ROOT
CART_SIZE = 50
LIST_CARTS = 20  # carts of the budgeted GET carts/
EMAIL = "reads-bench@example.com"
WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %.1f %.1f %.1f\\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


# --------------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def asgi_server(app: str, port: int, workers: int, env: dict[str, str]) -> Iterator[psutil.Process]:
    """gunicorn with uvicorn workers serving a ``bench/`` ASGI app (see the module docstring)."""
    command = [
        str(Path(sys.executable).parent / "gunicorn"), app, "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--worker-class", "uvicorn_worker.UvicornWorker",
        "--log-level", "warning", "--no-control-socket",
    ]  # fmt: skip
    # cwd bench/: gunicorn would read the repository's gunicorn.conf.py from the root.
    process = subprocess.Popen(  # noqa: S603 - our interpreter's gunicorn, our arguments
        command, cwd=ROOT / "bench", env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield psutil.Process(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_http(url: str, headers: dict[str, str], expected: int, timeout: float = 60) -> None:
    """Wait for ``url`` to answer 200 with ``expected`` results (anything else fails the run)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(url, headers=headers, timeout=5)
            last = f"{response.status_code} {response.text[:200]}"
            if response.status_code == 200:
                results = response.json().get("results")
                if not isinstance(results, list) or len(results) != expected:
                    raise RuntimeError(f"{url} answered 200 without {expected} results: {last}")
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200: {last}")


def tree_cpu_ms(root: psutil.Process | None) -> float:
    """CPU time (user + system) of a process and its live children, in ms."""
    if root is None:
        return 0.0
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total * 1000


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def seed_backend(base: str, headers: dict[str, str]) -> tuple[str, list[str], list[dict[str, Any]]]:
    """Register the user, create ``LIST_CARTS`` carts, add 50 items to the first through the
    API and put each also in one of the others; (token, cart ids, the first cart's items)."""
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        response = client.post(
            "/api/v1/auth/register/", json={"email": EMAIL, "password": PASSWORD}
        )
        assert response.status_code in (200, 201), response.text
        auth = {"Authorization": f"Bearer {response.json()['access']}"}
        cart_ids = []
        for n in range(LIST_CARTS):
            cart = client.post("/api/v1/carts/", json={"name": f"Bench {n}"}, headers=auth)
            assert cart.status_code == 201, cart.text
            cart_ids.append(cart.json()["id"])
        first, others = cart_ids[0], cart_ids[1:]
        for n in range(CART_SIZE):
            body = {
                "url": f"https://shop{n % 7}.example.com/p/{n}?ref=bench",
                "title": f"Bench product {n} with a realistic, fairly long title",
                "price": f"{19 + n}.99",
                "currency": "EUR" if n % 3 else "USD",
                "image_url": f"https://cdn.example.com/img/{n}.jpg",
                "brand": "Bench",
                "availability": "InStock",
                "note": "for the kitchen" if n % 5 == 0 else "",
            }
            added = client.post(f"/api/v1/carts/{first}/items/", json=body, headers=auth)
            assert added.status_code == 201, added.text
            also = others[n % len(others)]
            placed = client.put(
                f"/api/v1/items/{added.json()['id']}/carts/",
                json={"cart_ids": [first, also]},
                headers=auth,
            )
            assert placed.status_code == 200, placed.text
        items = client.get(f"/api/v1/carts/{first}/items/?limit={CART_SIZE}", headers=auth)
        assert items.status_code == 200 and len(items.json()["results"]) == CART_SIZE
        return response.json()["access"], cart_ids, items.json()["results"]


def seed_prototype(
    uri: str, db_name: str, cart_ids: list[str], items: list[dict[str, Any]]
) -> None:
    """The same carts and items in the prototype's one-document-per-user shape (an item in two
    carts is copied into both, as the prototype did)."""
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(uri)
    try:
        carts: dict[str, list[dict[str, Any]]] = {cart_id: [] for cart_id in cart_ids}
        for item in items:
            copy = {
                "item_id": item["id"],
                "name": item["title"],
                "url": item["url"],
                "image": item["image_url"],
                "price": f"{item['price']} {item['currency']}",
                "notes": item.get("note", ""),
                "added_at": item.get("added_at"),
            }
            for cart_id in item["cart_ids"]:
                carts[cart_id].append(copy)
        client[db_name]["cartItems"].insert_one(
            {
                "email": EMAIL,
                "name": "Bench",
                "carts": [
                    {"cart_id": cart_id, "cart_name": f"Bench {n}", "items": carts[cart_id]}
                    for n, cart_id in enumerate(cart_ids)
                ],
                "selected_cart_ids": cart_ids[:1],
                "cart_count": len(cart_ids),
                "item_count": len(items),
            }
        )
        client[db_name]["cartItems"].create_index("email", unique=True)
    finally:
        client.close()


# --------------------------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------------------------


def run_wrk(
    url: str, headers: dict[str, str], seconds: int, connections: int, script: str
) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(  # noqa: S603 - wrk from PATH, our arguments
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    match = re.search(r"^BENCH (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)$", output, re.M)
    if not match:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    requests, duration_us, errors = (int(match.group(i)) for i in (1, 2, 3))
    return {
        "requests": requests,
        "errors": errors,
        "rps": requests / (duration_us / 1e6),
        "p50_ms": float(match.group(4)) / 1000,
        "p95_ms": float(match.group(5)) / 1000,
        "p99_ms": float(match.group(6)) / 1000,
    }


def measure(
    target: dict[str, Any], db: psutil.Process | None, args: argparse.Namespace, script: str
) -> dict[str, float]:
    app_before, db_before = tree_cpu_ms(target["process"]), tree_cpu_ms(db)
    figures = run_wrk(target["url"], target["headers"], args.duration, args.connections, script)
    served = max(figures["requests"], 1)
    figures["app_cpu_ms"] = (tree_cpu_ms(target["process"]) - app_before) / served
    figures["db_cpu_ms"] = (tree_cpu_ms(db) - db_before) / served if db else float("nan")
    return figures


def median_spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


# --------------------------------------------------------------------------------------------
# Command budgets (in-process, Django's test client, pymongo's command listener)
# --------------------------------------------------------------------------------------------


def command_budgets(env: dict[str, str], cart_ids: list[str]) -> dict[str, int]:
    """Database commands sent by each budgeted request, counted on the same data (the seeded
    ``LIST_CARTS`` carts), in this process with the production settings the servers run."""
    os.environ.update(env)
    import django

    django.setup()
    from django.test import Client

    from carts.tests.mongo_commands import listening

    proxied = {"HTTP_HOST": load.HOST, "HTTP_X_FORWARDED_PROTO": "https"}
    login = Client(**proxied).post(
        "/api/v1/auth/login/",
        {"email": EMAIL, "password": PASSWORD},
        content_type="application/json",
    )
    assert login.status_code == 200, login.content
    client = Client(HTTP_AUTHORIZATION=f"Bearer {login.json()['access']}", **proxied)
    cart_id, second_id = cart_ids[0], cart_ids[1]
    # Warm what a signed-in client has warm, as carts/tests/test_budgets.py does: the user in
    # the auth cache. Without it the count depended on whether the servers' runs had left the
    # user cached and for how long (a slow run let it expire: 3 commands for the cart read).
    me = client.get("/api/v1/auth/me/")
    assert me.status_code == 200, me.content
    counts: dict[str, int] = {}
    with listening() as recorder:
        checks: list[tuple[str, Any, int]] = [
            (
                "GET carts/{id}/items/ (50 items)",
                lambda: client.get(f"/api/v1/carts/{cart_id}/items/?limit=50"),
                200,
            ),
            (f"GET carts/ ({LIST_CARTS} carts)", lambda: client.get("/api/v1/carts/"), 200),
            (
                "POST carts/{id}/items/ (new item)",
                lambda: client.post(
                    f"/api/v1/carts/{second_id}/items/",
                    {
                        "url": "https://budget.example.com/p/1",
                        "title": "Budget",
                        "price": "5.00",
                        "currency": "EUR",
                    },
                    content_type="application/json",
                ),
                201,
            ),
        ]
        for name, call, status in checks:
            recorder.clear()
            response = call()
            assert response.status_code == status, (name, response.content)
            counts[name] = len(recorder.commands)
        newest = client.get(f"/api/v1/carts/{second_id}/items/").json()["results"][-1]
        assert newest["title"] == "Budget", newest  # only in the second cart: a move
        item_id = newest["id"]
        recorder.clear()
        moved = client.put(
            f"/api/v1/items/{item_id}/carts/",
            {"cart_ids": [cart_id]},
            content_type="application/json",
        )
        assert moved.status_code == 200, moved.content
        counts["PUT items/{id}/carts/ (move)"] = len(recorder.commands)
    return counts


# --------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    # One backend per worker class and thread count (``--threads 1 4``: both, interleaved).
    variants = [
        (kind, threads) for kind in args.worker_classes for threads in args.threads or [None]
    ]
    backends = [
        "backend" + (f" ({kind}" + (f", {threads} threads" if threads else "") + ")")
        for kind, threads in variants
    ]
    if len(backends) == 1:
        backends = ["backend"]
    with load.database(args) as (uri, db_name, server_pid), tempfile.TemporaryDirectory() as tmp:
        script = str(Path(tmp) / "summary.lua")
        Path(script).write_text(WRK_SCRIPT)
        ports = [load.free_port() for _ in range(len(backends) + 2)]
        shared = load.server_env(uri, db_name, ports[0], args.workers)
        # One SECRET_KEY (and so one JWT signing key) for every backend: one token for all.
        envs = [
            {**shared, "PORT": str(port), "GUNICORN_WORKER_CLASS": kind}
            | ({"GUNICORN_THREADS": str(threads)} if threads else {})
            for port, (kind, threads) in zip(ports, variants, strict=False)
        ]
        load.flush_redis()
        load.migrate(envs[0])
        host = {"Host": load.HOST, "X-Forwarded-Proto": "https"}
        (ROOT / "var").mkdir(exist_ok=True)
        bench_env = {
            **envs[0],
            "BENCH_MONGODB_URI": uri,
            "BENCH_MONGODB_DB": db_name,
            "BENCH_EMAIL": EMAIL,
        }
        with contextlib.ExitStack() as stack:
            servers = [
                stack.enter_context(
                    load.gunicorn(
                        env,
                        ROOT / "var" / f"reads-gunicorn-{n}.log",
                        args.profile if n == 0 else None,
                    )
                )
                for n, env in enumerate(envs)
            ]
            prototype = stack.enter_context(
                asgi_server("prototype_app:app", ports[-2], args.workers, bench_env)
            )
            floor = stack.enter_context(
                asgi_server("floor_app:app", ports[-1], args.workers, bench_env)
            )
            for port, server in zip(ports, servers, strict=False):
                asyncio.run(load.wait_ready(f"http://127.0.0.1:{port}", server))
            token, cart_ids, items = seed_backend(f"http://127.0.0.1:{ports[0]}", host)
            seed_prototype(uri, db_name, cart_ids, items)
            cart_id = cart_ids[0]
            paths = {  # read -> (backend, prototype, floor) paths, and the results expected
                "items": (
                    f"/api/v1/carts/{cart_id}/items/?limit={CART_SIZE}",
                    f"/carts/{cart_id}/items?email={EMAIL}",
                    f"/carts/{cart_id}/items",
                    CART_SIZE,
                ),
                "carts": ("/api/v1/carts/", f"/carts?email={EMAIL}", "/carts", LIST_CARTS),
            }
            targets: dict[str, dict[str, Any]] = {}
            for read in args.reads:
                backend_path, prototype_path, floor_path, expected = paths[read]
                for name, server, port in zip(backends, servers, ports, strict=False):
                    targets[f"{name}: {read}"] = {
                        "process": server,
                        "url": f"http://127.0.0.1:{port}{backend_path}",
                        "headers": {**host, "Authorization": f"Bearer {token}"},
                        "expected": expected,
                    }
                targets[f"prototype: {read}"] = {
                    "process": prototype,
                    "url": f"http://127.0.0.1:{ports[-2]}{prototype_path}",
                    "headers": {},
                    "expected": expected,
                }
                targets[f"floor: {read}"] = {
                    "process": floor,
                    "url": f"http://127.0.0.1:{ports[-1]}{floor_path}",
                    "headers": {},
                    "expected": expected,
                }
            for target in targets.values():
                wait_http(target["url"], target["headers"], target["expected"])
                run_wrk(target["url"], target["headers"], 2, args.connections, script)  # warm-up
            db = psutil.Process(server_pid) if server_pid else None
            rounds: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            for n in range(args.rounds):
                # Interleaved, and each round in another order, so a burst of the neighbours'
                # load does not always land on the same target.
                order = list(targets)
                order = order[n % len(order) :] + order[: n % len(order)]
                for name in order:
                    rounds[name].append(measure(targets[name], db, args, script))
            with contextlib.redirect_stdout(sys.stderr):  # the metrics lines Django logs
                budgets = command_budgets(envs[0], cart_ids)
    results = {
        name: {
            metric: median_spread([r[metric] for r in runs])
            for metric in ("rps", "p50_ms", "p95_ms", "app_cpu_ms", "db_cpu_ms")
        }
        | {"errors": sum(r["errors"] for r in runs), "requests": sum(r["requests"] for r in runs)}
        for name, runs in rounds.items()
    }

    def baseline(name: str) -> str:
        return "prototype: " + name.rsplit(": ", 1)[1]

    report: dict[str, Any] = {
        "workers": args.workers,
        "connections": args.connections,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "reads": args.reads,
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "results": results,
        "commands_per_request": budgets,
        # Each read against the prototype's answer to the same read.
        "ratios_vs_prototype_rps": {
            name: round(
                results[name]["rps"]["median"] / results[baseline(name)]["rps"]["median"], 2
            )
            for name in results
        },
        # Per round, each target's req/s over the prototype's in the same round: the spread
        # of the ratio itself, which the medians above do not show.
        "ratio_spread": {
            name: median_spread(
                [r["rps"] / p["rps"] for r, p in zip(runs, rounds[baseline(name)], strict=True)]
            )
            for name, runs in rounds.items()
        },
    }
    if args.profile is not None and (args.profile / "workers.txt").exists():
        # The seeding (registration, the cart and its 50 adds) is not the read.
        markers = (*SETUP_MARKERS, "cart_add_item (carts/services", "user_register")
        report["profile"] = summarise_profile(args.profile / "workers.txt", setup_markers=markers)
    return report


def print_report(report: dict[str, Any]) -> None:
    width = max(len(name) for name in report["results"])
    lines = [
        f"{report['rounds']} rounds x {report['duration_s']} s, {report['connections']} "
        f"connections, {report['workers']} workers each; medians [min-max]; load average at "
        f"the end {report['load_average']} (a shared machine: compare ratios, not absolutes)",
        f"{'':{width}} {'req/s':>20} {'p50 ms':>18} {'p95 ms':>18} {'app CPU ms/req':>20} "
        f"{'db CPU ms/req':>20} errors",
    ]

    def cell(figure: dict[str, float], digits: int) -> str:
        return (
            f"{figure['median']:.{digits}f} [{figure['min']:.{digits}f}-{figure['max']:.{digits}f}]"
        )

    for name, r in report["results"].items():
        lines.append(
            f"{name:{width}} {cell(r['rps'], 0):>20} {cell(r['p50_ms'], 1):>18} "
            f"{cell(r['p95_ms'], 1):>18} {cell(r['app_cpu_ms'], 2):>20} "
            f"{cell(r['db_cpu_ms'], 2):>20} {r['errors']}"
        )
    lines.append("database commands per request:")
    lines += [f"  {name:40} {count}" for name, count in report["commands_per_request"].items()]
    spread = report["ratio_spread"]
    backends = [name for name in report["results"] if name.startswith("backend")]
    parts = [
        f"{name} {cell(spread[name], 2)}x"
        for name in report["results"]
        if not name.startswith("prototype")
    ]
    if "profile" in report:
        p = report["profile"]
        lines.append(
            f"{backends[0]} profile ({p['samples']} py-spy samples of its workers, every read):"
        )
        lines += [f"  {pct:>5}%  {name}" for name, pct in p["layers_pct"].items()]
        lines.append("  busiest frames of our code (inclusive):")
        lines += [f"  {pct:>5}%  {name}" for name, pct in p["own_code_inclusive_pct"].items()]
    lines.append(
        "req/s against the prototype's same read, per round, median [min-max] (goal: backend >= "
        "0.7x): " + ", ".join(parts)
    )
    sys.stdout.write("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=12, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="worker processes per server")
    parser.add_argument(
        "--worker-classes",
        nargs="+",
        choices=["gthread", "uvicorn"],
        default=["gthread"],
        help="the backend once per GUNICORN_WORKER_CLASS (default: the production one)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=None,
        help="GUNICORN_THREADS, one backend per value (gthread; default: the conf's)",
    )
    parser.add_argument(
        "--reads",
        nargs="+",
        choices=["items", "carts"],
        default=["items", "carts"],
        help="items: GET carts/{id}/items/ (50 items); carts: GET carts/ (20 carts)",
    )
    parser.add_argument("--json", action="store_true", help="print the JSON report too")
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy output directory (first backend)"
    )
    args = parser.parse_args()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    report = run(args)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    print_report(report)
    return 1 if any(r["errors"] for r in report["results"].values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
