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
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOST = "api.buyhive.test"
PASSWORD = "load test passphrase, long enough 42"  # noqa: S105 - throwaway bench users
REDIS_URL = os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/14")
MIX = (
    ("list_carts", 20),
    ("cart_items", 20),
    ("list_items", 10),
    ("add_item", 30),
    ("move_item", 20),
)
CARTS_PER_USER = 3


# --------------------------------------------------------------------------------------------
# Server processes
# --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(mongodb_uri: str, db_name: str, port: int, workers: int) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        DJANGO_SETTINGS_MODULE="buyhive.settings.production",
        ENVIRONMENT="staging",
        SECRET_KEY=secrets.token_urlsafe(64),
        MONGODB_URI=mongodb_uri,
        MONGODB_NAME=db_name,
        REDIS_URL=REDIS_URL,
        ALLOWED_HOSTS=HOST,
        ALLOWED_HOSTS_LOCAL_IPS="true",
        ALLOWED_ORIGINS="chrome-extension://abcdefghijklmnopabcdefghijklmnop",
        # Behind the load balancer, as deployed: each user's X-Forwarded-For is its address
        # (production's default, 0, would count every user as 127.0.0.1 and the 11th
        # registration in a minute would be refused).
        TRUSTED_PROXY_COUNT="1",
        PUBLIC_BASE_URL=f"https://{HOST}",
        DEFAULT_FROM_EMAIL="BuyHive <no-reply@buyhive.test>",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        # A local Redis broker under its own prefix instead of the production SQS default.
        CELERY_BROKER_URL=REDIS_URL,
        CELERY_KEY_PREFIX=f"buyhive-load-{os.getpid()}:",
        PORT=str(port),
        BIND_HOST="127.0.0.1",
        WEB_CONCURRENCY=str(workers),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    return env


