"""Finding 9: trusted proxies, the logged client address, and IPv6 clients per /64."""

from __future__ import annotations

import json
from typing import Any

import pytest
import structlog
from rest_framework.test import APIClient

from buyhive.client_ip import client_key
from buyhive.tests.test_production_settings import production_env, run_python

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login/"


def _login(client: APIClient, email: str, **extra: Any) -> Any:
    body = {"email": email, "password": "wrong password 1"}
    return client.post(LOGIN, body, format="json", **extra)


def test_production_trusts_no_forwarded_for_unless_told() -> None:
    code = """
        import json
        from django.conf import settings
        print(json.dumps({"TRUSTED_PROXY_COUNT": settings.TRUSTED_PROXY_COUNT}))
    """
    result = run_python(code, production_env())
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"TRUSTED_PROXY_COUNT": 0}
    behind_alb = run_python(code, production_env(TRUSTED_PROXY_COUNT="1"))
    assert json.loads(behind_alb.stdout.strip().splitlines()[-1]) == {"TRUSTED_PROXY_COUNT": 1}


def test_a_direct_caller_rotating_forwarded_for_is_limited(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 0
    settings.RATE_LOGIN_IP = "5/h"
    client = APIClient()
    statuses = [
        _login(client, f"u{n}@example.com", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(8)
    ]
    assert statuses == [401] * 5 + [429] * 3


def test_the_request_log_records_the_address_the_limits_use(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        # The client wrote 6.6.6.6; the proxy appended the address it saw, 203.0.113.9.
        _login(APIClient(), "x@example.com", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    finished = [e for e in logs if e["event"] == "request_finished"]
    assert finished, [e["event"] for e in logs]
    assert {e.get("ip") for e in finished} == {"203.0.113.9"}


def test_ipv6_clients_are_counted_per_64(settings: Any) -> None:
    settings.RATE_LOGIN_IP = "2/h"
    client = APIClient()
    assert _login(client, "a@example.com", REMOTE_ADDR="2001:db8:1:2::1").status_code == 401
    assert _login(client, "b@example.com", REMOTE_ADDR="2001:db8:1:2::ffff").status_code == 401
    limited = _login(client, "c@example.com", REMOTE_ADDR="2001:db8:1:2:aaaa:bbbb:cccc:dddd")
    assert limited.status_code == 429  # the same /64: the same client
    assert _login(client, "d@example.com", REMOTE_ADDR="2001:db8:1:3::1").status_code == 401


def test_client_keys() -> None:
    assert client_key("192.0.2.7") == "ip:192.0.2.7"
    assert client_key("2001:db8:1:2:3:4:5:6") == "ip6:2001:db8:1:2::/64"
    assert client_key("::ffff:192.0.2.7") == "ip:192.0.2.7"
    assert client_key("unknown") == "ip:unknown"
