"""Attacks on the safe outbound client that ``test_http.py`` does not already cover.

- DNS rebinding through the *system* resolver (``socket.getaddrinfo``, the seam the client
  uses in production), not only through the injectable test resolver;
- redirect chains of several hops, across host names, that end at a private, metadata or
  IPv4-mapped address;
- a body that drips more slowly than the read timeout, and headers that drip within the read
  timeout but past the overall deadline;
- a 1 GB body (declared, chunked and close-delimited), streamed from a generator by a
  loopback server that counts what it managed to send: the client must stop at its cap,
  having made the server send a tiny fraction of it, with bounded memory.

Every server listens on 127.0.0.1; the names used resolve to loopback or to private
addresses that the client must refuse before connecting. A guard fails any test whose client
would open a socket to anything but loopback.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from buyhive.http import (
    DisallowedAddress,
    FetchTimeout,
    OutboundPolicy,
    ResponseTooLarge,
    SafeHttpClient,
)
from buyhive.tests.http_servers import LoopbackServer, RecordingResolver, redirect, respond

GIB = 1024**3
CHUNK = 64 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
LOOPBACK = OutboundPolicy(
    allow_loopback=True, connect_timeout=2.0, read_timeout=2.0, total_timeout=5.0
)


@pytest.fixture(autouse=True)
def _loopback_only_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection attempt to a non-loopback address (nothing may leave the host)."""
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            assert ipaddress.ip_address(address[0]).is_loopback, f"non-loopback connect {address}"
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv


class RebindingDns:
    """Stands in for ``socket.getaddrinfo``: a rebinding attacker's DNS, with a short TTL.

    The first lookup of a name answers ``first``; every later one answers ``then``. Names
    it does not know fail like NXDOMAIN, so nothing is ever resolved for real.
    """

    def __init__(self, answers: dict[str, tuple[str, str]]) -> None:
        self.answers = answers
        self.calls: list[str] = []
        self._lock = threading.Lock()
        self._real = socket.getaddrinfo

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        with contextlib.suppress(ValueError):
            ipaddress.ip_address(name)  # an IP literal (socket.create_connection asks too)
            return list(self._real(name, port, *args, **kwargs))
        with self._lock:
            seen = name in self.calls
            self.calls.append(name)
        if name not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        ip = self.answers[name][1 if seen else 0]
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        sockaddr = (ip, int(port or 0), 0, 0) if family == socket.AF_INET6 else (ip, int(port or 0))
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]


# --------------------------------------------------------------------------- DNS rebinding