@contextlib.contextmanager
def database(args: argparse.Namespace) -> Iterator[tuple[str, str, int | None]]:
    """(uri, database name, embedded server pid or None); the database is dropped after."""
    from pymongo import MongoClient

    db_name = f"buyhive_load_{secrets.token_hex(4)}"
    uri = os.environ.get("MONGODB_URI", "")
    server = None
    if not uri:
        from buyhive.devdb.testserver import start_ephemeral

        server = start_ephemeral()
        uri = server.uri
    try:
        yield uri, db_name, server.pid if server else None
    finally:
        with contextlib.suppress(Exception):
            client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=3000)
            client.drop_database(db_name)
            client.close()
        if server is not None:
            server.stop()


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def migrate(env: dict[str, str]) -> None:
    subprocess.run(  # noqa: S603 - our interpreter, our arguments
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


@contextlib.contextmanager
def gunicorn(env: dict[str, str], log: Path, profile_dir: Path | None) -> Iterator[psutil.Process]:
    """The gunicorn master (under py-spy when profiling), stopped with SIGTERM at the end."""
    command = [str(Path(sys.executable).parent / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")]
    spy: subprocess.Popen[bytes] | None = None
    with log.open("wb") as out:
        if profile_dir is not None:
            profile_dir.mkdir(parents=True, exist_ok=True)
            spy = subprocess.Popen(  # noqa: S603
                [
                    str(Path(sys.executable).parent / "py-spy"), "record", "--subprocesses",
                    "--rate", "40", "--format", "raw", "--nonblocking",
                    "-o", str(profile_dir / "workers.txt"), "--", *command,
                ],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
            master = _wait_for_child(psutil.Process(spy.pid), "gunicorn")
        else:
            process = subprocess.Popen(  # noqa: S603
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
            master = psutil.Process(process.pid)
    try:
        yield master
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            master.send_signal(signal.SIGTERM)
            master.wait(timeout=40)
        if spy is not None:
            try:
                spy.wait(timeout=60)  # writes the profile once its target has exited
            except subprocess.TimeoutExpired:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=30)


def _wait_for_child(parent: psutil.Process, name: str) -> psutil.Process:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for child in parent.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if name in " ".join(child.cmdline()):
                    return child
        time.sleep(0.05)
    raise RuntimeError(f"no {name} process under pid {parent.pid}")


async def wait_ready(base: str, master: psutil.Process, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while time.monotonic() < deadline:
            if not master.is_running():
                raise RuntimeError("gunicorn exited; see its log")
            with contextlib.suppress(httpx.HTTPError):
                response = await client.get("/ready", headers={"Host": HOST})
                if response.status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError("gunicorn did not become ready")


# --------------------------------------------------------------------------------------------
# Virtual users
# --------------------------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    requests: int = 0


@dataclass
class User:
    index: int
    headers: dict[str, str]
    carts: list[str] = field(default_factory=list)
    # The model of what the database must hold, from acknowledged writes only:
    # item id -> the set of cart ids it is in.
    expected: dict[str, set[str]] = field(default_factory=dict)
    user_id: str = ""
    uncertain_items: set[str] = field(default_factory=set)
    failed_adds: int = 0
    added: int = 0

    @property
    def ip(self) -> str:
        return f"198.18.{self.index // 250}.{self.index % 250 + 1}"


def _headers(ip: str, token: str | None = None) -> dict[str, str]:
    headers = {"Host": HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": ip}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


async def sign_up(client: httpx.AsyncClient, user: User, run_id: str) -> None:
    """Untimed: register (the user's one sign-in) and create the carts."""
    body = {"email": f"load{user.index}.{run_id}@example.com", "password": PASSWORD}
    response = await client.post("/api/v1/auth/register/", json=body, headers=_headers(user.ip))
    response.raise_for_status()
    data = response.json()
    user.user_id = data["user"]["id"]
    user.headers = _headers(user.ip, data["access"])
    for n in range(CARTS_PER_USER):
        created = await client.post(
            "/api/v1/carts/", json={"name": f"List {n}"}, headers=user.headers
        )
        created.raise_for_status()
        user.carts.append(created.json()["id"])


async def _timed(
    client: httpx.AsyncClient, stats: Stats, route: str, method: str, url: str, **kwargs: Any
) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        stats.errors[f"{route}: {type(exc).__name__}"] += 1
        stats.requests += 1
        return None
    stats.latencies[route].append((time.perf_counter() - started) * 1000)
    stats.requests += 1
    if not 200 <= response.status_code < 300:
        stats.errors[f"{route}: HTTP {response.status_code}"] += 1
    return response


async def shopper(
    client: httpx.AsyncClient,
    user: User,
    stats: Stats,
    deadline: float,
    think: tuple[float, float],
    rng: random.Random,
) -> None:
    names = [name for name, _ in MIX]
    weights = [weight for _, weight in MIX]
    while time.monotonic() < deadline:
        action = rng.choices(names, weights)[0]
        if action == "move_item" and not user.expected:
            action = "add_item"
        h = user.headers
        if action == "list_carts":
            await _timed(client, stats, "GET carts/", "GET", "/api/v1/carts/", headers=h)
        elif action == "cart_items":
            cart = rng.choice(user.carts)
            await _timed(
                client, stats, "GET carts/{id}/items/", "GET",
                f"/api/v1/carts/{cart}/items/?limit=50", headers=h,
            )  # fmt: skip
        elif action == "list_items":
            await _timed(client, stats, "GET items/", "GET", "/api/v1/items/?limit=50", headers=h)
        elif action == "add_item":
            cart = rng.choice(user.carts)
            user.added += 1
            body = {
                "url": f"https://shop{user.index % 7}.example.com/p/{user.index}-{user.added}",
                "title": f"Product {user.added} of user {user.index}",
                "price": f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d}",
                "currency": rng.choice(["USD", "EUR"]),
                "quantity": rng.randint(1, 3),
            }
            response = await _timed(
                client, stats, "POST carts/{id}/items/", "POST",
                f"/api/v1/carts/{cart}/items/", json=body, headers=h,
            )  # fmt: skip
            if response is not None and response.status_code in (200, 201):
                item_id = response.json()["id"]
                user.expected.setdefault(item_id, set()).add(cart)
            else:
                user.failed_adds += 1  # may or may not be in the database: not checked
        else:
            item_id = rng.choice(sorted(user.expected))
            target = sorted(rng.sample(user.carts, rng.randint(1, len(user.carts))))
            response = await _timed(
                client, stats, "PUT items/{id}/carts/", "PUT",
                f"/api/v1/items/{item_id}/carts/", json={"cart_ids": target}, headers=h,
            )  # fmt: skip
            if response is not None and response.status_code == 200:
                user.expected[item_id] = set(target)
            else:
                user.uncertain_items.add(item_id)  # either the old or the new set
        await asyncio.sleep(rng.uniform(*think))


# --------------------------------------------------------------------------------------------
# Consistency check, straight from the database
# --------------------------------------------------------------------------------------------


def check_consistency(uri: str, db_name: str, users: list[User]) -> dict[str, Any]:
    from bson import ObjectId
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=5000)
    db = client[db_name]
    try:
        items = list(db["carts_item"].find({}, {"_id": 1, "owner_id": 1, "canonical_url": 1}))
        carts = {row["_id"]: row["owner_id"] for row in db["carts_cart"].find({}, {"owner_id": 1})}
        memberships = list(
            db["carts_cartitem"].find({}, {"item_id": 1, "cart_id": 1, "owner_id": 1})
        )
    finally:
        client.close()
    item_owner = {row["_id"]: row["owner_id"] for row in items}
    duplicate_items = sum(
        n - 1 for n in Counter((r["owner_id"], r["canonical_url"]) for r in items).values() if n > 1
    )
    pairs = Counter((row["item_id"], row["cart_id"]) for row in memberships)
    duplicate_memberships = sum(n - 1 for n in pairs.values() if n > 1)
    orphans = sum(
        1
        for row in memberships
        if row["item_id"] not in item_owner
        or row["cart_id"] not in carts
        or not (row["owner_id"] == item_owner.get(row["item_id"]) == carts.get(row["cart_id"]))
    )
    in_carts: dict[Any, set[str]] = defaultdict(set)
    for row in memberships:
        in_carts[row["item_id"]].add(str(row["cart_id"]))
    lost_items = lost_memberships = wrong_sets = checked = 0
    for user in users:
        for item_id, expected in user.expected.items():
            oid = ObjectId(item_id)
            checked += 1
            if oid not in item_owner:
                lost_items += 1
                continue
            if item_id in user.uncertain_items:
                continue  # a move that failed: the old or the new set, both fine
            actual = in_carts.get(oid, set())
            if not expected <= actual:
                lost_memberships += len(expected - actual)
            if actual != expected:
                wrong_sets += 1
    return {
        "acknowledged_items_checked": checked,
        "items_in_db": len(items),
        "memberships_in_db": len(memberships),
        "lost_items": lost_items,
        "lost_memberships": lost_memberships,
        "items_with_wrong_cart_set": wrong_sets,
        "duplicate_items": duplicate_items,
        "duplicate_memberships": duplicate_memberships,
        "orphan_memberships": orphans,
        "unacknowledged_adds": sum(u.failed_adds for u in users),
    }


# --------------------------------------------------------------------------------------------
# Profile summary (py-spy raw/collapsed stacks)
# --------------------------------------------------------------------------------------------

# Each sample is charged to the innermost frame that belongs to one of these layers (first
# match from the leaf up), so the shares add up to 100 % of the sampled time.
LAYERS = (
    ("waiting on the database (pymongo socket I/O)", ("pymongo/network_layer", "pymongo/pool")),
    ("pymongo / bson (commands, encoding, decoding)", ("pymongo/", "bson/")),
    ("django-mongodb-backend (query compilation)", ("django_mongodb_backend/",)),
    ("Django ORM", ("django/db/",)),
    ("password hashing", ("django/contrib/auth/hashers",)),
    ("rate limiting (django-ratelimit, Redis)", ("django_ratelimit/", "redis/", "django_redis/")),
    ("JWT authentication", ("rest_framework_simplejwt/", "jwt/", "accounts/authentication")),
    ("DRF (views, serializers, JSON rendering)", ("rest_framework/", "json/")),
    ("logging (structlog)", ("structlog/", "django_structlog/", "logging/")),
    ("metrics (EMF) / Sentry", ("buyhive/metrics.py", "sentry_sdk/")),
    ("our code (views, services, selectors)", ("buyhive/", "carts/", "accounts/")),
    ("Django request handling", ("django/",)),
    ("asgiref (sync/async thread hops)", ("asgiref/", "concurrent/futures")),
    ("uvicorn / asyncio event loop", ("uvicorn", "asyncio/", "h11/", "httptools/")),
)
# Stacks of the untimed set-up (registration with bcrypt, the first carts) are left out.
SETUP_MARKERS = ("user_register", "cart_create (carts/services")


def summarise_profile(
    path: Path, top: int = 12, setup_markers: tuple[str, ...] = SETUP_MARKERS
) -> dict[str, Any]:
    """Where the workers' sampled time went: per layer (exclusive) and our busiest frames.

    Stacks with a frame named in ``setup_markers`` (the untimed set-up) are left out."""
    total = 0
    layers: Counter[str] = Counter()
    own: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    setup = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        if any(marker in stack for marker in setup_markers):
            setup += count
            continue
        frames = stack.split(";")[1:]  # the first entry names the process
        total += count
        leaves[frames[-1] if frames else "?"] += count
        layer = "other (stdlib, threads idle)"
        for frame in reversed(frames):
            match = next((name for name, marks in LAYERS if any(m in frame for m in marks)), None)
            if match is not None:
                layer = match
                break
        layers[layer] += count
        ours = [f for f in frames if any(p in f for p in ("carts/", "accounts/", "extraction/"))]
        for frame in dict.fromkeys(ours):
            own[frame] += count
    share = (lambda n: round(100 * n / total, 1)) if total else (lambda n: 0.0)
    return {
        "samples": total,
        "setup_samples_excluded": setup,
        "layers_pct": {k: share(v) for k, v in layers.most_common()},
        "own_code_inclusive_pct": {k: share(v) for k, v in own.most_common(top)},
        "top_leaf_frames_pct": {k: share(v) for k, v in leaves.most_common(top)},
    }


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


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
    port = _free_port()
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
