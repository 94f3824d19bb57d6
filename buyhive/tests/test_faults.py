"""Dependencies failing under the API: each has a documented answer and loses no data.

See docs/reliability.md for the table these tests pin.

- **The database goes away** (a dedicated SecantusDB for this module, killed with SIGKILL
  before a request, in the middle of a transaction, and right after a commit; a connection
  cut at the commit): the answer is the 503 envelope with ``Retry-After``; after a restart a
  multi-document write (``PUT items/{id}/carts/``, ``POST extract/`` with ``cart_ids``) is
  either entirely there or entirely absent, and an acknowledged one is there.
- **Redis goes away** (refused, or a black hole that never answers): sign-in, registration,
  password reset and sharing by email fail closed (503); reads, cart writes, token refresh,
  extraction and the checks fail open; ``/ready`` says "degraded" and stays 200.
- **The LLM times out or errors**: the product comes from the page's structured data and
  ``llm.status`` is "unavailable"; that answer is not cached, so the next request, with the
  LLM back, uses it.
- **Models missing or failing to load**: the checks answer 200 with ``status: unavailable``
  and the reason; extraction still answers; ``/ready`` reports them and stays 200.
- **An image server that hangs or sends 1 GB**: ``verify/image/`` answers 422
  ``image_fetch_failed`` within the configured bounds, having read at most the size cap.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId
from django.core.management import call_command
from django.db import connections
from pymongo import MongoClient, monitoring
from rest_framework.test import APIClient

from buyhive.devdb.common import REPO_ROOT, SERVE_MODULE, server_uri
from buyhive.mail.models import OutboundMail
from conftest import bearer_client_for

pytestmark = [pytest.mark.slow]

PAGE_HTML = (
    "<html><head><title>Blue Kettle</title>"
    '<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Product",'
    ' "name": "Blue Kettle", "offers": {"@type": "Offer", "price": "19.99",'
    ' "priceCurrency": "USD"}}</script></head><body><h1>Blue Kettle</h1>'
    "<p>Brand: Acme. In stock. A 1.7 litre kettle in blue.</p></body></html>"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# =============================================================================================
# The database going away
# =============================================================================================


class DurableServer:
    """A SecantusDB of our own, on disk, that a test can kill and start again.

    ``--sync-on-commit`` makes an acknowledged commit durable across SIGKILL, as a replica
    set's majority write concern (journaled) is in production; without it SecantusDB keeps
    recent commits in memory for a few seconds. The ``$addFields`` fix is applied by our
    launcher (``python -m buyhive.devdb serve``), and the server exits with us.
    """

    def __init__(self, workdir: Path) -> None:
        self.data_dir = workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "server.log"
        self.port = _free_port()
        self.uri = server_uri("127.0.0.1", self.port)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            sys.executable, "-m", SERVE_MODULE, "serve",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--storage-path", str(self.data_dir), "--log-level", "WARNING",
            "--sync-on-commit", "--enable-test-commands",
            "--parent-pid", str(os.getpid()),
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
            )  # fmt: skip
        client: MongoClient[dict[str, Any]] = MongoClient(
            self.uri, serverSelectionTimeoutMS=250, connectTimeoutMS=250
        )
        deadline = time.monotonic() + 20
        try:
            while True:
                with contextlib.suppress(Exception):
                    client.admin.command("ping")
                    return
                assert self.process.poll() is None, self.log_path.read_text()[-2000:]
                assert time.monotonic() < deadline, "the database did not start"
                time.sleep(0.05)
        finally:
            client.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, like a crashed host or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        self.kill()
        self.process = None

    def client(self) -> MongoClient[dict[str, Any]]:
        return MongoClient(self.uri, serverSelectionTimeoutMS=3000)


class KillOn(monitoring.CommandListener):
    """Kills the server when the request's N-th matching command starts (or succeeds).

    A pymongo command listener (a third-party seam, not our code): it runs in the request's
    thread just before the command goes on the wire, so the kill lands exactly there.
    """

    def __init__(self) -> None:
        self.server: DurableServer | None = None
        self.predicate: Callable[[Any], bool] | None = None
        self.on_success = False
        self.remaining = 0
        self.fired = threading.Event()

    def arm(
        self,
        server: DurableServer,
        predicate: Callable[[Any], bool],
        *,
        nth: int = 1,
        on_success: bool = False,
    ) -> None:
        self.server, self.predicate, self.on_success = server, predicate, on_success
        self.remaining = nth
        self.fired.clear()

    def disarm(self) -> None:
        self.predicate = None

    def _maybe_kill(self, event: Any) -> None:
        if self.predicate is None or self.server is None or not self.predicate(event):
            return
        self.remaining -= 1
        if self.remaining == 0:
            self.predicate = None
            self.server.kill()
            self.fired.set()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not self.on_success:
            self._maybe_kill(event)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if self.on_success:
            self._maybe_kill(event)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return


def _is_insert_into(collection: str) -> Callable[[Any], bool]:
    def predicate(event: Any) -> bool:
        return bool(
            event.command_name == "insert"
            and getattr(event, "command", {}).get("insert") == collection
        )

    return predicate


def _is_command(name: str) -> Callable[[Any], bool]:
    return lambda event: event.command_name == name


def _point_default_connection(host: str, options: dict[str, Any]) -> None:
    connection = connections["default"]
    connection.close_pool()
    connection.settings_dict["HOST"] = host
    connection.settings_dict["OPTIONS"] = options


@pytest.fixture(scope="module")
def fault_db(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DurableServer, KillOn]]:
    """A durable server with the test database's collections and indexes (``migrate``)."""
    server = DurableServer(tmp_path_factory.mktemp("fault-db"))
    server.start()
    listener = KillOn()
    connection = connections["default"]
    original = (connection.settings_dict["HOST"], dict(connection.settings_dict["OPTIONS"]))
    with django_db_blocker.unblock():
        _point_default_connection(server.uri, dict(original[1]))
        try:
            call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)
        finally:
            _point_default_connection(*original)
    yield server, listener
    server.stop()