def test_rebinding_through_the_system_resolver_cannot_move_the_connection(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The production resolver path: getaddrinfo is asked once, and never by the transport.

    Any second lookup would answer 10.0.0.1. httpx/httpcore would normally resolve the name
    again when connecting; the pinned backend connects to the checked address instead.
    """
    server.route("/cat.png", respond(PNG))
    dns = RebindingDns({"rebind.test": ("127.0.0.1", "10.0.0.1")})
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    result = SafeHttpClient(LOOPBACK).get(server.url("/cat.png", host="rebind.test"))
    assert result.content == PNG
    assert result.ip == "127.0.0.1"
    assert dns.calls == ["rebind.test"]
    assert server.requests[0].headers["host"] == f"rebind.test:{server.port}"


def test_rebinding_is_checked_again_on_every_fetch(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name that was fine a moment ago and now points inside is refused (no stale cache)."""
    server.route("/cat.png", respond(PNG))
    dns = RebindingDns({"rebind.test": ("127.0.0.1", "169.254.169.254")})
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    client = SafeHttpClient(LOOPBACK)
    assert client.get(server.url("/cat.png", host="rebind.test")).content == PNG
    with pytest.raises(DisallowedAddress) as caught:
        client.get(server.url("/cat.png", host="rebind.test"))
    assert caught.value.reason == "metadata"
    assert len(server.requests) == 1


def test_name_resolving_inside_first_is_refused_before_any_connection(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reverse order (private first, public later) never connects anywhere."""
    dns = RebindingDns({"rebind.test": ("10.1.2.3", "127.0.0.1")})
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    with pytest.raises(DisallowedAddress):
        SafeHttpClient(LOOPBACK).get(server.url("/cat.png", host="rebind.test"))
    assert server.requests == []


# --------------------------------------------------------------------------- redirect chains


@pytest.mark.parametrize(
    ("final", "reason"),
    [
        ("http://internal.test/admin", "private"),
        ("http://metadata.test/latest/meta-data/iam/", "metadata"),
        ("http://[::ffff:10.0.0.1]/", "ipv4_mapped"),
        ("//internal.test/scheme-relative", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ],
)
def test_redirect_chain_across_hosts_ending_inside_is_refused(
    server: LoopbackServer, final: str, reason: str
) -> None:
    """images.test -> cdn.test -> images.test -> <a private target>: each hop is checked.

    The first three hops are allowed (loopback in tests); the last is refused before any
    connection, so the server saw exactly the three allowed requests.
    """
    server.route("/a", redirect(server.url("/b", host="cdn.test")))
    server.route("/b", redirect(server.url("/c", host="images.test"), status=307))
    server.route("/c", redirect(final, status=301))
    resolver = RecordingResolver(
        {
            "images.test": ["127.0.0.1"],
            "cdn.test": ["127.0.0.1"],
            "internal.test": ["192.168.10.20"],
            "metadata.test": ["169.254.169.254"],
        }
    )
    with pytest.raises(DisallowedAddress) as caught:
        SafeHttpClient(LOOPBACK, resolver=resolver).get(server.url("/a", host="images.test"))
    assert caught.value.reason == reason
    assert [r.path for r in server.requests] == ["/a", "/b", "/c"]


def test_redirect_to_a_name_with_one_private_address_among_public_ones_is_refused(
    server: LoopbackServer,
) -> None:
    server.route("/a", redirect("http://mixed.test/x"))
    resolver = RecordingResolver(
        {"images.test": ["127.0.0.1"], "mixed.test": ["127.0.0.1", "10.9.8.7"]}
    )
    with pytest.raises(DisallowedAddress) as caught:
        SafeHttpClient(LOOPBACK, resolver=resolver).get(server.url("/a", host="images.test"))
    assert caught.value.reason == "private"
    assert [r.path for r in server.requests] == ["/a"]


# --------------------------------------------------------------------------- slow servers


def _drip_body(interval: float) -> Any:
    """Headers at once (with a length), then one body byte every ``interval`` seconds."""

    def handler(req: Any) -> None:
        req.send_response(200)
        req.send_header("Content-Type", "image/png")
        req.send_header("Content-Length", "100000")
        req.end_headers()
        with contextlib.suppress(OSError):
            req.wfile.flush()
            while not req.server.owner.stopping.wait(interval):
                req.wfile.write(b"x")
                req.wfile.flush()
        req.close_connection = True

    return handler


def _drip_headers(interval: float) -> Any:
    """The status line and headers, one byte every ``interval`` seconds, forever."""

    def handler(req: Any) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nX-Padding: " + b"a" * 10_000
        with contextlib.suppress(OSError):
            for byte in head:
                if req.server.owner.stopping.wait(interval):
                    break
                req.wfile.write(bytes([byte]))
                req.wfile.flush()
        req.close_connection = True

    return handler


def test_body_dripping_slower_than_the_read_timeout_hits_the_read_timeout(
    server: LoopbackServer,
) -> None:
    server.route("/drip", _drip_body(interval=1.0))
    policy = OutboundPolicy(
        allow_loopback=True, connect_timeout=1.0, read_timeout=0.3, total_timeout=5.0
    )
    started = time.monotonic()
    with pytest.raises(FetchTimeout) as caught:
        SafeHttpClient(policy).get(server.url("/drip"))
    elapsed = time.monotonic() - started
    assert caught.value.reason == "read_timeout"
    assert elapsed < 1.5  # the read timeout, not the 5 s deadline


def test_headers_dripping_within_the_read_timeout_hit_the_overall_deadline(
    server: LoopbackServer,
) -> None:
    """Each byte comes well within the read timeout; only the overall deadline stops it."""
    server.route("/slow-head", _drip_headers(interval=0.05))
    policy = OutboundPolicy(
        allow_loopback=True, connect_timeout=1.0, read_timeout=1.0, total_timeout=1.0
    )
    started = time.monotonic()
    with pytest.raises(FetchTimeout) as caught:
        SafeHttpClient(policy).get(server.url("/slow-head"))
    elapsed = time.monotonic() - started
    assert caught.value.reason == "deadline_exceeded"
    assert 0.9 < elapsed < 1.8


# --------------------------------------------------------------------------- a 1 GB body


class Meter:
    """Bytes a handler managed to hand to the kernel before the client hung up."""

    def __init__(self) -> None:
        self.sent = 0
        self.finished = threading.Event()


def _gigabyte(meter: Meter, *, framing: str) -> Any:
    """1 GiB of zeros generated on the fly (never held in memory), framed as asked.

    ``framing``: ``"length"`` declares Content-Length: 1 GiB; ``"chunked"`` uses chunked
    encoding; ``"close"`` sends no length and ends the body by closing the connection.
    """
    block = b"\0" * CHUNK

    def handler(req: Any) -> None:
        req.send_response(200)
        req.send_header("Content-Type", "image/png")
        if framing == "length":
            req.send_header("Content-Length", str(GIB))
        elif framing == "chunked":
            req.send_header("Transfer-Encoding", "chunked")
        else:
            req.send_header("Connection", "close")
        req.end_headers()
        try:
            for _ in range(GIB // CHUNK):
                if framing == "chunked":
                    req.wfile.write(b"%x\r\n%s\r\n" % (CHUNK, block))
                else:
                    req.wfile.write(block)
                meter.sent += CHUNK
        except OSError:
            pass  # the client hung up: exactly what should happen
        finally:
            req.close_connection = True
            meter.finished.set()

    return handler


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_one_gigabyte_body_stops_at_the_cap_early_with_bounded_memory(
    server: LoopbackServer, framing: str
) -> None:
    cap = 1024 * 1024
    meter = Meter()
    server.route("/huge.png", _gigabyte(meter, framing=framing))
    client = SafeHttpClient(LOOPBACK)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ResponseTooLarge) as caught:
            client.get(server.url("/huge.png"), max_bytes=cap)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started
    assert caught.value.reason == ("content_length" if framing == "length" else "body_too_large")
    assert elapsed < 3.0
    # The server's writes fail once the client has closed the connection.
    assert meter.finished.wait(5.0), "the server kept sending after the client gave up"
    # Socket buffers on both ends hold a few MB at most: the client read ~cap, not 1 GiB.
    assert meter.sent < 64 * 1024 * 1024, f"the server sent {meter.sent} bytes"
    assert peak < 8 * cap, f"peak traced memory {peak} bytes"
