"""Benchmark: the app CPU every authenticated API request pays (``GET auth/me/``), per server path.

``bench/cart_read_cpu.py`` measures the floor through Django's test Client; this one calls the
project's real entry points in this process, with no server and no test client in between:

* **wsgi**: ``buyhive.wsgi.application`` (gunicorn's gthread workers) with a WSGI environ;
* **asgi**: ``buyhive.asgi.application`` (uvicorn workers, the production default) with an
  HTTP scope, on an asyncio loop: the ASGI handler, its per-request thread
  (``ThreadSensitiveContext``) and its hand-offs between the loop and that thread included;
* **asgi, Django's handler**: the same, with Django's own ``ASGIHandler`` in place of
  ``buyhive.asgi_handler.SyncStackASGIHandler`` (what ``buyhive.asgi`` served before it).

The paths alternate call by call, in a shuffled order each round, so all see the same
neighbours and none always follows the same other one. Logs are configured as in production
(JSON lines at ``INFO``: django-structlog's request line is rendered), written to
``/dev/null``. CPU is this process's ``time.process_time`` (all threads), per call; reported as
the median and the p10-p90 spread. ``--profile`` prints a cProfile of the chosen path instead.

    .venv/bin/python bench/request_floor.py                  # ~30 s
    .venv/bin/python bench/request_floor.py --requests 1000 --json
    .venv/bin/python bench/request_floor.py --profile asgi
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import logging.config
import os
import pstats
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from benchlib import PASSWORD, database, setup_django, spread, test_database

PATH = "/api/v1/auth/me/"


def _production_logging() -> None:
    """JSON log lines at INFO, as production writes them, into /dev/null."""
    from buyhive import logconfig

    config = logconfig.configure(level="INFO", json=True)
    config["handlers"]["stdout"]["stream"] = open(os.devnull, "w")  # noqa: SIM115
    logging.config.dictConfig(config)


def _callers(token: str) -> dict[str, Callable[[], None]]:
    from django.core.handlers.asgi import ASGIHandler

    from buyhive.asgi import application as asgi_app
    from buyhive.middleware import AsgiBodySizeLimit
    from buyhive.wsgi import application as wsgi_app

    django_asgi_app = AsgiBodySizeLimit(ASGIHandler())

    header = f"Bearer {token}"

    def wsgi() -> None:
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": PATH,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "testserver",
            "HTTP_AUTHORIZATION": header,
            "HTTP_ACCEPT": "application/json",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        status: list[str] = []

        def start_response(code: str, headers: Any, *_: Any) -> Any:
            status.append(code)

        result = wsgi_app(environ, start_response)
        try:
            b"".join(result)
        finally:
            result.close()  # type: ignore[attr-defined]
        assert status[0].startswith("200"), status

    loop = asyncio.new_event_loop()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", header.encode()),
            (b"accept", b"application/json"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    async def one(app: Any) -> None:
        sent: list[dict[str, Any]] = []
        done = asyncio.Event()
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()  # as uvicorn: the disconnect comes once the response is sent
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        await app(dict(scope), receive, send)
        assert sent[0]["status"] == 200, sent

    def asgi() -> None:
        loop.run_until_complete(one(asgi_app))

    def django_asgi() -> None:
        loop.run_until_complete(one(django_asgi_app))

    return {"wsgi": wsgi, "asgi": asgi, "asgi, Django's handler": django_asgi}


def run(requests: int, profile: str | None) -> dict[str, Any]:
    setup_django("_floorbench")
    _production_logging()
    from django.test import Client

    from accounts.models import User

    with test_database():
        user = User.objects.create_user(email="floor@example.com", password=PASSWORD, name="F")
        login = Client().post(
            "/api/v1/auth/login/",
            {"email": user.email, "password": PASSWORD},
            content_type="application/json",
        )
        assert login.status_code == 200, login.content
        callers = _callers(login.json()["access"])
        for call in callers.values():  # warm-up: imports, the auth cache, first connections
            for _ in range(20):
                call()
        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(requests):
                callers[profile]()
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
            stats.print_stats(60)
            stats.sort_stats("tottime").print_stats(40)
            sys.stdout.write(out.getvalue())
            return {}
        cpu: dict[str, list[float]] = {name: [] for name in callers}
        wall: dict[str, list[float]] = {name: [] for name in callers}
        order = list(callers)
        shuffler = random.Random(16)
        for _ in range(requests):
            shuffler.shuffle(order)  # no path always runs right after the same other one
            for name in order:
                call = callers[name]
                started_cpu, started = time.process_time(), time.perf_counter()
                call()
                cpu[name].append((time.process_time() - started_cpu) * 1000)
                wall[name].append((time.perf_counter() - started) * 1000)
        return {
            "requests_per_figure": requests,
            "cpu": {name: spread(samples) for name, samples in cpu.items()},
            "wall": {name: spread(samples) for name, samples in wall.items()},
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500, help="timed calls per path")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--profile", choices=["wsgi", "asgi"], help="cProfile one path instead")
    args = parser.parse_args()
    with database():
        result = run(args.requests, args.profile)
    if args.profile:
        return
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    lines = [f"GET {PATH:18} {'app CPU ms: median [p10-p90]':>32} {'wall ms':>9}"]
    for name, figure in result["cpu"].items():
        spread = f"{figure['median_ms']:.3f} [{figure['p10_ms']:.3f}-{figure['p90_ms']:.3f}]"
        lines.append(f"{name:24} {spread:>26} {result['wall'][name]['median_ms']:>9.3f}")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