@pytest.fixture
def on_fault_db(
    db: Any, fault_db: tuple[DurableServer, KillOn]
) -> Iterator[tuple[DurableServer, KillOn]]:
    """Point Django at the fault server (running, emptied) for one test, then back."""
    server, listener = fault_db
    if not server.running:
        server.start()
    connection = connections["default"]
    original = (connection.settings_dict["HOST"], dict(connection.settings_dict["OPTIONS"]))
    # The production options (3 s server selection, retryable writes, majority), plus the
    # listener that lets a test kill the server at an exact command.
    _point_default_connection(server.uri, {**original[1], "event_listeners": [listener]})
    call_command("flush", interactive=False, verbosity=0)
    try:
        yield server, listener
    finally:
        listener.disarm()
        _point_default_connection(*original)


def _restart(server: DurableServer) -> None:
    """Start the killed server again, and drop pooled sockets to the dead process."""
    assert not server.running
    server.start()
    connections["default"].close_pool()


def _assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.content
    body = response.json()
    assert body["error"]["code"] == "service_unavailable"
    assert body["request_id"] == response["X-Request-ID"]
    assert int(response["Retry-After"]) >= 1


def _memberships(server: DurableServer, item_id: Any) -> list[str]:
    """Read straight from the restarted server: the cart ids the item is in (with repeats)."""
    client = server.client()
    try:
        database = client[connections["default"].settings_dict["NAME"]]
        rows = database["carts_cartitem"].find({"item_id": ObjectId(str(item_id))})
        return sorted(str(row["cart_id"]) for row in rows)
    finally:
        client.close()


@pytest.fixture
def shopper(on_fault_db: tuple[DurableServer, KillOn]) -> dict[str, Any]:
    """A user with four carts and an item in the first, on the fault server."""
    from accounts.tests.factories import UserFactory
    from carts import services

    user = UserFactory(email="carol@example.com", password="pw-1234567890")
    carts = [services.cart_create(owner=user, name=f"Cart {n}") for n in range(4)]
    item, _ = services.item_upsert(
        owner=user,
        data={"url": "https://shop.example.com/kettle", "title": "Kettle", "price": "20"},
        cart_ids=[carts[0].pk],
    )
    return {"user": user, "carts": carts, "item": item, "client": bearer_client_for(user)}


