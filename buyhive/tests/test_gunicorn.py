"""gunicorn with gthread workers (and the uvicorn alternative) on the production settings, as
the Docker image runs it.

The configuration tests load ``gunicorn.conf.py`` the way gunicorn does and check each value
against gunicorn's own validators and against the ECS/ALB settings in deploy/aws. The server
tests start the real thing (``python -m gunicorn -c gunicorn.conf.py``) on 127.0.0.1 with
``DJANGO_SETTINGS_MODULE=buyhive.settings.production`` and a test environment: the test
session's database (the same one the fixtures write to), Redis database 15, an
``ALLOWED_HOSTS`` that names only the public host (so the probes' Host must be accepted by
the settings themselves), the SSL redirect on (``X-Forwarded-Proto: https`` is sent as the
ALB would), and no email or Sentry.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import runpy
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from gunicorn.config import Config

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "gunicorn.conf.py"
SERVICE_TEMPLATE = REPO / "deploy" / "aws" / "service.yaml"
PUBLIC_HOST = "api.buyhive.test"
GRACEFUL_TIMEOUT = 15
_CONF_ENV = (
    "PORT",
    "BIND_HOST",
    "WEB_CONCURRENCY",
    "GUNICORN_TIMEOUT",
    "GUNICORN_GRACEFUL_TIMEOUT",
    "GUNICORN_KEEPALIVE",
    "GUNICORN_MAX_REQUESTS",
    "GUNICORN_MAX_REQUESTS_JITTER",
    "GUNICORN_WORKER_CLASS",
    "GUNICORN_THREADS",
    "GUNICORN_WORKER_CONNECTIONS",
    "FORWARDED_ALLOW_IPS",
    "LOG_LEVEL",
    "LOG_FORMAT",
)


# --------------------------------------------------------------------------------------------
# gunicorn.conf.py
# --------------------------------------------------------------------------------------------


def load_conf(monkeypatch: pytest.MonkeyPatch, **env: str) -> Config:
    """Read gunicorn.conf.py as gunicorn does; every value goes through gunicorn's validators."""
    for name in _CONF_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    namespace = runpy.run_path(str(CONF))
    cfg = Config()
    for name, value in namespace.items():
        if name in cfg.settings:
            cfg.set(name, value)
    return cfg


def test_defaults_serve_the_wsgi_app_with_bounded_gthread_workers_on_all_interfaces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = load_conf(monkeypatch)
    assert cfg.worker_class_str == "buyhive.gunicorn_workers.DrainingThreadWorker"
    assert cfg.wsgi_app == "buyhive.wsgi:application"
    assert (cfg.threads, cfg.worker_connections) == (4, 100)
    assert cfg.address == [("0.0.0.0", 8000)]  # noqa: S104 - what a container must do
    assert cfg.workers == 2
    assert cfg.preload_app is False  # the MongoClient must be created after the fork
    assert cfg.accesslog is None  # django-structlog logs each request once
    assert cfg.forwarded_allow_ips == ["127.0.0.1", "::1"]
    assert cfg.control_socket_disable is True


def test_environment_sets_workers_timeouts_and_trusted_proxies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = load_conf(
        monkeypatch,
        PORT="9001",
        BIND_HOST="127.0.0.1",
        WEB_CONCURRENCY="3",
        GUNICORN_TIMEOUT="90",
        GUNICORN_GRACEFUL_TIMEOUT="20",
        GUNICORN_KEEPALIVE="80",
        GUNICORN_MAX_REQUESTS="1000",
        GUNICORN_MAX_REQUESTS_JITTER="100",
        FORWARDED_ALLOW_IPS="10.20.0.0/16",
    )
    assert cfg.address == [("127.0.0.1", 9001)]
    assert (cfg.workers, cfg.timeout, cfg.graceful_timeout, cfg.keepalive) == (3, 90, 20, 80)
    assert (cfg.max_requests, cfg.max_requests_jitter) == (1000, 100)
    assert cfg.forwarded_allow_ips == ["10.20.0.0/16"]


def test_uvicorn_concurrency_is_bounded_by_worker_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gunicorn.glogging import Logger

    cfg = load_conf(monkeypatch, GUNICORN_WORKER_CLASS="uvicorn", GUNICORN_WORKER_CONNECTIONS="7")
    assert cfg.wsgi_app == "buyhive.asgi:application"
    worker = cfg.worker_class(0, 0, [], None, 30, cfg, Logger(cfg))
    assert worker.config.limit_concurrency == 7


