"""The safe outbound HTTP client: every refusal, pinning, redirects, caps and timeouts.

Real servers on 127.0.0.1 (``http_servers.py``) answer the requests that are allowed; the
refusals must happen before any connection, so no traffic ever leaves loopback. Host names
like ``images.test`` reach the servers through the client's injectable resolver.
"""

from __future__ import annotations

import gzip
import ipaddress
import socket
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from buyhive.exceptions import DomainError
from buyhive.http import (
    DisallowedAddress,
    DisallowedContentType,
    DisallowedURL,
    FetchFailed,
    FetchTimeout,
    OutboundPolicy,
    OutboundRequestError,
    ResponseTooLarge,
    SafeHttpClient,
    TooManyRedirects,
    address_refusal,
    get_client,
    policy_from_settings,
)
from buyhive.tests.http_servers import (
    LoopbackServer,
    RecordingResolver,
    chunked,
    close_delimited,
    drip,
    make_tls_contexts,
    redirect,
    respond,
    silent,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
LOOPBACK = OutboundPolicy(
    allow_loopback=True, connect_timeout=2.0, read_timeout=2.0, total_timeout=5.0
)
STRICT = OutboundPolicy(connect_timeout=2.0, read_timeout=2.0, total_timeout=5.0)


@pytest.fixture(autouse=True)
def _loopback_only_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Safety net: fail any test whose client would open a socket to a non-loopback address.

    Refusals must happen before connecting; if a regression let one through, the test fails
    here instead of sending traffic off the machine.
    """
    real_create_connection = socket.create_connection

    def loopback_only(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        assert ipaddress.ip_address(address[0]).is_loopback, f"non-loopback connect {address}"
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", loopback_only)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv


def loopback_client(policy: OutboundPolicy = LOOPBACK, **names: list[str]) -> SafeHttpClient:
    """A client whose resolver maps images.test and cdn.test (plus ``names``) to loopback."""
    answers = {"images.test": ["127.0.0.1"], "cdn.test": ["127.0.0.1"]}
    answers.update({k.replace("_", "."): v for k, v in names.items()})
    return SafeHttpClient(policy, resolver=RecordingResolver(answers))


# --------------------------------------------------------------------------- refused addresses

REFUSED_ADDRESSES = [
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("fd12:3456::1", "private"),
    ("fc00::1", "private"),
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("169.254.10.1", "link_local"),
    ("fe80::1", "link_local"),
    ("100.64.0.1", "cgnat"),
    ("100.127.255.254", "cgnat"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"),  # noqa: S104 (an address to refuse, not to bind)
    ("::", "unspecified"),
    ("0.1.2.3", "reserved"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.10", "reserved"),
    ("198.18.0.1", "reserved"),
    ("2001:db8::1", "reserved"),
    ("169.254.169.254", "metadata"),
    ("169.254.170.2", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("100.100.100.200", "metadata"),
    ("192.0.0.192", "metadata"),
    ("168.63.129.16", "metadata"),
    ("::ffff:127.0.0.1", "ipv4_mapped"),
    ("::ffff:10.0.0.1", "ipv4_mapped"),
    ("::ffff:169.254.169.254", "ipv4_mapped"),
    ("2002:7f00:1::1", "embedded_ipv4"),  # 6to4 of 127.0.0.1
    ("2002:a00:1::1", "embedded_ipv4"),  # 6to4 of 10.0.0.1
    ("64:ff9b::a9fe:a9fe", "embedded_ipv4"),  # NAT64 of 169.254.169.254
    ("64:ff9b::a00:1", "embedded_ipv4"),  # NAT64 of 10.0.0.1
]


def _literal_url(ip: str) -> str:
    return f"http://[{ip}]/cat.png" if ":" in ip else f"http://{ip}/cat.png"


@pytest.mark.parametrize(("ip", "reason"), REFUSED_ADDRESSES)
def test_url_with_refused_ip_literal_is_refused_without_dns(ip: str, reason: str) -> None:
    resolver = RecordingResolver({})
    client = SafeHttpClient(STRICT, resolver=resolver)
    with pytest.raises(DisallowedAddress) as caught:
        client.get(_literal_url(ip))
    assert caught.value.reason == reason
    assert resolver.calls == []


@pytest.mark.parametrize(("ip", "reason"), REFUSED_ADDRESSES)
def test_host_resolving_to_refused_ip_is_refused(ip: str, reason: str) -> None:
    client = SafeHttpClient(STRICT, resolver=RecordingResolver({"shop.test": [ip]}))
    with pytest.raises(DisallowedAddress) as caught:
        client.get("http://shop.test/cat.png")
    assert caught.value.reason == reason


def test_any_refused_address_among_several_refuses_the_request() -> None:
    # 93.184.216.34 is public; it must never be contacted because the request is refused.
    resolver = RecordingResolver({"shop.test": ["93.184.216.34", "10.1.2.3"]})
    with pytest.raises(DisallowedAddress) as caught:
        SafeHttpClient(STRICT, resolver=resolver).get("https://shop.test/cat.png")
    assert caught.value.reason == "private"


@pytest.mark.parametrize(
    "ip",
    ["10.0.0.1", "169.254.169.254", "::ffff:127.0.0.1", "0.0.0.0", "100.64.0.1", "fe80::1"],  # noqa: S104
)
def test_allow_loopback_allows_nothing_but_loopback(ip: str) -> None:
    client = SafeHttpClient(LOOPBACK, resolver=RecordingResolver({"shop.test": [ip]}))
    with pytest.raises(DisallowedAddress):
        client.get("http://shop.test/cat.png")


@pytest.mark.parametrize(
    ("ip", "allowed"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("2002:808:808::1", True),  # 6to4 of a public address
        ("64:ff9b::808:808", True),  # NAT64 of a public address
        ("127.0.0.1", False),
        ("::1", False),
    ],
)
def test_address_refusal_accepts_public_addresses(ip: str, allowed: bool) -> None:
    assert (address_refusal(ipaddress.ip_address(ip)) is None) is allowed


def test_loopback_server_is_refused_when_loopback_is_not_allowed(server: LoopbackServer) -> None:
    server.route("/cat.png", respond(PNG))
    with pytest.raises(DisallowedAddress) as caught:
        loopback_client(STRICT).get(server.url("/cat.png", host="images.test"))
    assert caught.value.reason == "loopback"
    assert server.requests == []


# --------------------------------------------------------------------------- refused URLs


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://0x7f.0.0.1/",
        "http://0x7f000001/",
        "http://017700000001/",
        "http://127.1/",
        "http://127.0.1/",
        "http://10.1/",
        "http://images.test.0x10/",
    ],
)
@pytest.mark.parametrize("policy", [STRICT, LOOPBACK], ids=["strict", "allow_loopback"])
def test_ambiguous_numeric_host_spellings_are_refused(url: str, policy: OutboundPolicy) -> None:
    resolver = RecordingResolver({})
    with pytest.raises(DisallowedURL) as caught:
        SafeHttpClient(policy, resolver=resolver).get(url)
    assert caught.value.reason in {"ambiguous_ip", "invalid_url"}
    assert resolver.calls == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://images.test/cat.png",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "data:image/png;base64,iVBORw0KGgo=",
        "gopher://images.test:70/_x",
        "ws://images.test/",
    ],
)
def test_schemes_other_than_http_and_https_are_refused(url: str) -> None:
    with pytest.raises(DisallowedURL) as caught:
        loopback_client().get(url)
    assert caught.value.reason == "scheme_not_allowed"


def test_scheme_list_comes_from_the_policy() -> None:
    https_only = OutboundPolicy(allowed_schemes=["https"])
    with pytest.raises(DisallowedURL) as caught:
        loopback_client(https_only).get("http://images.test/cat.png")
    assert caught.value.reason == "scheme_not_allowed"
    with pytest.raises(ValueError, match="unsupported"):
        OutboundPolicy(allowed_schemes=["http", "ftp"])


@pytest.mark.parametrize(
    ("ports", "url"),
    [
        ((80, 443), "http://shop.test:8080/cat.png"),
        ((80, 443), "https://shop.test:22/"),
        ((80,), "https://shop.test/"),
        ((80, 443), "http://shop.test:0/"),
    ],
)
def test_ports_outside_the_policy_are_refused_before_connecting(
    ports: tuple[int, ...], url: str
) -> None:
    # shop.test "is" a public address; the port check must refuse before any connect.
    policy = OutboundPolicy(allowed_ports=ports, connect_timeout=0.2, total_timeout=0.5)
    client = SafeHttpClient(policy, resolver=RecordingResolver({"shop.test": ["93.184.216.34"]}))
    with pytest.raises(DisallowedURL) as caught:
        client.get(url)
    assert caught.value.reason == "port_not_allowed"


@pytest.mark.parametrize(
    "url",
    [
        "http://user:pass@images.test/cat.png",
        "http://user@images.test/cat.png",
        "http://:@images.test/cat.png",
        "http://images.test\\@evil.test/cat.png",
    ],
)
def test_userinfo_is_refused(url: str) -> None:
    with pytest.raises(DisallowedURL) as caught:
        loopback_client().get(url)
    assert caught.value.reason == "userinfo"


@pytest.mark.parametrize("url", ["http:///cat.png", "http://:80/", "https://", "http://?x=1"])
def test_empty_host_is_refused(url: str) -> None:
    with pytest.raises(DisallowedURL):
        loopback_client().get(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://images.test/cat png",
        "http://images.test/\r\nX-Injected: 1",
        "http://ima ges.test/",
        "http://images%2etest/",
        "http://[fe80::1%25eth0]/",
        "not a url",
    ],
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(DisallowedURL):
        loopback_client().get(url)


def test_over_long_url_is_refused(server: LoopbackServer) -> None:
    server.route("/cat.png", respond(PNG))
    base = server.url("/cat.png?q=", host="images.test")
    assert loopback_client().get(base + "a" * (2048 - len(base))).content == PNG
    with pytest.raises(DisallowedURL) as caught:
        loopback_client().get(base + "a" * (2049 - len(base)))
    assert caught.value.reason == "url_too_long"


def test_unknown_host_and_empty_answer_fail_cleanly() -> None:
    with pytest.raises(FetchFailed) as caught:
        loopback_client().get("http://nowhere.test/")
    assert caught.value.reason == "dns_failure"
    with pytest.raises(FetchFailed):
        loopback_client(empty_test=[]).get("http://empty.test/")


def test_slow_dns_is_bounded_by_the_connect_timeout() -> None:
    def slow_resolver(host: str, port: int) -> list[str]:
        time.sleep(1.0)
        return ["127.0.0.1"]

    policy = OutboundPolicy(allow_loopback=True, connect_timeout=0.2, total_timeout=3.0)
    started = time.monotonic()
    with pytest.raises(FetchTimeout) as caught:
        SafeHttpClient(policy, resolver=slow_resolver).get("http://images.test/")
    assert caught.value.reason == "dns_timeout"
    assert time.monotonic() - started < 0.8


# --------------------------------------------------------------------------- successful fetches


def test_image_fetch_from_loopback_returns_body_type_and_pinned_ip(server: LoopbackServer) -> None:
    server.route("/cat.png", respond(PNG, content_type="image/png; charset=binary"))
    url = server.url("/cat.png", host="images.test")

    result = loopback_client().get(url, allowed_content_types=("image/",))

    assert result.content == PNG
    assert result.status_code == 200
    assert result.content_type == "image/png"
    assert result.headers["content-length"] == str(len(PNG))
    assert result.url == url
    assert result.ip == "127.0.0.1"
    assert result.redirects == 0
    [seen] = server.requests
    assert seen.headers["host"] == f"images.test:{server.port}"
    assert seen.headers["user-agent"] == LOOPBACK.user_agent
    assert seen.headers["accept"] == "image/*"
    assert seen.headers["accept-encoding"] == "identity"


def test_caller_headers_are_sent_but_client_controlled_ones_are_rejected(
    server: LoopbackServer,
) -> None:
    server.route("/a", respond(b"{}", content_type="application/json"))
    loopback_client().get(server.url("/a", host="images.test"), headers={"X-Trace": "abc"})
    assert server.requests[-1].headers["x-trace"] == "abc"
    with pytest.raises(ValueError, match="host"):
        loopback_client().get(server.url("/a"), headers={"Host": "internal"})


def test_environment_proxies_are_ignored(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9/")  # nothing listens on the discard port
    server.route("/cat.png", respond(PNG))
    assert loopback_client().get(server.url("/cat.png", host="images.test")).content == PNG


def test_gzip_body_is_decoded(server: LoopbackServer) -> None:
    server.route("/c", respond(gzip.compress(PNG), headers={"Content-Encoding": "gzip"}))
    assert loopback_client().get(server.url("/c", host="images.test")).content == PNG


# --------------------------------------------------------------------------- content type, size


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/json", None])
def test_content_type_outside_the_allowed_list_is_refused(
    server: LoopbackServer, content_type: str | None
) -> None:
    server.route("/page", respond(b"<html></html>", content_type=content_type))
    with pytest.raises(DisallowedContentType):
        loopback_client().get(server.url("/page"), allowed_content_types=("image/",))


def test_exact_content_type_entries_match_exactly(server: LoopbackServer) -> None:
    server.route("/j", respond(b"{}", content_type="application/json"))
    server.route("/js", respond(b"{}", content_type="application/jsonx"))
    client = loopback_client()
    assert client.get(server.url("/j"), allowed_content_types=["application/json"]).content
    with pytest.raises(DisallowedContentType):
        client.get(server.url("/js"), allowed_content_types=["application/json"])


def test_content_length_above_the_cap_is_refused_before_reading(server: LoopbackServer) -> None:
    server.route("/big", respond(b"x" * 2000))
    with pytest.raises(ResponseTooLarge) as caught:
        loopback_client().get(server.url("/big"), max_bytes=1000)
    assert caught.value.reason == "content_length"


def test_policy_cap_applies_without_a_per_call_cap(server: LoopbackServer) -> None:
    server.route("/big", respond(b"x" * 2000))
    policy = OutboundPolicy(allow_loopback=True, max_bytes=1999)
    with pytest.raises(ResponseTooLarge):
        loopback_client(policy).get(server.url("/big"))
    assert loopback_client(policy).get(server.url("/big"), max_bytes=2000).content == b"x" * 2000


def test_chunked_body_without_length_is_cut_at_the_cap(server: LoopbackServer) -> None:
    server.route("/chunked", chunked([b"x" * 4096] * 64))  # 256 KiB, no Content-Length
    with pytest.raises(ResponseTooLarge) as caught:
        loopback_client().get(server.url("/chunked"), max_bytes=10_000)
    assert caught.value.reason == "body_too_large"


def test_close_delimited_body_is_cut_at_the_cap(server: LoopbackServer) -> None:
    server.route("/stream", close_delimited(b"y" * 200_000))
    with pytest.raises(ResponseTooLarge) as caught:
        loopback_client().get(server.url("/stream"), max_bytes=10_000)
    assert caught.value.reason == "body_too_large"
    server.route("/small", close_delimited(b"z" * 500))
    assert loopback_client().get(server.url("/small"), max_bytes=10_000).content == b"z" * 500


def test_body_larger_than_its_content_length_is_not_read_past_it(server: LoopbackServer) -> None:
    # The server lies: it declares 100 bytes and sends 50,000. Only the declared body is read.
    server.route("/liar", respond(b"w" * 50_000, headers={"Content-Length": "100"}))
    assert loopback_client().get(server.url("/liar"), max_bytes=1000).content == b"w" * 100


def test_gzip_bomb_is_refused_at_the_cap(server: LoopbackServer) -> None:
    bomb = gzip.compress(b"\0" * 5_000_000)  # ~5 KB on the wire
    server.route("/bomb", respond(bomb, headers={"Content-Encoding": "gzip"}))
    with pytest.raises(ResponseTooLarge) as caught:
        loopback_client().get(server.url("/bomb"), max_bytes=100_000)
    assert caught.value.reason == "decoded_too_large"


def test_error_status_is_a_fetch_failure(server: LoopbackServer) -> None:
    with pytest.raises(FetchFailed) as caught:
        loopback_client().get(server.url("/missing"))
    assert caught.value.reason == "http_status"
    assert caught.value.status_code == 404


# --------------------------------------------------------------------------- redirects


def _chain(server: LoopbackServer, hops: int) -> str:
    """/r{hops} -> ... -> /r1 -> /final; returns the first URL (host images.test)."""
    server.route("/final", respond(PNG))
    for n in range(1, hops + 1):
        server.route(f"/r{n}", redirect("/final" if n == 1 else f"/r{n - 1}"))
    return server.url(f"/r{hops}", host="images.test")


def test_redirect_chain_within_the_limit_is_followed(server: LoopbackServer) -> None:
    result = loopback_client().get(_chain(server, 3), allowed_content_types=["image/"])
    assert result.content == PNG
    assert result.redirects == 3
    assert result.url == server.url("/final", host="images.test")
    assert [r.path for r in server.requests] == ["/r3", "/r2", "/r1", "/final"]


def test_four_redirects_are_refused(server: LoopbackServer) -> None:
    with pytest.raises(TooManyRedirects):
        loopback_client().get(_chain(server, 4))
    assert "/final" not in [r.path for r in server.requests]


def test_redirect_limit_comes_from_the_policy(server: LoopbackServer) -> None:
    policy = OutboundPolicy(allow_loopback=True, max_redirects=0)
    with pytest.raises(TooManyRedirects):
        loopback_client(policy).get(_chain(server, 1))


@pytest.mark.parametrize(
    ("location", "error", "reason"),
    [
        ("http://10.0.0.1/", DisallowedAddress, "private"),
        ("http://169.254.169.254/latest/meta-data/", DisallowedAddress, "metadata"),
        ("http://[::ffff:169.254.169.254]/", DisallowedAddress, "ipv4_mapped"),
        ("http://internal.test/admin", DisallowedAddress, "private"),
        ("http://2130706433/", DisallowedURL, "ambiguous_ip"),
        ("file:///etc/passwd", DisallowedURL, "scheme_not_allowed"),
        ("http://user:pw@images.test/", DisallowedURL, "userinfo"),
    ],
)
def test_redirect_to_a_refused_target_is_refused(
    server: LoopbackServer, location: str, error: type[OutboundRequestError], reason: str
) -> None:
    server.route("/go", redirect(location))
    client = loopback_client(internal_test=["192.168.0.5"])
    with pytest.raises(error) as caught:
        client.get(server.url("/go", host="images.test"))
    assert caught.value.reason == reason
    assert [r.path for r in server.requests] == ["/go"]


def test_each_redirect_hop_is_resolved_and_checked_again(server: LoopbackServer) -> None:
    # The second hop's host rebinds to a private address: refused, even though the first
    # hop to the same name was fine.
    server.route("/go", redirect(server.url("/final", host="images.test")))
    server.route("/final", respond(PNG))
    resolver = RecordingResolver(
        {"images.test": ["127.0.0.1"]}, later={"images.test": ["10.0.0.7"]}
    )
    with pytest.raises(DisallowedAddress):
        SafeHttpClient(LOOPBACK, resolver=resolver).get(server.url("/go", host="images.test"))
    assert resolver.calls == ["images.test", "images.test"]
    assert [r.path for r in server.requests] == ["/go"]


def test_credentials_do_not_follow_a_redirect_to_another_origin(server: LoopbackServer) -> None:
    server.route("/same", redirect("/final"))
    server.route("/other", redirect(server.url("/final", host="cdn.test")))
    server.route("/final", respond(PNG))
    secret = {"Authorization": "Bearer s3cret", "Cookie": "a=b"}
    client = loopback_client()
    client.get(server.url("/same", host="images.test"), headers=secret)
    assert server.requests[-1].headers["authorization"] == "Bearer s3cret"
    client.get(server.url("/other", host="images.test"), headers=secret)
    assert server.requests[-1].headers["host"] == f"cdn.test:{server.port}"
    assert "authorization" not in server.requests[-1].headers
    assert "cookie" not in server.requests[-1].headers


# --------------------------------------------------------------------------- timeouts


def test_slow_drip_hits_the_overall_deadline(server: LoopbackServer) -> None:
    server.route("/drip", drip(interval=0.05))
    policy = OutboundPolicy(
        allow_loopback=True, connect_timeout=1.0, read_timeout=1.0, total_timeout=1.0
    )
    started = time.monotonic()
    with pytest.raises(FetchTimeout) as caught:
        loopback_client(policy).get(server.url("/drip"))
    elapsed = time.monotonic() - started
    assert caught.value.reason == "deadline_exceeded"
    assert 0.9 < elapsed < 1.8


def test_silent_server_hits_the_read_timeout(server: LoopbackServer) -> None:
    server.route("/silent", silent())
    policy = OutboundPolicy(
        allow_loopback=True, connect_timeout=1.0, read_timeout=0.3, total_timeout=5.0
    )
    started = time.monotonic()
    with pytest.raises(FetchTimeout) as caught:
        loopback_client(policy).get(server.url("/silent"))
    assert caught.value.reason == "read_timeout"
    assert time.monotonic() - started < 1.5


def test_connection_refused_is_a_fetch_failure() -> None:
    with LoopbackServer() as srv:
        closed_url = srv.url("/x", host="images.test")
    with pytest.raises(FetchFailed) as caught:
        loopback_client().get(closed_url)
    assert caught.value.reason == "connect_failed"


# --------------------------------------------------------------------------- pinning, TLS


def test_dns_rebinding_cannot_move_the_connection(server: LoopbackServer) -> None:
    """The name is resolved once; the connection goes to that checked answer.

    Any later lookup would answer 10.0.0.1 (a rebinding attacker). If the transport
    resolved again, it would either connect there or be refused; instead the loopback
    server answers, the peer is 127.0.0.1, and the resolver was asked exactly once.
    """
    server.route("/cat.png", respond(PNG))
    resolver = RecordingResolver(
        {"rebind.test": ["127.0.0.1"]}, later={"rebind.test": ["10.0.0.1"]}
    )
    result = SafeHttpClient(LOOPBACK, resolver=resolver).get(
        server.url("/cat.png", host="rebind.test")
    )
    assert result.content == PNG
    assert result.ip == "127.0.0.1"
    assert resolver.calls == ["rebind.test"]
    assert server.requests[0].headers["host"] == f"rebind.test:{server.port}"


def test_connection_uses_the_next_checked_address_when_the_first_is_down(
    server: LoopbackServer,
) -> None:
    server.route("/cat.png", respond(PNG))
    # The server listens on 127.0.0.1 only, so 127.0.0.2 on the same port refuses.
    resolver = RecordingResolver({"images.test": ["127.0.0.2", "127.0.0.1"]})
    result = SafeHttpClient(LOOPBACK, resolver=resolver).get(
        server.url("/cat.png", host="images.test")
    )
    assert result.content == PNG
    assert result.ip == "127.0.0.1"


def test_https_keeps_the_hostname_for_sni_and_certificate_checks() -> None:
    server_tls, client_tls = make_tls_contexts(["images.test"])
    with LoopbackServer(tls=server_tls) as srv:
        srv.route("/cat.png", respond(PNG))
        client = SafeHttpClient(
            LOOPBACK,
            resolver=RecordingResolver({"images.test": ["127.0.0.1"]}),
            ssl_context=client_tls,
        )
        result = client.get(srv.url("/cat.png", host="images.test"))
        # The certificate names only images.test (no IP): it verified because TLS used the
        # hostname while the socket went to the pinned 127.0.0.1.
        assert result.content == PNG
        assert result.ip == "127.0.0.1"
        [seen] = srv.requests
        assert seen.sni == "images.test"
        assert seen.headers["host"] == f"images.test:{srv.port}"


def test_https_certificate_for_another_name_is_refused() -> None:
    server_tls, client_tls = make_tls_contexts(["other.test"])
    with LoopbackServer(tls=server_tls) as srv:
        srv.route("/cat.png", respond(PNG))
        client = SafeHttpClient(
            LOOPBACK,
            resolver=RecordingResolver({"images.test": ["127.0.0.1"]}),
            ssl_context=client_tls,
        )
        with pytest.raises(FetchFailed) as caught:
            client.get(srv.url("/cat.png", host="images.test"))
        assert caught.value.reason == "tls_error"
        assert srv.requests == []


# --------------------------------------------------------------------------- errors, settings


def test_errors_are_one_family_outside_the_domain_errors_and_leak_nothing() -> None:
    client = SafeHttpClient(STRICT, resolver=RecordingResolver({"shop.test": ["10.9.8.7"]}))
    with pytest.raises(OutboundRequestError) as caught:
        client.get("http://shop.test/cat.png")
    error = caught.value
    assert not isinstance(error, DomainError)
    assert "10.9.8.7" not in str(error)
    assert "shop.test" not in str(error)
    assert error.message == str(error)


def test_policy_from_settings_reads_every_setting() -> None:
    defaults = OutboundPolicy()  # the client's own defaults, for use without Django
    assert defaults.allowed_schemes == ("http", "https")
    assert defaults.allowed_ports == (80, 443)
    assert defaults.allow_loopback is False
    assert (defaults.connect_timeout, defaults.read_timeout, defaults.total_timeout) == (3, 5, 10)
    assert (defaults.max_redirects, defaults.max_bytes) == (3, 5 * 1024 * 1024)

    custom = policy_from_settings(
        SimpleNamespace(
            OUTBOUND_HTTP_ALLOWED_SCHEMES=["https"],
            OUTBOUND_HTTP_ALLOWED_PORTS=[443, 8443],
            OUTBOUND_HTTP_ALLOW_LOOPBACK=True,
            OUTBOUND_HTTP_CONNECT_TIMEOUT=1.5,
            OUTBOUND_HTTP_READ_TIMEOUT=2.5,
            OUTBOUND_HTTP_TOTAL_TIMEOUT=4,
            OUTBOUND_HTTP_MAX_REDIRECTS=1,
            OUTBOUND_HTTP_MAX_BYTES=1234,
            OUTBOUND_HTTP_USER_AGENT="TestAgent/2",
            OUTBOUND_HTTP_MAX_CONCURRENT_PER_USER=2,
        )
    )
    assert custom == OutboundPolicy(
        allowed_schemes=("https",),
        allowed_ports=(443, 8443),
        allow_loopback=True,
        connect_timeout=1.5,
        read_timeout=2.5,
        total_timeout=4.0,
        max_redirects=1,
        max_bytes=1234,
        user_agent="TestAgent/2",
        max_concurrent_per_owner=2,
    )


def test_get_client_follows_django_settings() -> None:
    from django.conf import settings

    if not settings.configured:
        pytest.skip("Django settings are not configured in this run")
    assert get_client().policy == policy_from_settings(settings)