def test_database_down_before_a_write_is_a_503_envelope_and_nothing_is_written(
    on_fault_db: tuple[DurableServer, KillOn], shopper: dict[str, Any]
) -> None:
    server, _listener = on_fault_db
    client: APIClient = shopper["client"]
    server.kill()
    started = time.monotonic()
    _assert_unavailable(client.post("/api/v1/carts/", {"name": "While down"}, format="json"))
    _assert_unavailable(client.get("/api/v1/carts/"))
    elapsed = time.monotonic() - started
    assert elapsed < 30, f"two requests against a dead database took {elapsed:.1f} s"
    _restart(server)
    names = sorted(c["name"] for c in client.get("/api/v1/carts/").json()["results"])
    assert names == ["Cart 0", "Cart 1", "Cart 2", "Cart 3"]


@pytest.mark.parametrize("nth_insert", [1, 2])
def test_database_killed_inside_the_move_transaction_leaves_the_old_memberships(
    on_fault_db: tuple[DurableServer, KillOn], shopper: dict[str, Any], nth_insert: int
) -> None:
    """PUT items/{id}/carts/ from {cart 0} to {cart 1, 2, 3}; killed at the n-th insert."""
    server, listener = on_fault_db
    carts, item = shopper["carts"], shopper["item"]
    before = _memberships(server, item.pk)
    assert before == [str(carts[0].pk)]
    listener.arm(server, _is_insert_into("carts_cartitem"), nth=nth_insert)
    response = shopper["client"].put(
        f"/api/v1/items/{item.pk}/carts/",
        {"cart_ids": [str(c.pk) for c in carts[1:]]},
        format="json",
    )
    assert listener.fired.is_set()
    _assert_unavailable(response)
    _restart(server)
    assert _memberships(server, item.pk) == before  # nothing of the half-done move


def test_database_killed_right_after_the_commit_keeps_the_whole_write(
    on_fault_db: tuple[DurableServer, KillOn], shopper: dict[str, Any]
) -> None:
    """The commit was acknowledged, then the server died: the move is all there.

    The client may see a 503 (the answer is rendered from reads after the commit); the
    operation is idempotent, so retrying it gives 200 and the same state.
    """
    server, listener = on_fault_db
    carts, item = shopper["carts"], shopper["item"]
    target = sorted(str(c.pk) for c in carts[1:])
    listener.arm(server, _is_command("commitTransaction"), on_success=True)
    response = shopper["client"].put(
        f"/api/v1/items/{item.pk}/carts/", {"cart_ids": target}, format="json"
    )
    assert listener.fired.is_set()
    assert response.status_code in (200, 503), response.content
    _restart(server)
    assert _memberships(server, item.pk) == target
    retry = shopper["client"].put(
        f"/api/v1/items/{item.pk}/carts/", {"cart_ids": target}, format="json"
    )
    assert retry.status_code == 200
    assert sorted(retry.json()["cart_ids"]) == target
    assert _memberships(server, item.pk) == target


def test_connection_cut_at_the_commit_never_half_writes_nor_duplicates(
    on_fault_db: tuple[DurableServer, KillOn], shopper: dict[str, Any]
) -> None:
    """The server drops the connection when the commit arrives (once); the driver and the
    transaction retry take over: the move ends complete, each membership exactly once."""
    server, _listener = on_fault_db
    carts, item = shopper["carts"], shopper["item"]
    target = sorted(str(c.pk) for c in carts[1:])
    admin = server.client()
    try:
        admin.admin.command(
            "configureFailPoint",
            "failCommand",
            mode={"times": 1},
            data={"failCommands": ["commitTransaction"], "closeConnection": True},
        )
        response = shopper["client"].put(
            f"/api/v1/items/{item.pk}/carts/", {"cart_ids": target}, format="json"
        )
    finally:
        admin.admin.command("configureFailPoint", "failCommand", mode="off")
        admin.close()
    assert response.status_code in (200, 503), response.content
    state = _memberships(server, item.pk)
    if response.status_code == 200:
        assert state == target
    else:
        assert state in ([str(carts[0].pk)], target)


