"""Benchmark: does ``POST auth/password/reset/`` take as long for an unknown address as a known one?

Issue 13 item 6: the answer and its timing must not tell whether an account exists. The
request only publishes a task (the lookup and the mail are the worker's), so both paths do
the same work. This measures it: ``--requests`` known and as many unknown addresses,
interleaved (known, unknown, known...) so drift hits both alike, through Django's test
Client (the whole middleware stack, the rate limits ON, the real database, Redis and the
real broker). Each request comes from its own client address and asks for its own email,
so no limit is reached. Passes when the medians differ by less than 5 ms.

    TEST_REDIS_URL=redis://127.0.0.1:6379/9 TEST_CELERY_BROKER_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/reset_timing.py --requests 50

Without ``MONGODB_URI`` a throwaway embedded SecantusDB is started. The tasks published are
purged from the benchmark's own queue at the end (no worker consumes them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from benchlib import PASSWORD, database, setup_django, summarise, test_database

THRESHOLD_MS = 5.0


def run(requests: int) -> dict[str, Any]:
    setup_django()

    from django.conf import settings
    from django.test import Client

    from accounts.models import User
    from buyhive.celery import app

    with test_database() as db_name:
        assert settings.RATELIMIT_ENABLE, "rate limits must stay on"
        known = [
            User.objects.create_user(email=f"known{i}@example.com", password=PASSWORD)
            for i in range(requests)
        ]
        client = Client()

        def reset(email: str, index: int) -> float:
            started = time.perf_counter()
            response = client.post(
                "/api/v1/auth/password/reset/",
                {"email": email},
                content_type="application/json",
                REMOTE_ADDR=f"10.{index // 250}.{index % 250}.7",
            )
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 202, response.content
            return elapsed

        for n in range(5):  # warm-up: URLconf, serializers, broker connection
            reset(f"warm{n}@example.com", 1000 + n)
        known_ms: list[float] = []
        unknown_ms: list[float] = []
        for i in range(requests):
            known_ms.append(reset(known[i].email, 2 * i))
            unknown_ms.append(reset(f"nobody{i}@example.com", 2 * i + 1))
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
        known_summary, unknown_summary = summarise(known_ms), summarise(unknown_ms)
        difference = abs(known_summary["median_ms"] - unknown_summary["median_ms"])
        return {
            "known": known_summary,
            "unknown": unknown_summary,
            "median_difference_ms": round(difference, 2),
            "threshold_ms": THRESHOLD_MS,
            "passed": difference < THRESHOLD_MS,
            "database": db_name,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50, help="timed requests per path")
    args = parser.parse_args()
    with database():
        result = run(args.requests)
    line = (
        f"reset known median {result['known']['median_ms']} ms, unknown median "
        f"{result['unknown']['median_ms']} ms, difference {result['median_difference_ms']} ms "
        f"(< {THRESHOLD_MS} ms: {'yes' if result['passed'] else 'NO'})"
    )
    sys.stdout.write(json.dumps(result, indent=2) + "\n" + line + "\n")
    if not result["passed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
