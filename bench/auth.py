"""Benchmark: how long ``POST auth/login/`` and ``POST auth/refresh/`` take.

In-process through Django's test Client (the whole middleware stack, DRF, the real database
and Redis), with the rate limits ON and the production password hasher (bcrypt-SHA256).
Nothing is switched off to make it fast. Every user is created, and signed in for the
refresh part, before the timed part; each timed request comes from its own user and client
address, so the per-account and per-IP limits are honoured rather than disabled.

    MONGODB_URI="mongodb://127.0.0.1:27018/?directConnection=true" \\
        .venv/bin/python bench/auth.py --requests 200

Without ``MONGODB_URI`` a throwaway embedded SecantusDB is started. The benchmark works in
its own database (``test_<MONGODB_NAME>_bench``, created and dropped here) and Redis
database (``TEST_REDIS_URL``, default db 14).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from benchlib import PASSWORD, database, setup_django, summarise, test_database


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return (time.perf_counter() - started) * 1000, result


def client_ip(index: int) -> str:
    return f"10.{(index // 250) % 250}.{index % 250}.1"


def run(requests: int) -> dict[str, Any]:
    setup_django()

    from django.conf import settings
    from django.contrib.auth.hashers import check_password, get_hasher, make_password
    from django.test import Client
    from django.test.utils import override_settings

    from accounts.models import User
    from accounts.tokens import issue_tokens
    from buyhive.settings import base

    with test_database() as db_name, override_settings(PASSWORD_HASHERS=base.PASSWORD_HASHERS):
        hasher = get_hasher()
        assert settings.RATELIMIT_ENABLE, "rate limits must stay on"
        encoded = make_password(PASSWORD)  # one bcrypt hash, shared: same cost per check
        users = [
            User(email=f"bench{i}@example.com", password=encoded, email_verified=True)
            for i in range(requests * 2 + 1)
        ]
        User.objects.bulk_create(users)
        users = list(User.objects.order_by("email"))
        login_users, refresh_users, warm = users[:requests], users[requests:-1], users[-1]

        hash_ms = [timed(lambda: check_password(PASSWORD, encoded))[0] for _ in range(20)]

        client = Client()
        warm_response = client.post(
            "/api/v1/auth/login/",
            {"email": warm.email, "password": PASSWORD},
            content_type="application/json",
            REMOTE_ADDR="10.250.0.1",
        )
        assert warm_response.status_code == 200, warm_response.content

        login_ms: list[float] = []
        for index, user in enumerate(login_users):
            body = {"email": user.email, "password": PASSWORD}
            elapsed, response = timed(
                lambda body=body, index=index: client.post(
                    "/api/v1/auth/login/",
                    body,
                    content_type="application/json",
                    REMOTE_ADDR=client_ip(index),
                )
            )
            assert response.status_code == 200, response.content
            login_ms.append(elapsed)

        # Signed in once, outside the timed part.
        sessions = [issue_tokens(user)["refresh"] for user in refresh_users]
        refresh_ms: list[float] = []
        for index, refresh in enumerate(sessions):
            elapsed, response = timed(
                lambda refresh=refresh, index=index: client.post(
                    "/api/v1/auth/refresh/",
                    {"refresh": refresh},
                    content_type="application/json",
                    REMOTE_ADDR=client_ip(index),
                )
            )
            assert response.status_code == 200, response.content
            refresh_ms.append(elapsed)

        return {
            "hasher": hasher.algorithm,
            "bcrypt_rounds": getattr(hasher, "rounds", None),
            "password_check": summarise(hash_ms),
            "login": summarise(login_ms),
            "refresh": summarise(refresh_ms),
            "rate_limits": {
                "login_ip": settings.RATE_LOGIN_IP,
                "login_free_failures": settings.LOGIN_FREE_FAILURES,
                "refresh_ip": settings.RATE_REFRESH_IP,
            },
            "database": db_name,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint")
    args = parser.parse_args()
    with database():
        result = run(args.requests)
    line = (
        f"{result['hasher']} rounds={result['bcrypt_rounds']} | "
        f"password check median {result['password_check']['median_ms']} ms | "
        f"login median {result['login']['median_ms']} ms p95 {result['login']['p95_ms']} ms | "
        f"refresh median {result['refresh']['median_ms']} ms p95 {result['refresh']['p95_ms']} ms"
    )
    sys.stdout.write(json.dumps(result, indent=2) + "\n" + line + "\n")


if __name__ == "__main__":
    main()