def test_the_gthread_class_serves_the_wsgi_app_with_bounded_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = load_conf(monkeypatch, GUNICORN_WORKER_CLASS="gthread", GUNICORN_THREADS="3")
    assert cfg.worker_class_str == "buyhive.gunicorn_workers.DrainingThreadWorker"
    assert cfg.wsgi_app == "buyhive.wsgi:application"
    assert (cfg.threads, cfg.worker_connections) == (3, 100)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GUNICORN_WORKER_CLASS", "eventlet"),
        ("GUNICORN_THREADS", "0"),
        ("WEB_CONCURRENCY", "0"),
        ("WEB_CONCURRENCY", "two"),
        ("PORT", "0"),
        ("GUNICORN_TIMEOUT", "-1"),
    ],
)
def test_bad_values_stop_the_server_from_starting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    with pytest.raises(RuntimeError, match=name):
        load_conf(monkeypatch, **{name: value})


def test_an_empty_value_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_conf(monkeypatch, GUNICORN_TIMEOUT="", WEB_CONCURRENCY=" ")
    assert (cfg.timeout, cfg.workers) == (60, 2)


def _service_template() -> dict[str, Any]:
    from cfnlint.decode import cfn_yaml

    return cfn_yaml.load(str(SERVICE_TEMPLATE))  # type: ignore[no-any-return]


def test_shutdown_and_keepalive_fit_the_ecs_and_alb_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGTERM drains before ECS kills; the ALB, not gunicorn, closes idle connections."""
    cfg = load_conf(monkeypatch)
    resources = _service_template()["Resources"]
    (container,) = resources["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    assert cfg.graceful_timeout < container["StopTimeout"]
    lb_attributes = {
        a["Key"]: a["Value"]
        for a in resources["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]
    }
    assert cfg.keepalive > int(lb_attributes["idle_timeout.timeout_seconds"])
    tg_attributes = {
        a["Key"]: a["Value"]
        for a in resources["TargetGroup"]["Properties"]["TargetGroupAttributes"]
    }
    # ECS sends SIGTERM only after the target has drained from the load balancer.
    assert int(tg_attributes["deregistration_delay.timeout_seconds"]) <= 60
    health = resources["TargetGroup"]["Properties"]
    assert health["HealthCheckPath"] == "/health"


# --------------------------------------------------------------------------------------------
# The real server
# --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            conn.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=GRACEFUL_TIMEOUT + 5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


READY_TOKEN = secrets.token_urlsafe(16)


def server_env(port: int) -> dict[str, str]:
    """The production settings with a test environment pointing at this test session's DB."""
    database = connections["default"].settings_dict
    drop = {"MONGODB_URI", "MONGODB_NAME", "SENTRY_DSN", "JWT_SIGNING_KEY", "DEBUG"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="buyhive.settings.production",
        ENVIRONMENT="staging",
        SECRET_KEY=settings.SECRET_KEY,  # the session's own key (buyhive/settings/test.py)
        MONGODB_URI=database["HOST"],
        MONGODB_NAME=database["NAME"],
        REDIS_URL=settings.CACHES["default"]["LOCATION"],
        ALLOWED_HOSTS=PUBLIC_HOST,
        ALLOWED_ORIGINS="https://app.buyhive.test",
        PUBLIC_BASE_URL=f"https://{PUBLIC_HOST}",
        DEFAULT_FROM_EMAIL="BuyHive <no-reply@buyhive.test>",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        # The session's own broker keys and queue (Redis), not the production SQS default.
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CELERY_KEY_PREFIX=settings.CELERY_KEY_PREFIX,
        CELERY_TASK_DEFAULT_QUEUE=settings.CELERY_TASK_DEFAULT_QUEUE,
        READY_DETAIL_TOKEN=READY_TOKEN,
        PORT=str(port),
        BIND_HOST="127.0.0.1",
        WEB_CONCURRENCY="2",
        GUNICORN_GRACEFUL_TIMEOUT=str(GRACEFUL_TIMEOUT),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


@contextlib.contextmanager
def running_server(log: Path, startup_timeout: float = 60.0, **extra_env: str) -> Iterator[Server]:
    port = _free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(CONF)],
            cwd=REPO,
            env={**server_env(port), **extra_env},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: the workers stop with it
        )
    server = Server(process=process, port=port, log=log)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited with {process.returncode}:\n{server.output()}")
            try:
                if server.request("GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not answer /health in time:\n{server.output()}")
            time.sleep(0.2)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(django_db_setup: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("gunicorn") / "server.log") as running:
        yield running


def https(**headers: str) -> dict[str, str]:
    """What the ALB adds: TLS ended there, and the public host name."""
    return {"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https", **headers}


def test_health_answers_the_probes_by_ip_over_plain_http(server: Server) -> None:
    # The container HEALTHCHECK and the ALB name the target by IP, over plain HTTP.
    status, headers, body = server.request("GET", "/health")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    assert headers["x-request-id"]
    # Any other host is still refused.
    status, _, _ = server.request("GET", "/health", headers={"Host": "evil.example"})
    assert status == 400


