"""The production settings module, unchanged, as staging and production load it.

Each case runs in a subprocess (settings are process-wide) with a realistic environment: the
variables the ECS task definition sets, secrets as the task would get them from SSM, the
database and Redis on loopback. Sentry is checked end to end: a real SDK posting real
envelopes to a fake Sentry on 127.0.0.1, read back to prove what leaves the process.
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import socket
import subprocess
import sys
import textwrap
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from buyhive import observability
from buyhive.observability import FILTERED, init_sentry, scrub_event

REPO = Path(__file__).resolve().parents[2]
PUBLIC_HOST = "api.buyhive.test"


def _closed_port() -> int:
    """A loopback port nothing listens on (a database that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def production_env(**overrides: str | None) -> dict[str, str]:
    """What the task definition and its SSM secrets give the container (no dev .env)."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        DJANGO_SETTINGS_MODULE="buyhive.settings.production",
        SECRET_KEY=secrets.token_urlsafe(64),
        MONGODB_URI=f"mongodb://127.0.0.1:{_closed_port()}/?directConnection=true",
        MONGODB_SERVER_SELECTION_TIMEOUT_MS="300",
        REDIS_URL="redis://127.0.0.1:6379/15",
        ALLOWED_HOSTS=PUBLIC_HOST,
        ALLOWED_ORIGINS="chrome-extension://abcdefghijklmnopabcdefghijklmnop,https://app.buyhive.test",
        PUBLIC_BASE_URL=f"https://{PUBLIC_HOST}",
        DEFAULT_FROM_EMAIL="BuyHive <no-reply@buyhive.test>",
        CELERY_SQS_QUEUE_URL="https://sqs.eu-west-1.amazonaws.com/123456789012/buyhive-tasks",
        HF_HUB_OFFLINE="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_python(
    code: str, env: dict[str, str], timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


LOAD_SETTINGS = """
    import json
    from django.conf import settings
    print(json.dumps({"ALLOWED_HOSTS": settings.ALLOWED_HOSTS, "DEBUG": settings.DEBUG}))
"""


# --------------------------------------------------------------------------------------------
# Refusing to start half-configured
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"SECRET_KEY": None, "MONGODB_URI": None},
            "need these environment variables: SECRET_KEY, MONGODB_URI",
        ),
        ({"REDIS_URL": ""}, "need these environment variables: REDIS_URL"),
        ({"SECRET_KEY": "too-short-0123456789"}, "SECRET_KEY must be at least 50 characters"),
        ({"ENVIRONMENT": "qa"}, "ENVIRONMENT must be 'production' or 'staging'"),
        ({"CELERY_SQS_QUEUE_URL": None}, "CELERY_SQS_QUEUE_URL is required with the SQS broker"),
        ({"SENTRY_TRACES_SAMPLE_RATE": "1.5"}, "SENTRY_TRACES_SAMPLE_RATE must be between 0 and 1"),
    ],
)
def test_a_missing_or_bad_variable_stops_the_process(
    overrides: dict[str, str | None], message: str
) -> None:
    result = run_python(LOAD_SETTINGS, production_env(**overrides))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


# --------------------------------------------------------------------------------------------
# check --deploy and what staging and production run with
# --------------------------------------------------------------------------------------------

INSPECT = """
    import json, logging
    import django
    django.setup()
    from django.conf import settings
    from django.core import checks
    messages = checks.run_checks(include_deployment_checks=True)
    handlers = [
        (name, type(h).__name__, getattr(getattr(h, "stream", None), "name", None))
        for name in [None, *settings.LOGGING.get("loggers", {})]
        for h in logging.getLogger(name).handlers
    ]
    print(json.dumps({
        "checks": [[m.id, m.level, m.msg[:200]] for m in messages],
        "ENVIRONMENT": settings.ENVIRONMENT,
        "DEBUG": settings.DEBUG,
        "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
        "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
        "SECURE_REDIRECT_EXEMPT": settings.SECURE_REDIRECT_EXEMPT,
        "SECURE_PROXY_SSL_HEADER": list(settings.SECURE_PROXY_SSL_HEADER),
        "SECURE_HSTS_SECONDS": settings.SECURE_HSTS_SECONDS,
        "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
        "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
        "MIDDLEWARE": settings.MIDDLEWARE,
        "METRICS_ENABLED": settings.METRICS_ENABLED,
        "EMAIL_BACKEND": settings.EMAIL_BACKEND,
        "AWS_SES_AUTO_THROTTLE": settings.AWS_SES_AUTO_THROTTLE,
        "CACHE_LOCATION": settings.CACHES["default"]["LOCATION"],
        "TRUSTED_PROXY_COUNT": settings.TRUSTED_PROXY_COUNT,
        "SENTRY_RELEASE": settings.SENTRY_RELEASE,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_BROKER_TRANSPORT_OPTIONS": settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "CELERY_WORKER_ENABLE_REMOTE_CONTROL": settings.CELERY_WORKER_ENABLE_REMOTE_CONTROL,
        "handlers": handlers,
    }))
"""


@pytest.fixture(scope="module", params=["production", "staging"])
def loaded(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The production module loaded for one environment; staging only sets ENVIRONMENT."""
    result = run_python(
        INSPECT, production_env(ENVIRONMENT=request.param, BUYHIVE_RELEASE="0123abc")
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {"environment": request.param, **json.loads(result.stdout.splitlines()[-1])}


def test_the_broker_is_the_stack_s_sqs_queue_by_url(loaded: dict[str, Any]) -> None:
    """SQS through the task role; the queue named by URL, so the worker never lists or creates
    queues (least privilege), and no remote control (it needs broadcast queues)."""
    assert loaded["CELERY_BROKER_URL"] == "sqs://"
    options = loaded["CELERY_BROKER_TRANSPORT_OPTIONS"]
    assert options["predefined_queues"] == {
        "buyhive": {"url": "https://sqs.eu-west-1.amazonaws.com/123456789012/buyhive-tasks"}
    }
    assert options["is_secure"] is True
    assert options["wait_time_seconds"] == 20
    assert loaded["CELERY_WORKER_ENABLE_REMOTE_CONTROL"] is False


def test_check_deploy_has_no_security_warning_and_no_error(loaded: dict[str, Any]) -> None:
    # Every warning counts in `make image-check` (--fail-level WARNING); here, those that
    # are about deployment: Django's security.* checks, and anything at ERROR or above.
    problems = [c for c in loaded["checks"] if c[0].startswith("security.") or c[1] >= 40]
    assert problems == []


def test_staging_is_the_production_module_with_its_own_name(loaded: dict[str, Any]) -> None:
    assert loaded["ENVIRONMENT"] == loaded["environment"]
    assert loaded["DEBUG"] is False
    assert loaded["SENTRY_RELEASE"] == "0123abc"  # the image's commit, for Sentry


def test_https_behind_the_load_balancer_with_probes_exempt(loaded: dict[str, Any]) -> None:
    assert loaded["SECURE_SSL_REDIRECT"] is True
    assert loaded["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert loaded["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert loaded["SESSION_COOKIE_SECURE"] is True
    assert loaded["CSRF_COOKIE_SECURE"] is True
    assert {r"^health$", r"^ready$"} <= set(loaded["SECURE_REDIRECT_EXEMPT"])
    # 0 unless the deployment says how many proxies append to X-Forwarded-For (the ALB and
    # App Runner templates set 1): a direct caller cannot pick its own address.
    assert loaded["TRUSTED_PROXY_COUNT"] == 0


def test_probes_by_address_are_allowed_hosts(loaded: dict[str, Any]) -> None:
    # The image HEALTHCHECK asks 127.0.0.1; the ALB health check names the task's own IP.
    assert loaded["ALLOWED_HOSTS"][0] == PUBLIC_HOST
    assert "127.0.0.1" in loaded["ALLOWED_HOSTS"]
    assert "*" not in loaded["ALLOWED_HOSTS"]


def test_local_addresses_can_be_left_out() -> None:
    result = run_python(LOAD_SETTINGS, production_env(ALLOWED_HOSTS_LOCAL_IPS="false"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ALLOWED_HOSTS"] == [PUBLIC_HOST]


def test_metrics_middleware_is_last_and_on(loaded: dict[str, Any]) -> None:
    assert loaded["MIDDLEWARE"][-1] == "buyhive.metrics.MetricsMiddleware"
    assert loaded["MIDDLEWARE"].count("buyhive.metrics.MetricsMiddleware") == 1
    assert loaded["METRICS_ENABLED"] is True


def test_mail_goes_through_ses_without_calls_the_task_role_forbids(
    loaded: dict[str, Any],
) -> None:
    assert loaded["EMAIL_BACKEND"] == "django_ses.SESBackend"
    # django-ses's throttle would call ses:GetSendQuota, which the task role does not allow.
    assert not loaded["AWS_SES_AUTO_THROTTLE"]


def test_redis_is_the_configured_one(loaded: dict[str, Any]) -> None:
    assert loaded["CACHE_LOCATION"] == "redis://127.0.0.1:6379/15"


def test_logs_go_to_stdout_only(loaded: dict[str, Any]) -> None:
    assert loaded["handlers"], "no log handler at all"
    for logger, kind, stream in loaded["handlers"]:
        assert kind == "StreamHandler", logger
        assert stream == "<stdout>", logger


# --------------------------------------------------------------------------------------------
# Sentry: the scrubber, then the real SDK end to end
# --------------------------------------------------------------------------------------------


def test_sample_rates_are_checked_before_anything_starts() -> None:
    with pytest.raises(ValueError, match="SENTRY_SAMPLE_RATE"):
        init_sentry(dsn="", environment="production", sample_rate=-0.1)
    assert init_sentry(dsn="", environment="production") is False


def test_scrub_event_removes_personal_data_and_credentials() -> None:
    event = {
        "message": "reset mail to Alice@Example.com failed",
        "server_name": "ip-10-20-1-5",
        "user": {"id": "65f0c0ffee", "email": "alice@example.com", "ip_address": "203.0.113.7"},
        "request": {
            "url": "https://api.buyhive.test/api/v1/shared/s3cr3t-share-token/",
            "query_string": "token=abc&page=2",
            "cookies": {"sessionid": "xyz"},
            "data": {"email": "alice@example.com", "password": "hunter2"},
            "env": {"REMOTE_ADDR": "203.0.113.7"},
            "headers": {
                "Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
                "Cookie": "sessionid=xyz",
                "X-Forwarded-For": "203.0.113.7",
                "User-Agent": "BuyHive-Extension/1.2",
                "X-Request-ID": "req-1",
            },
        },
        "exception": {
            "values": [
                {
                    "type": "ServerSelectionTimeoutError",
                    "value": "mongodb+srv://buyhive:Pa55word@cluster0.x.mongodb.net timed out",
                    "stacktrace": {
                        "frames": [
                            {
                                "function": "login",
                                "vars": {
                                    "password": "hunter2",
                                    "attrs": {"email": "alice@example.com", "new_password": "x"},
                                    "note": "password=hunter2 for bob@example.org",
                                    "count": 3,
                                },
                            }
                        ]
                    },
                }
            ]
        },
        "breadcrumbs": {
            "values": [{"message": "GET /api/v1/auth/me/", "data": {"authorization": "Bearer x"}}]
        },
        "extra": {"refresh": "eyJ.raw", "cart_id": "65f0c0ffee11"},
    }
    scrubbed = scrub_event(event)
    text = json.dumps(scrubbed)
    for secret in (
        "alice@example.com",
        "Alice@Example.com",
        "bob@example.org",
        "hunter2",
        "Pa55word",
        "203.0.113.7",
        "sessionid",
        "eyJhbGciOiJIUzI1NiJ9",
        "s3cr3t-share-token",
        "ip-10-20-1-5",
    ):
        assert secret not in text, secret
    request = scrubbed["request"]
    assert request["headers"] == {"User-Agent": "BuyHive-Extension/1.2", "X-Request-ID": "req-1"}
    assert request["data"] == FILTERED
    assert request["query_string"] == FILTERED
    assert scrubbed["user"] == {"id": "65f0c0ffee"}
    assert scrubbed["extra"] == {"refresh": FILTERED, "cart_id": "65f0c0ffee11"}
    frame_vars = scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]
    assert frame_vars["count"] == 3  # what is not personal stays, for debugging
    assert scrubbed["exception"]["values"][0]["type"] == "ServerSelectionTimeoutError"
    assert event["user"]["email"] == "alice@example.com"  # the input is not modified


class _FakeSentry(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _EnvelopeHandler)
        self.envelopes: list[str] = []


class _EnvelopeHandler(BaseHTTPRequestHandler):
    server: _FakeSentry

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        self.server.envelopes.append(body.decode("utf-8", errors="replace"))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def _json_lines(envelope: str) -> list[dict[str, Any]]:
    """An envelope's JSON lines: its header, each item's header and each item."""
    items = []
    for line in envelope.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            items.append(value)
    return items


@pytest.fixture
def fake_sentry() -> Iterator[_FakeSentry]:
    server = _FakeSentry()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


SENTRY_PROBE = """
    import asyncio
    import logging

    import sentry_sdk

    from buyhive.asgi import application  # the app gunicorn's uvicorn workers would serve
    from buyhive.tests.asgi_scope import http_scope

    # An admin page while the database is down: the session lookup fails, Django answers 500
    # and Sentry's Django (ASGI) integration reports the exception with the request.
    scope = http_scope(
        "GET",
        "/admin/",
        {
            "x-forwarded-proto": "https",
            "cookie": "sessionid=abc123sessionvalue; csrftoken=csrf456",
            "authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
            "x-forwarded-for": "203.0.113.7",
            "user-agent": "probe/1.0",
        },
        host="api.buyhive.test",
        client="203.0.113.7",
    )
    sent = []
    state = {"body_sent": False}

    async def receive():
        # The body once; then, like a server, "disconnect" only after the response is out.
        if not state["body_sent"]:
            state["body_sent"] = True
            return {"type": "http.request", "body": b"", "more_body": False}
        while not any(m["type"] == "http.response.body" for m in sent):
            await asyncio.sleep(0.01)
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(application(scope, receive, send))
    print("status", next(m["status"] for m in sent if m["type"] == "http.response.start"))
    # An error log line: the logging integration turns it into an event.
    logging.getLogger("buyhive.probe").error("reset failed for alice@example.com password=hunter2")
    sentry_sdk.flush(timeout=10)
"""


def test_sentry_events_leave_with_tags_and_without_pii(fake_sentry: _FakeSentry) -> None:
    port = fake_sentry.server_address[1]
    env = production_env(
        ENVIRONMENT="staging",
        ALLOWED_HOSTS_LOCAL_IPS="false",
        SENTRY_DSN=f"http://publickey@127.0.0.1:{port}/42",
        BUYHIVE_RELEASE="0123abc",
        SENTRY_SAMPLE_RATE="1.0",
        LOG_LEVEL="WARNING",
    )
    result = run_python(SENTRY_PROBE, env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "status 500" in result.stdout

    raw = "\n".join(fake_sentry.envelopes)
    for secret in (
        "alice@example.com",
        "hunter2",
        "abc123sessionvalue",
        "csrf456",
        "eyJhbGciOiJIUzI1NiJ9",
        "203.0.113.7",
    ):
        assert secret not in raw, f"{secret} reached Sentry"

    events = [
        item
        for item in (_json_lines(envelope) for envelope in fake_sentry.envelopes)
        for item in item
        if "platform" in item and ("exception" in item or "logentry" in item)
    ]
    assert len(events) >= 2, raw[:2000]
    for event in events:
        assert event["environment"] == "staging"
        assert event["release"] == "0123abc"
        assert event["tags"]["service"] == "buyhive-api"
        assert set(event.get("user", {})) <= {"id"}
    crash = next(e for e in events if "exception" in e)
    # The database being down, as Django wraps it (the pymongo error is in the chain).
    chain = {value["type"] for value in crash["exception"]["values"]}
    assert "ServerSelectionTimeoutError" in chain, chain
    headers = {name.lower() for name in crash["request"]["headers"]}
    assert headers.isdisjoint({"cookie", "authorization", "x-forwarded-for"})
    assert "cookies" not in crash["request"]
    log_event = next(e for e in events if "logentry" in e)
    assert "[Filtered]" in json.dumps(log_event["logentry"])


def test_scrubber_knows_every_sensitive_key_it_claims() -> None:
    for key in ("password", "new_password", "refresh", "id_token", "MONGODB_URI", "HTTP_COOKIE"):
        assert observability.is_sensitive_key(key), key
    for key in ("cart_id", "count", "status", "type", "value", "frames"):
        assert not observability.is_sensitive_key(key), key