def test_extract_with_carts_killed_mid_save_is_all_or_nothing(
    on_fault_db: tuple[DurableServer, KillOn], shopper: dict[str, Any]
) -> None:
    """The extracted product saved into two carts: killed at the second membership insert."""
    server, listener = on_fault_db
    carts = shopper["carts"]
    url = "https://shop.example.com/blue-kettle"
    listener.arm(server, _is_insert_into("carts_cartitem"), nth=2)
    response = shopper["client"].post(
        "/api/v1/extract/",
        {"url": url, "html": PAGE_HTML, "cart_ids": [str(carts[1].pk), str(carts[2].pk)]},
        format="json",
    )
    assert listener.fired.is_set()
    _assert_unavailable(response)
    _restart(server)
    client = server.client()
    try:
        database = client[connections["default"].settings_dict["NAME"]]
        items = list(database["carts_item"].find({"url": url}))
        assert items == []  # the item insert was in the same transaction
        memberships = database["carts_cartitem"].count_documents(
            {"cart_id": {"$in": [ObjectId(str(carts[1].pk)), ObjectId(str(carts[2].pk))]}}
        )
        assert memberships == 0
    finally:
        client.close()
    # Retrying once the database is back saves it, in both carts, once.
    again = shopper["client"].post(
        "/api/v1/extract/",
        {"url": url, "html": PAGE_HTML, "cart_ids": [str(carts[1].pk), str(carts[2].pk)]},
        format="json",
    )
    assert again.status_code == 200, again.content
    saved = again.json()["item"]
    assert sorted(saved["cart_ids"]) == sorted([str(carts[1].pk), str(carts[2].pk)])
    assert _memberships(server, saved["id"]) == sorted([str(carts[1].pk), str(carts[2].pk)])


# =============================================================================================
# Redis going away
# =============================================================================================


