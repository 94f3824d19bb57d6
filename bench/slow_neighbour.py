"""Benchmark: does one slow request hold up the others of its worker? Per gunicorn worker class.

One gunicorn worker process (production settings) per class, alternated. A product save
(``POST extract/``) waits on the LLM, here a local server on loopback that answers 503 after
``--llm-seconds`` (``GROQ_BASE_URL``; the SDK's own retries are off); half a second into it a
``GET carts/`` is sent on another connection and timed. If the worker served one request at a
time, the list would wait for the save. Reports each list's latency and the medians per class.

    .venv/bin/python bench/slow_neighbour.py    # ~2 min (page models load once per server)
    .venv/bin/python bench/slow_neighbour.py --saves 5 --llm-seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import socketserver
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load  # noqa: E402  (bench/ is on sys.path when run as a script)


def slow_llm(seconds: float) -> int:
    """A loopback server that answers every POST with a 503 after ``seconds``; its port."""

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(seconds)
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return int(server.server_address[1])


def measure(kind: str, uri: str, db: str, llm_port: int, saves: int) -> list[float]:
    port = load._free_port()
    env = load.server_env(uri, db, port, 1)
    env.update(
        GUNICORN_WORKER_CLASS=kind,
        GROQ_API_KEY="bench-key",
        GROQ_BASE_URL=f"http://127.0.0.1:{llm_port}",
        LLM_TIMEOUT="30",
        LLM_BREAKER_FAILURES="100000",
        RATE_EXTRACT_USER="1000/m",
    )
    load.flush_redis()
    load.migrate(env)
    with load.gunicorn(env, load.ROOT / "var" / "slow-neighbour.log", None) as master:
        base = f"http://127.0.0.1:{port}"
        asyncio.run(load.wait_ready(base, master))
        headers = {"Host": load.HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": "198.18.9.9"}
        with httpx.Client(base_url=base, timeout=120) as client:
            email = f"slow-{kind}-{port}@example.com"
            answer = client.post(
                "/api/v1/auth/register/", json={"email": email, "password": load.PASSWORD},
                headers=headers,
            )  # fmt: skip
            answer.raise_for_status()
            headers["Authorization"] = f"Bearer {answer.json()['access']}"

            def save(n: int) -> None:
                page = {
                    "url": f"https://shop.example.com/p/{port}-{n}",
                    "html": f"<html><head><title>Thing {n}</title></head>"
                    f"<body><h1>Thing {n}</h1><p>A fine thing</p></body></html>",
                }
                response = client.post("/api/v1/extract/", json=page, headers=headers)
                assert response.status_code == 200, response.text

            save(0)  # loads the page models: not timed
            latencies = []
            for n in range(1, saves + 1):
                saving = threading.Thread(target=save, args=(n,))
                saving.start()
                time.sleep(0.5)
                with httpx.Client(base_url=base, timeout=120) as other:
                    started = time.perf_counter()
                    listed = other.get("/api/v1/carts/", headers=headers)
                    latencies.append((time.perf_counter() - started) * 1000)
                    assert listed.status_code == 200, listed.text
                saving.join()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saves", type=int, default=3, help="timed saves per server")
    parser.add_argument("--rounds", type=int, default=2, help="servers per class, alternated")
    parser.add_argument("--llm-seconds", type=float, default=3.0)
    args = parser.parse_args()
    import structlog

    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    llm_port = slow_llm(args.llm_seconds)
    results: dict[str, list[float]] = {"uvicorn": [], "gthread": []}
    with load.database(argparse.Namespace()) as (uri, db, _pid):
        for _ in range(args.rounds):
            for kind in results:
                results[kind] += measure(kind, uri, db, llm_port, args.saves)
    for kind, values in results.items():
        sys.stdout.write(
            f"{kind:8} GET carts/ during a {args.llm_seconds:g} s save: median "
            f"{statistics.median(values):.0f} ms [{min(values):.0f}-{max(values):.0f}], "
            f"n={len(values)}\n"
        )


if __name__ == "__main__":
    main()
