"""Benchmark: the 50-item cart read, this backend against the prototype's shape and a floor.

One run, one database server, three HTTP servers on loopback, each with the same number of
worker processes (default 2), loaded in turn by ``wrk`` with the same connections (default 8)
for the same time (default 12 s), in interleaved rounds so that the machine's noise hits all
three alike:

* **backend**: this project under gunicorn with the production settings
  (``gunicorn.conf.py``), ``GET /api/v1/carts/{id}/items/?limit=50`` with a JWT;
* **prototype**: ``bench/prototype_app.py``, FastAPI + motor over the prototype's
  one-document-per-user shape (``docs/migration.md``), no auth, under uvicorn;
* **floor**: ``bench/floor_app.py``, a bare ASGI app answering one pymongo ``find_one``.

For each it reports requests per second, p50/p95 latency, and the CPU time per request of the
app's processes and of the database server (psutil, embedded server only), as medians over
the rounds with their min-max spread. Then, in-process through Django's test client with a
pymongo command listener, the database commands each budgeted request sends (the budgets of
issue 16; the tests assert the same counts). The last line states the ratios.

    .venv/bin/python bench/reads.py            # ~3 min on a 2-core machine; needs wrk
    .venv/bin/python bench/reads.py --rounds 5 --duration 20 --json

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
import load  # noqa: E402  (bench/ is on sys.path when run as a script)

ROOT = load.ROOT
CART_SIZE = 50
PASSWORD = load.PASSWORD
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
def uvicorn(app: str, port: int, workers: int, env: dict[str, str]) -> Iterator[psutil.Process]:
    command = [
        str(Path(sys.executable).parent / "uvicorn"), app, "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--log-level", "warning",
        "--no-access-log",
    ]  # fmt: skip
    process = subprocess.Popen(  # noqa: S603 - our interpreter's uvicorn, our arguments
        command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
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


def wait_http(url: str, headers: dict[str, str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, headers=headers, timeout=5).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200")


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


def seed_backend(base: str, headers: dict[str, str]) -> tuple[str, str, list[dict[str, Any]]]:
    """Register the user, create a cart and add 50 items through the API; (token, cart, items)."""
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        response = client.post(
            "/api/v1/auth/register/", json={"email": EMAIL, "password": PASSWORD}
        )
        assert response.status_code in (200, 201), response.text
        auth = {"Authorization": f"Bearer {response.json()['access']}"}
        cart = client.post("/api/v1/carts/", json={"name": "Bench"}, headers=auth)
        assert cart.status_code == 201, cart.text
        cart_id = cart.json()["id"]
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
            added = client.post(f"/api/v1/carts/{cart_id}/items/", json=body, headers=auth)
            assert added.status_code == 201, added.text
        items = client.get(f"/api/v1/carts/{cart_id}/items/?limit={CART_SIZE}", headers=auth)
        assert items.status_code == 200 and len(items.json()["results"]) == CART_SIZE
        return response.json()["access"], cart_id, items.json()["results"]


def seed_prototype(uri: str, db_name: str, cart_id: str, items: list[dict[str, Any]]) -> None:
    """The same 50 items in the prototype's one-document-per-user shape."""
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(uri)
    try:
        copies = [
            {
                "item_id": item["id"],
                "name": item["title"],
                "url": item["url"],
                "image": item["image_url"],
                "price": f"{item['price']} {item['currency']}",
                "notes": item.get("note", ""),
                "added_at": item.get("added_at"),
            }
            for item in items
        ]
        client[db_name]["cartItems"].insert_one(
            {
                "email": EMAIL,
                "name": "Bench",
                "carts": [{"cart_id": cart_id, "cart_name": "Bench", "items": copies}],
                "selected_cart_ids": [cart_id],
                "cart_count": 1,
                "item_count": len(copies),
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


def command_budgets(env: dict[str, str], cart_id: str) -> dict[str, int]:
    """Database commands sent by each budgeted request, counted on the same data, in this
    process with the production settings the servers run."""
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
    second = client.post("/api/v1/carts/", {"name": "Second"}, content_type="application/json")
    assert second.status_code == 201, second.content
    second_id = second.json()["id"]
    counts: dict[str, int] = {}
    with listening() as recorder:
        checks: list[tuple[str, Any, int]] = [
            (
                "GET carts/{id}/items/ (50 items)",
                lambda: client.get(f"/api/v1/carts/{cart_id}/items/?limit=50"),
                200,
            ),
            ("GET carts/ (2 carts)", lambda: client.get("/api/v1/carts/"), 200),
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
        item_id = client.get(f"/api/v1/carts/{second_id}/items/").json()["results"][0]["id"]
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
    with load.database(args) as (uri, db_name, server_pid), tempfile.TemporaryDirectory() as tmp:
        script = str(Path(tmp) / "summary.lua")
        Path(script).write_text(WRK_SCRIPT)
        ports = [load._free_port() for _ in range(3)]
        env = load.server_env(uri, db_name, ports[0], args.workers)
        load.flush_redis()
        load.migrate(env)
        host = {"Host": load.HOST, "X-Forwarded-Proto": "https"}
        log = ROOT / "var" / "reads-gunicorn.log"
        log.parent.mkdir(exist_ok=True)
        bench_env = {
            **env,
            "BENCH_MONGODB_URI": uri,
            "BENCH_MONGODB_DB": db_name,
            "BENCH_EMAIL": EMAIL,
        }
        with (
            load.gunicorn(env, log, None) as backend,
            uvicorn("bench.prototype_app:app", ports[1], args.workers, bench_env) as prototype,
            uvicorn("bench.floor_app:app", ports[2], args.workers, bench_env) as floor,
        ):
            asyncio.run(load.wait_ready(f"http://127.0.0.1:{ports[0]}", backend))
            token, cart_id, items = seed_backend(f"http://127.0.0.1:{ports[0]}", host)
            seed_prototype(uri, db_name, cart_id, items)
            targets = {
                "backend": {
                    "process": backend,
                    "url": f"http://127.0.0.1:{ports[0]}/api/v1/carts/{cart_id}/items/?limit={CART_SIZE}",
                    "headers": {**host, "Authorization": f"Bearer {token}"},
                },
                "prototype": {
                    "process": prototype,
                    "url": f"http://127.0.0.1:{ports[1]}/carts/{cart_id}/items?email={EMAIL}",
                    "headers": {},
                },
                "floor": {
                    "process": floor,
                    "url": f"http://127.0.0.1:{ports[2]}/carts/{cart_id}/items",
                    "headers": {},
                },
            }
            for target in targets.values():
                wait_http(target["url"], target["headers"])
                run_wrk(target["url"], target["headers"], 2, args.connections, script)  # warm-up
            db = psutil.Process(server_pid) if server_pid else None
            rounds: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            for _ in range(args.rounds):
                for name, target in targets.items():
                    rounds[name].append(measure(target, db, args, script))
            with contextlib.redirect_stdout(sys.stderr):  # the metrics lines Django logs
                budgets = command_budgets(env, cart_id)
    results = {
        name: {
            metric: median_spread([r[metric] for r in runs])
            for metric in ("rps", "p50_ms", "p95_ms", "app_cpu_ms", "db_cpu_ms")
        }
        | {"errors": sum(r["errors"] for r in runs), "requests": sum(r["requests"] for r in runs)}
        for name, runs in rounds.items()
    }
    base = results["prototype"]["rps"]["median"]
    return {
        "workers": args.workers,
        "connections": args.connections,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "results": results,
        "commands_per_request": budgets,
        "ratios_vs_prototype_rps": {
            name: round(results[name]["rps"]["median"] / base, 2) for name in results
        },
    }


def print_report(report: dict[str, Any]) -> None:
    lines = [
        f"{report['rounds']} rounds x {report['duration_s']} s, {report['connections']} "
        f"connections, {report['workers']} workers each; medians [min-max]",
        f"{'':10} {'req/s':>20} {'p50 ms':>18} {'p95 ms':>18} {'app CPU ms/req':>20} "
        f"{'db CPU ms/req':>20} errors",
    ]

    def cell(figure: dict[str, float], digits: int) -> str:
        return (
            f"{figure['median']:.{digits}f} [{figure['min']:.{digits}f}-{figure['max']:.{digits}f}]"
        )

    for name, r in report["results"].items():
        lines.append(
            f"{name:10} {cell(r['rps'], 0):>20} {cell(r['p50_ms'], 1):>18} "
            f"{cell(r['p95_ms'], 1):>18} {cell(r['app_cpu_ms'], 2):>20} "
            f"{cell(r['db_cpu_ms'], 2):>20} {r['errors']}"
        )
    lines.append("database commands per request:")
    lines += [f"  {name:40} {count}" for name, count in report["commands_per_request"].items()]
    ratios = report["ratios_vs_prototype_rps"]
    lines.append(
        f"throughput vs the prototype: backend {ratios['backend']}x, floor {ratios['floor']}x "
        f"(goal: backend >= 0.7x)"
    )
    sys.stdout.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=12, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="worker processes per server")
    parser.add_argument("--json", action="store_true", help="print the JSON report too")
    args = parser.parse_args()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    report = run(args)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    print_report(report)


if __name__ == "__main__":
    main()