class BlackHole:
    """A TCP listener that accepts connections and never answers (a hung Redis)."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self.port = int(self._socket.getsockname()[1])
        self._accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self._socket.settimeout(0.05)
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = self._socket.accept()
                self._accepted.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for conn in self._accepted:
            conn.close()
        self._socket.close()


@pytest.fixture(params=["refused", "hung"])
def redis_down(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    """The cache (rate-limit counters, extraction cache, LLM breaker) is unreachable."""
    hole = BlackHole() if request.param == "hung" else None
    port = hole.port if hole else _free_port()  # nothing listens on a fresh free port
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{port}/0"}
    }
    try:
        yield request.param
    finally:
        if hole is not None:
            hole.close()


@pytest.mark.django_db
def test_redis_down_sign_in_and_account_flows_fail_closed(
    redis_down: str, user: Any, password: str, api_client: APIClient
) -> None:
    started = time.monotonic()
    login = api_client.post(
        "/api/v1/auth/login/", {"email": user.email, "password": password}, format="json"
    )
    _assert_unavailable(login)
    assert "access" not in login.json()
    register = api_client.post(
        "/api/v1/auth/register/",
        {"email": "new@example.com", "password": "a long passphrase 42!"},
        format="json",
    )
    _assert_unavailable(register)
    reset = api_client.post("/api/v1/auth/password/reset/", {"email": user.email}, format="json")
    _assert_unavailable(reset)
    from accounts.models import User

    assert not User.objects.filter(email="new@example.com").exists()
    # A hung Redis costs its socket timeout (1 s) per counter, not a worker's lifetime.
    assert time.monotonic() - started < 10


@pytest.mark.django_db
def test_redis_down_reads_writes_refresh_and_checks_fail_open(
    redis_down: str, user: Any, auth_client: APIClient, api_client: APIClient
) -> None:
    from accounts.tokens import issue_tokens
    from carts import services

    cart = services.cart_create(owner=user, name="Kept")
    token, _ = services.cart_share_link_create(cart=cart)
    assert auth_client.get("/api/v1/carts/").status_code == 200
    created = auth_client.post("/api/v1/carts/", {"name": "While Redis is down"}, format="json")
    assert created.status_code == 201
    assert api_client.get(f"/api/v1/shared/{token}/").status_code == 200
    refresh = api_client.post(
        "/api/v1/auth/refresh/", {"refresh": issue_tokens(user)["refresh"]}, format="json"
    )
    assert refresh.status_code == 200
    extract = auth_client.post(
        "/api/v1/extract/",
        {"url": "https://shop.example.com/kettle", "html": PAGE_HTML},
        format="json",
    )
    assert extract.status_code == 200
    assert extract.json()["product"]["title"] == "Blue Kettle"
    verify = auth_client.post(
        "/api/v1/verify/image/",
        {"image_url": "https://cdn.shop.example.com/k.png", "product_name": "Blue Kettle"},
        format="json",
    )
    assert verify.status_code == 200
    ready = api_client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["cache"]["status"] == "degraded"


@pytest.mark.django_db
def test_redis_down_sharing_by_email_fails_closed_and_sends_nothing(
    redis_down: str, user: Any, auth_client: APIClient
) -> None:

    from carts import services

    cart = services.cart_create(owner=user, name="To share")
    response = auth_client.post(
        f"/api/v1/carts/{cart.pk}/share/", {"emails": ["friend@example.com"]}, format="json"
    )
    _assert_unavailable(response)
    assert not OutboundMail.objects.exists()


# =============================================================================================
# The LLM timing out or erroring
# =============================================================================================


@pytest.fixture
def fake_llm(settings: Any) -> Iterator[Any]:
    from extraction.tests.fake_llm_server import configured_fake_llm

    with configured_fake_llm(settings, openai=True) as server:
        settings.LLM_TIMEOUT = 1.0
        settings.LLM_CONNECT_TIMEOUT = 1.0
        yield server


@pytest.mark.django_db
@pytest.mark.parametrize("failure", ["timeout", "error"])
def test_llm_down_gives_the_structured_data_result_marked_unavailable(
    fake_llm: Any, auth_client: APIClient, failure: str
) -> None:
    from extraction.tests.fake_llm_server import FakeReply

    # A first extraction loads the page check's model: not part of what the outage costs.
    warm = {"url": "https://shop.example.com/warm-up", "html": PAGE_HTML}
    assert auth_client.post("/api/v1/extract/", warm, format="json").status_code == 200
    fake_llm.default = FakeReply.slow(3.0) if failure == "timeout" else FakeReply.error(500)
    body = {"url": "https://shop.example.com/kettle", "html": PAGE_HTML}
    started = time.monotonic()
    response = auth_client.post("/api/v1/extract/", body, format="json")
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["llm"]["status"] == "unavailable"
    assert data["product"]["title"] == "Blue Kettle"
    assert data["product"]["price"] == "19.99"
    assert data["product"]["currency"] == "USD"
    assert data["provenance"]["price"]["source"] == "json-ld"
    assert fake_llm.request_count >= 1  # it was asked (groq, then openai), and failed
    assert elapsed < 8, f"the LLM outage cost {elapsed:.1f} s"
    # The degraded answer is not cached: with the LLM back, the same page uses it.
    fake_llm.default = FakeReply.json({"brand": "Acme", "availability": "InStock"})
    again = auth_client.post("/api/v1/extract/", body, format="json").json()
    assert again["cached"] is False
    assert again["llm"]["status"] == "used"


# =============================================================================================
# Models missing or failing to load
# =============================================================================================


@contextlib.contextmanager
def _model_settings(**values: Any) -> Iterator[None]:
    """Override model settings and reload; reload again from the real settings afterwards."""
    from django.test import override_settings

    from mlverify.registry import reset_models

    try:
        with override_settings(**values):
            reset_models()
            yield
    finally:
        reset_models()


@pytest.mark.django_db
@pytest.mark.parametrize("weights", ["missing", "corrupt"])
def test_clip_missing_or_corrupt_answers_unavailable_not_500(
    tmp_path: Path, auth_client: APIClient, api_client: APIClient, weights: str
) -> None:
    path = tmp_path / "open_clip_model.safetensors"
    if weights == "corrupt":
        path.write_bytes(b"this is not a safetensors file" * 100)
    with _model_settings(CLIP_WEIGHTS=path, CLIP_MODEL="ViT-B-32"):
        response = auth_client.post(
            "/api/v1/verify/image/",
            {"image_url": "https://cdn.shop.example.com/k.png", "product_name": "Blue Kettle"},
            format="json",
        )
        assert response.status_code == 200, response.content
        check = response.json()
        assert check["status"] == "unavailable"
        assert check["match"] is None and check["score"] is None
        assert check["reason"]
        ready = api_client.get("/ready")
        assert ready.status_code == 200
        assert ready.json()["checks"]["models"]["models"]["clip"]["state"] == "unavailable"


@pytest.mark.django_db
@pytest.mark.parametrize("broken", ["classifier_missing", "encoder_unloadable"])
def test_page_classifier_missing_or_failing_answers_unavailable_and_extraction_still_works(
    tmp_path: Path, auth_client: APIClient, broken: str
) -> None:
    if broken == "classifier_missing":
        overrides: dict[str, Any] = {"PAGE_CLASSIFIER_DIR": tmp_path / "no-head-here"}
    else:
        encoder = tmp_path / "encoder"
        encoder.mkdir()
        (encoder / "config.json").write_text("{ not json")
        (encoder / "model.safetensors").write_bytes(b"\0" * 64)
        overrides = {"PAGE_ENCODER_DIR": str(encoder)}
    with _model_settings(**overrides):
        response = auth_client.post(
            "/api/v1/classify/url/",
            {"url": "https://shop.example.com/p/blue-kettle-1234", "title": "Blue Kettle"},
            format="json",
        )
        assert response.status_code == 200, response.content
        check = response.json()
        assert check["status"] == "unavailable"
        assert check["is_product"] is None
        assert check["reason"]
        extract = auth_client.post(
            "/api/v1/extract/",
            {"url": "https://shop.example.com/kettle", "html": PAGE_HTML},
            format="json",
        )
        assert extract.status_code == 200
        assert extract.json()["product"]["title"] == "Blue Kettle"


# =============================================================================================
# An image server that hangs or sends 1 GB
# =============================================================================================


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The mlverify tests' tiny CLIP (random weights, loaded by the production loader)."""
    from mlverify.tests.tiny_clip import build_tiny_clip

    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


