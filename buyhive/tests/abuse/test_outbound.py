"""Finding 10 (slow hosts and DNS) and finding 12's one refusal message, on buyhive/http.py.

The image step's overall deadline and parallel candidate fetch live in mlverify; what they
need from the client is tested here: a shared ``deadline`` and the per-owner cap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from buyhive.http import (
    REFUSED_MESSAGE,
    FetchTimeout,
    OutboundPolicy,
    OutboundRequestError,
    SafeHttpClient,
    TooManyFetches,
)
from buyhive.tests.http_servers import LoopbackServer, RecordingResolver, respond, silent

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
POLICY = OutboundPolicy(
    allow_loopback=True, connect_timeout=0.3, read_timeout=2.0, total_timeout=3.0
)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        srv.route("/cat.png", respond(PNG))
        srv.route("/slow.png", silent())
        yield srv


class HangingDns:
    """Names under ``.hang`` never answer (until released); others are loopback."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def __call__(self, host: str, port: int) -> list[str]:
        if host.endswith(".hang"):
            self.release.wait(30)
            return ["127.0.0.1"]
        return ["127.0.0.1"]


def test_lookups_that_never_answer_do_not_starve_the_next_users_fetch(
    server: LoopbackServer,
) -> None:
    dns = HangingDns()
    client = SafeHttpClient(POLICY, resolver=dns)
    try:
        errors: list[BaseException] = []

        def stuck(n: int) -> None:
            try:
                client.get(server.url("/cat.png", host=f"n{n}.hang"))
            except OutboundRequestError as exc:
                errors.append(exc)

        threads = [threading.Thread(target=stuck, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
        assert len(errors) == 8
        assert all(isinstance(e, FetchTimeout) and e.reason == "dns_timeout" for e in errors)
        # Eight lookups are still hanging; the next user's fetch resolves and succeeds.
        started = time.monotonic()
        result = client.get(server.url("/cat.png", host="images.test"))
        assert result.content == PNG
        assert time.monotonic() - started < 1.0
    finally:
        dns.release.set()


def test_one_owner_has_at_most_the_configured_concurrent_fetches(server: LoopbackServer) -> None:
    policy = OutboundPolicy(
        allow_loopback=True,
        connect_timeout=0.5,
        read_timeout=1.5,
        total_timeout=1.5,
        max_concurrent_per_owner=2,
    )
    client = SafeHttpClient(policy, resolver=RecordingResolver({"images.test": ["127.0.0.1"]}))
    slow = server.url("/slow.png", host="images.test")
    outcomes: list[str] = []

    def hold_a_slot() -> None:
        try:
            client.get(slow, owner="u1")
        except FetchTimeout:
            outcomes.append("timeout")

    threads = [threading.Thread(target=hold_a_slot) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # both are now waiting on the silent server
    with pytest.raises(TooManyFetches) as caught:
        client.get(server.url("/cat.png", host="images.test"), owner="u1")
    assert str(caught.value) == REFUSED_MESSAGE
    # Another user is not affected.
    assert client.get(server.url("/cat.png", host="images.test"), owner="u2").content == PNG
    for thread in threads:
        thread.join(5)
    assert outcomes == ["timeout", "timeout"]
    # The slots are given back.
    assert client.get(server.url("/cat.png", host="images.test"), owner="u1").content == PNG


def test_a_shared_deadline_ends_the_fetch_early(server: LoopbackServer) -> None:
    client = SafeHttpClient(POLICY, resolver=RecordingResolver({"images.test": ["127.0.0.1"]}))
    with pytest.raises(FetchTimeout):
        client.get(server.url("/cat.png", host="images.test"), deadline=time.monotonic() - 1)
    started = time.monotonic()
    with pytest.raises(FetchTimeout):
        client.get(server.url("/slow.png", host="images.test"), deadline=started + 0.4)
    assert time.monotonic() - started < 1.0  # not the policy's 3 s


@pytest.mark.parametrize(
    "url",
    [
        "http://internal.corp/x.png",  # resolves to a private address: refused
        "http://unknown.corp/x.png",  # does not resolve
        "http://public.test:8080/x.png",  # a public address on a port not allowed
        "ftp://public.test/x.png",
        "http://127.1/x.png",
    ],
)
def test_every_refusal_has_the_same_message(url: str) -> None:
    resolver = RecordingResolver({"internal.corp": ["10.1.2.3"], "public.test": ["93.184.216.34"]})
    client = SafeHttpClient(OutboundPolicy(), resolver=resolver)
    with pytest.raises(OutboundRequestError) as caught:
        client.get(url)
    assert caught.value.message == REFUSED_MESSAGE == str(caught.value)


def test_policy_reads_the_per_user_cap(settings: Any) -> None:
    from buyhive.http import policy_from_settings

    settings.OUTBOUND_HTTP_MAX_CONCURRENT_PER_USER = 3
    assert policy_from_settings(settings).max_concurrent_per_owner == 3