HEALTHCHECK = REPO / "deploy" / "docker" / "healthcheck.py"


def _probe(port: int, **env: str) -> subprocess.CompletedProcess[str]:
    """The image's HEALTHCHECK command, as Docker and the ECS task definition run it."""
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK)],
        env={"PATH": os.environ.get("PATH", ""), "PORT": str(port), **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_image_healthcheck_passes_against_the_server(server: Server) -> None:
    assert _probe(server.port).returncode == 0
    # With the local addresses turned off, it names the first allowed host instead.
    named = _probe(server.port, ALLOWED_HOSTS_LOCAL_IPS="false", ALLOWED_HOSTS=PUBLIC_HOST)
    assert named.returncode == 0, named.stderr


def test_the_image_healthcheck_fails_when_nothing_answers() -> None:
    result = _probe(_free_port())
    assert result.returncode == 1
    assert "healthcheck:" in result.stderr


def test_ready_reports_database_and_cache(server: Server) -> None:
    status, _, body = server.request("GET", "/ready")
    assert status == 200
    assert set(json.loads(body)["checks"]["cache"]) == {"status"}  # no detail without the token
    status, _, body = server.request("GET", "/ready", headers={"X-Ready-Token": READY_TOKEN})
    payload = json.loads(body)
    assert status == 200, payload
    assert payload["checks"]["database"]["status"] == "ok"
    assert payload["checks"]["cache"] == {**payload["checks"]["cache"], "status": "ok"}
    assert payload["checks"]["cache"]["backend"] == "RedisCache"


def test_plain_http_to_the_api_is_redirected_to_https(server: Server) -> None:
    status, headers, _ = server.request("GET", "/api/v1/auth/me/", headers={"Host": PUBLIC_HOST})
    assert status == 301
    assert headers["location"] == f"https://{PUBLIC_HOST}/api/v1/auth/me/"


@pytest.mark.django_db
def test_authenticated_request_through_the_load_balancer_headers(server: Server, user: Any) -> None:
    from accounts.tokens import issue_tokens

    access = issue_tokens(user)["access"]
    status, headers, body = server.request(
        "GET", "/api/v1/auth/me/", headers=https(Authorization=f"Bearer {access}")
    )
    assert status == 200, body
    assert json.loads(body)["email"] == "alice@example.com"
    assert headers["strict-transport-security"].startswith("max-age=31536000")

    status, _, body = server.request("GET", "/api/v1/auth/me/", headers=https())
    payload = json.loads(body)
    assert status == 401
    assert payload["error"]["code"] == "not_authenticated"
    assert payload["request_id"]

    # The request's CloudWatch metric line (EMF) is on stdout, tied to the response's id.
    request_id = headers["x-request-id"]
    deadline = time.monotonic() + 5
    records: list[dict[str, Any]] = []
    while not records and time.monotonic() < deadline:
        records = [
            json.loads(line)
            for line in server.output().splitlines()
            if line.startswith('{"_aws"') and request_id in line
        ]
        time.sleep(0.1)
    (record,) = records
    assert record["Route"] == "GET api/v1/auth/me/"
    assert (record["StatusClass"], record["Environment"]) == ("2xx", "staging")
    assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "BuyHive"


def _connect_refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


@pytest.mark.django_db
@pytest.mark.parametrize("worker_class", ["gthread", "uvicorn"])
def test_sigterm_drains_an_in_flight_request_then_exits_cleanly(
    user: Any, tmp_path: Path, worker_class: str
) -> None:
    """A request still being received when SIGTERM arrives is served in full; exit code 0,
    under the default worker class and the alternative."""
    from accounts.models import User
    from accounts.tokens import issue_tokens

    access = issue_tokens(user)["access"]
    body = json.dumps({"name": "Alice Drained"}).encode()
    head = (
        "PATCH /api/v1/auth/me/ HTTP/1.1\r\n"
        f"Host: {PUBLIC_HOST}\r\n"
        "X-Forwarded-Proto: https\r\n"
        f"Authorization: Bearer {access}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()

    with running_server(tmp_path / "server.log", GUNICORN_WORKER_CLASS=worker_class) as server:
        client = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        try:
            # A slow client: headers and half the body now, the rest after SIGTERM.
            client.sendall(head + body[:10])
            time.sleep(0.5)
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)

            # The server stops accepting new connections while our request is in flight.
            deadline = time.monotonic() + 5
            while not _connect_refused(server.port):
                assert time.monotonic() < deadline, "gunicorn kept accepting after SIGTERM"
                time.sleep(0.1)
            assert server.process.poll() is None, "gunicorn exited with a request in flight"

            client.sendall(body[10:])
            raw = b""
            while chunk := client.recv(65536):
                raw += chunk
        finally:
            client.close()

        exit_code = server.process.wait(timeout=GRACEFUL_TIMEOUT + 5)
        drained_in = time.monotonic() - signalled
        log = server.output()

    status_line, _, rest = raw.partition(b"\r\n")
    header_block, _, response_body = rest.partition(b"\r\n\r\n")
    assert status_line.startswith(b"HTTP/1.1 200"), raw[:500]
    declared = next(
        int(line.split(b":", 1)[1])
        for line in header_block.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    assert len(response_body) == declared  # the whole response, not a cut one
    assert json.loads(response_body)["name"] == "Alice Drained"
    assert User.objects.get(pk=user.pk).name == "Alice Drained"
    assert exit_code == 0, log
    assert drained_in < GRACEFUL_TIMEOUT, log
    assert "Shutting down: Master" in log


def _chunked(server: Server, method: str, path: str, body: bytes, token: str) -> bytes:
    """One request with ``Transfer-Encoding: chunked`` (no Content-Length); the raw answer."""
    head = (
        f"{method} {path} HTTP/1.1\r\n"
        f"Host: {PUBLIC_HOST}\r\n"
        "X-Forwarded-Proto: https\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    chunks = b"".join(
        f"{len(body[i : i + 8192]):x}\r\n".encode() + body[i : i + 8192] + b"\r\n"
        for i in range(0, len(body), 8192)
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as client:
        client.sendall(head)
        with contextlib.suppress(OSError):  # the server may answer 413 before reading it all
            client.sendall(chunks + b"0\r\n\r\n")
        raw = b""
        while chunk := client.recv(65536):
            raw += chunk
    return raw


@pytest.mark.django_db
def test_chunked_bodies_are_parsed_within_the_limit_and_refused_past_it(
    server: Server, user: Any
) -> None:
    """Under WSGI Django reads a body without Content-Length as empty; the body-size middleware
    reads it from gunicorn's de-chunked stream instead, and never past the limit."""
    from accounts.models import User
    from accounts.tokens import issue_tokens

    token = issue_tokens(user)["access"]
    raw = _chunked(
        server, "PATCH", "/api/v1/auth/me/", json.dumps({"name": "Chunky"}).encode(), token
    )
    assert raw.startswith(b"HTTP/1.1 200"), raw[:500]
    assert User.objects.get(pk=user.pk).name == "Chunky"

    too_big = json.dumps({"name": "x" * (settings.BODY_SIZE_LIMIT_DEFAULT + 10)}).encode()
    raw = _chunked(server, "PATCH", "/api/v1/auth/me/", too_big, token)
    assert raw.startswith(b"HTTP/1.1 413"), raw[:500]
    assert b'"code":"payload_too_large"' in raw.replace(b" ", b"")  # the (chunked) envelope
    assert User.objects.get(pk=user.pk).name == "Chunky"


def test_the_gthread_class_refuses_new_connections_on_sigterm(tmp_path: Path) -> None:
    """``DrainingThreadWorker`` (the default class; its chunked bodies are checked on the
    module's server above): on SIGTERM new connections are refused at once, and the server
    exits 0."""
    with running_server(tmp_path / "gthread.log", GUNICORN_WORKER_CLASS="gthread") as server:
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        while not _connect_refused(server.port):
            assert time.monotonic() < deadline, "gthread kept accepting after SIGTERM"
            time.sleep(0.1)
        assert server.process.wait(timeout=GRACEFUL_TIMEOUT + 5) == 0, server.output()


@pytest.mark.django_db
def test_the_uvicorn_class_parses_chunked_bodies_within_the_limit(
    user: Any, tmp_path: Path
) -> None:
    """The ASGI alternative (GUNICORN_WORKER_CLASS=uvicorn, ``buyhive.asgi``'s handler): a
    chunked body within the limit is applied, one past it is a 413 with the envelope."""
    from accounts.models import User
    from accounts.tokens import issue_tokens

    token = issue_tokens(user)["access"]
    with running_server(tmp_path / "uvicorn.log", GUNICORN_WORKER_CLASS="uvicorn") as server:
        body = json.dumps({"name": "Evented"}).encode()
        raw = _chunked(server, "PATCH", "/api/v1/auth/me/", body, token)
        assert raw.startswith(b"HTTP/1.1 200"), raw[:500]
        too_big = json.dumps({"name": "x" * (settings.BODY_SIZE_LIMIT_DEFAULT + 10)}).encode()
        raw = _chunked(server, "PATCH", "/api/v1/auth/me/", too_big, token)
        assert raw.startswith(b"HTTP/1.1 413"), raw[:500]
        assert b'"code":"payload_too_large"' in raw.replace(b" ", b"")
    assert User.objects.get(pk=user.pk).name == "Evented"