def _hang(req: Any) -> None:
    req.server.owner.stopping.wait(30)
    req.close_connection = True


class _Meter:
    sent = 0


def _gigabyte_image(meter: type[_Meter]) -> Callable[[Any], None]:
    block = b"\0" * 65536

    def handler(req: Any) -> None:
        req.send_response(200)
        req.send_header("Content-Type", "image/png")
        req.send_header("Transfer-Encoding", "chunked")
        req.end_headers()
        with contextlib.suppress(OSError):
            for _ in range(1024**3 // len(block)):
                req.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
                meter.sent += len(block)
        req.close_connection = True

    return handler


@pytest.mark.django_db
@pytest.mark.parametrize("behaviour", ["hangs", "sends_1_gb"])
def test_image_server_that_hangs_or_floods_is_a_quick_422(
    small_clip: Any, auth_client: APIClient, behaviour: str
) -> None:
    from buyhive.tests.http_servers import LoopbackServer

    meter = type("Meter", (_Meter,), {"sent": 0})
    with LoopbackServer() as server:
        server.route("/k.png", _hang if behaviour == "hangs" else _gigabyte_image(meter))
        with _model_settings(
            CLIP_MODEL=small_clip.model_name,
            CLIP_WEIGHTS=small_clip.weights,
            OUTBOUND_HTTP_ALLOW_LOOPBACK=True,
            OUTBOUND_HTTP_READ_TIMEOUT=1.0,
            OUTBOUND_HTTP_TOTAL_TIMEOUT=2.0,
        ):
            started = time.monotonic()
            response = auth_client.post(
                "/api/v1/verify/image/",
                {"image_url": server.url("/k.png"), "product_name": "Blue Kettle"},
                format="json",
            )
            elapsed = time.monotonic() - started
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "image_fetch_failed"
    assert elapsed < 3.0, f"{elapsed:.1f} s"
    if behaviour == "sends_1_gb":
        assert meter.sent < 64 * 1024 * 1024, meter.sent  # CLIP_MAX_IMAGE_BYTES, not 1 GB
