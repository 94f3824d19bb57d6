"""Root fixtures: the embedded database for the test session, Redis, users and clients.

Fixtures only: the factories they use live with their app (``accounts/tests/factories.py``,
``carts/tests/factories.py``).

When ``MONGODB_URI`` is unset, the session starts a throwaway SecantusDB (in memory) and
points Django at it before pytest-django creates ``test_buyhive``. With ``MONGODB_URI``
set (a mongod replica set, Atlas), that server is used instead and nothing is started, and
the tests marked ``secantusdb_quirk`` (a SecantusDB difference from mongod and our fix for it)
are skipped: there is no quirk to exercise.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from rest_framework.test import APIClient


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a real MongoDB (MONGODB_URI set), skip the SecantusDB quirk tests."""
    if not os.environ.get("MONGODB_URI"):
        return
    skip = pytest.mark.skip(reason="SecantusDB quirk: MONGODB_URI names a real MongoDB")
    for item in items:
        if item.get_closest_marker("secantusdb_quirk"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def embedded_mongodb_uri() -> Iterator[str | None]:
    """A throwaway SecantusDB for this test session (None when MONGODB_URI is set)."""
    if os.environ.get("MONGODB_URI"):
        yield None
        return
    from buyhive.devdb.testserver import start_ephemeral

    server = start_ephemeral()
    try:
        yield server.uri
    finally:
        server.stop()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(embedded_mongodb_uri: str | None) -> None:
    if embedded_mongodb_uri:
        settings.DATABASES["default"]["HOST"] = embedded_mongodb_uri
        connections["default"].settings_dict["HOST"] = embedded_mongodb_uri
        connections["default"].close()


@pytest.fixture(scope="session")
def task_worker(django_db_setup: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real Celery worker subprocess on this session's broker queue and test database.

    Started once, when a test first asks for it; it sends mail with the file backend into a
    directory the tests read (``task_worker.wait_for_messages(to=...)``).
    """
    from buyhive.tests.task_worker import start_worker

    db = connections["default"].settings_dict
    worker = start_worker(
        mongodb_uri=db["HOST"], db_name=db["NAME"], work_dir=tmp_path_factory.mktemp("worker")
    )
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def worker(task_worker: Any) -> Any:
    """The session's worker with an empty outbox directory for this test."""
    task_worker.clear_outbox()
    return task_worker


@pytest.fixture(scope="session", autouse=True)
def _broker_keys_purged() -> Iterator[None]:
    """At the end, delete this session's broker keys (its prefix only) from the shared Redis.

    Requests in tests without a worker publish tasks nobody consumes; they must not pile up.
    """
    yield
    import redis

    prefix = settings.CELERY_KEY_PREFIX
    if not prefix:
        return
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2)
    try:
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
    except redis.RedisError:
        pass
    finally:
        client.close()


@pytest.fixture(scope="session", autouse=True)
def _fast_flush() -> None:
    """Empty the test database between tests in a few round trips, not a few hundred.

    MongoDB has no rollback for Django's test cases, so pytest-django flushes every collection
    after each database test, and that was most of a test's time here:

    * django-mongodb-backend's ``execute_sql_flush`` asks each collection for its options (a
      ``listCollections`` round trip) before deleting it: this reads them all once;
    * Django's ``flush`` then emits ``post_migrate``, which re-creates every content type and
      permission, one query each: the two tables that hold them are written by ``migrate``
      and never by the code under test, so they are kept, and the signal is not sent.

    The effect is the same empty database with its content types and permissions in place.
    Test-only: production never flushes.
    """
    from django.core.management.commands import flush
    from django_mongodb_backend.operations import DatabaseOperations

    kept = {"django_content_type", "auth_permission"}

    def execute_sql_flush(self: Any, tables: list[str]) -> None:
        database = self.connection.database
        existing = {info["name"]: info.get("options", {}) for info in database.list_collections()}
        for table in tables:
            options = existing.get(table)
            if options is None or table in kept or table.startswith("system."):
                continue
            if not options.get("capped"):
                database[table].delete_many({})

    DatabaseOperations.execute_sql_flush = execute_sql_flush  # type: ignore[method-assign]
    flush.emit_post_migrate_signal = lambda *args, **kwargs: None  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may resolve a public name or connect anywhere but loopback.

    Fakes (Google's keys, the LLM providers, image servers, SES) all listen on 127.0.0.1; an
    address that slips past a fake fails the test here instead of leaving the machine.
    """
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in {"localhost", "127.0.0.1", "::1"}:
            raise socket.gaierror(socket.EAI_NONAME, "name resolution is disabled in tests")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            assert ipaddress.ip_address(address[0]).is_loopback, f"non-loopback {address}"
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture(autouse=True)
def _clean_cache() -> None:
    """Each test starts with an empty cache: no leaked counters (only this run's keys), and
    no user kept by this process's layer of the auth cache."""
    from accounts.auth_cache import clear_local

    clear_local()
    try:
        cache.delete_pattern("*")  # type: ignore[attr-defined]  # django-redis, prefix-scoped
    except AttributeError:
        cache.clear()  # a test that swapped in another cache backend


@pytest.fixture
def password() -> str:
    return "correct horse battery staple 42"


@pytest.fixture
def user(db: Any, password: str) -> Any:
    from accounts.tests.factories import UserFactory

    return UserFactory(
        email="alice@example.com", password=password, name="Alice", email_verified=True
    )


@pytest.fixture
def other_user(db: Any, password: str) -> Any:
    from accounts.tests.factories import UserFactory

    return UserFactory(email="bob@example.com", password=password, name="Bob")


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def bearer_client_for(user: Any) -> APIClient:
    """An API client carrying a real access token for ``user``."""
    from accounts.tokens import issue_tokens

    client = APIClient()
    tokens = issue_tokens(user)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    return client


def api_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The error of an envelope answer, after checking its status, code and request id."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code, body
    assert body["request_id"]
    return dict(body["error"])


def otp_admin_client_for(user: Any) -> Any:
    """A Django test Client signed in to the admin as ``user``, second factor included.

    The admin needs a session verified by a TOTP device (django-otp): this enrols one and
    marks the session verified, as a real password + code sign-in does.
    """
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def auth_client(user: Any) -> APIClient:
    return bearer_client_for(user)


@pytest.fixture
def other_client(other_user: Any) -> APIClient:
    return bearer_client_for(other_user)
