"""The one outbound HTTP client for addresses a user (or a page) supplied.

One cohesive thing, kept in one module on purpose (about 780 lines): the URL checks, the
resolver, the pinned connection and the redirect loop are one security boundary, and splitting
them would let a caller reach a step without the others.

Every fetch of a user-supplied address (product images for CLIP, ...) goes through
:class:`SafeHttpClient`. It only ever sends ``GET`` and, for each hop of a redirect chain:

1. **Checks the URL**: scheme in the policy (http/https), no userinfo (``user:pw@``), a
   non-empty, well-formed host, at most 2048 characters, and no ambiguous numeric host
   spellings (``2130706433``, ``0x7f.0.0.1``, ``127.1``, ``0177.0.0.1``): following the
   WHATWG URL rule, a host whose last label is a number must be a canonical dotted quad.
2. **Resolves the host once** (``socket.getaddrinfo`` through an injectable ``resolver``
   seam, on a thread of its own per query and bounded by the deadline, so lookups that
   never answer cannot starve a shared pool: see :class:`_Lookups`) and refuses the
   request if ANY address is not public (see :func:`address_refusal`): private, loopback,
   link-local, CGNAT, multicast, unspecified, reserved/documentation ranges, cloud
   metadata addresses, IPv4-mapped IPv6, and 6to4 / NAT64 addresses that embed a refused
   IPv4 address. The port must be in the policy's allowed ports.
3. **Connects to the checked IP** ("pinning"). httpx 0.28 has no public way to pick the
   address it connects to, but httpcore has a pluggable *network backend*: the connection
   pool calls ``backend.connect_tcp(host, port)`` and afterwards
   ``stream.start_tls(ctx, server_hostname=host)``. :class:`_PinnedBackend` ignores DNS and
   opens the socket to the checked IP, so the URL, the ``Host`` header, the TLS SNI and the
   certificate check all keep the original hostname, while a DNS answer that changes after
   the check (rebinding) is never consulted. :class:`_PinnedTransport` is an
   ``httpx.HTTPTransport`` whose httpcore pool is rebuilt with that backend (the pool is
   the private ``_pool`` attribute; encode/httpx PR #3749 proposes a public
   ``network_backend`` argument, and the tests fail loudly if this stops working).
   (Rewriting the URL to the IP with an ``sni_hostname`` extension and a forced ``Host``
   header also works, but changes the request target, the final URL and IPv6 bracketing;
   the backend leaves httpx's request untouched.) The backend also wraps every stream so
   each read/write/handshake waits at most until the overall deadline: a server dripping
   one byte at a time cannot hold a worker.
4. Handles redirects itself (``follow_redirects=False``), re-running 1-3 on each hop, and
   drops ``Authorization``/``Cookie`` when the origin changes.
5. Refuses a non-2xx final status, a media type outside ``allowed_content_types``, a
   ``Content-Length`` above the cap, and stops reading as soon as the body passes the cap
   (gzip/deflate bodies are decoded with the same cap, so a small bomb cannot expand).

``allow_loopback=True`` (test settings only, never production) allows exactly 127.0.0.0/8
and ::1 (nothing else private) on any port, so tests can fetch from local servers on random
ports. Errors are one family, :class:`OutboundRequestError`, each with a machine ``reason``
(for logs) and one message for all (:data:`REFUSED_MESSAGE`), so an answer never tells an
internal host name that resolves from one that does not; callers map them to their own
domain errors (e.g. ``buyhive.exceptions.ImageFetchFailed``).

``get(owner=..., deadline=...)``: at most ``policy.max_concurrent_per_owner`` fetches per
owner (user id) at once in a process, and an overall deadline shared by several fetches
(an image step fetching its candidates in parallel under one budget).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import ipaddress
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx
import structlog

log = structlog.get_logger(__name__)

MAX_URL_LENGTH = 2048
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
SUPPORTED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}
# Headers the client controls itself; a caller passing one is a programming error.
RESERVED_HEADERS = frozenset(
    {"host", "accept-encoding", "content-length", "transfer-encoding", "connection"}
)
# Credentials that must not follow a redirect to another origin.
ORIGIN_BOUND_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})

#: A resolver takes (host, port) and returns the host's IP addresses as strings.
Resolver = Callable[[str, int], Sequence[str]]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance-metadata and host-agent endpoints (AWS/GCP/Azure/DO: 169.254.169.254,
# AWS ECS and IPv6, Azure wireserver, Alibaba, Oracle, Tencent). Most are also in a
# refused range below; they are named so logs say "metadata".
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254", "169.254.170.2", "169.254.0.23", "168.63.129.16",
        "100.100.100.200", "192.0.0.192", "fd00:ec2::254",
    )
)  # fmt: skip

# Refused ranges, grouped by the reason logged; checked in this order (so 0.0.0.0 is
# "unspecified", not "reserved"). Python 3.11's ipaddress tables are incomplete (e.g.
# 192.0.0.0/24 counts as global there), so the ranges are spelled out.
_REFUSED_RANGES: dict[str, tuple[str, ...]] = {
    "unspecified": ("0.0.0.0/32", "::/128"),
    "loopback": ("127.0.0.0/8", "::1/128"),
    "ipv4_mapped": ("::ffff:0:0/96",),
    "private": ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10"),
    "link_local": ("169.254.0.0/16", "fe80::/10"),
    "cgnat": ("100.64.0.0/10",),
    "multicast": ("224.0.0.0/4", "ff00::/8"),
    "reserved": (
        "0.0.0.0/8", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",  # incl. 255.255.255.255
        "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
    ),
}  # fmt: skip
_REFUSED_NETWORKS = tuple(
    (ipaddress.ip_network(net), reason) for reason, nets in _REFUSED_RANGES.items() for net in nets
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_LABEL_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMERIC_LABEL_RE = re.compile(r"0x[0-9a-f]*|[0-9]+")


# --------------------------------------------------------------------------- errors


#: The one message every refusal and failure carries. Telling "not allowed" from "host not
#: found" from "could not connect" let a caller probe which internal host names exist (a name
#: that resolves to a private address was "not allowed", an unknown one "not found"); the
#: machine ``reason`` stays distinct, for logs only.
REFUSED_MESSAGE = "The address could not be fetched."


class OutboundRequestError(Exception):
    """Base of every refusal or failure of the safe client.

    Each subclass names its machine ``reason`` only; they all carry :data:`REFUSED_MESSAGE`.
    """

    default_reason = "outbound_error"
    default_message = REFUSED_MESSAGE

    def __init__(self, reason: str | None = None, message: str | None = None) -> None:
        self.reason = reason or self.default_reason
        self.message = message or self.default_message
        super().__init__(self.message)


class DisallowedURL(OutboundRequestError):
    default_reason = "invalid_url"


class DisallowedAddress(OutboundRequestError):
    default_reason = "address_not_allowed"


class TooManyRedirects(OutboundRequestError):
    default_reason = "too_many_redirects"


class ResponseTooLarge(OutboundRequestError):
    default_reason = "too_large"


class DisallowedContentType(OutboundRequestError):
    default_reason = "content_type_not_allowed"


class FetchTimeout(OutboundRequestError):
    default_reason = "timeout"


class TooManyFetches(OutboundRequestError):
    default_reason = "too_many_concurrent_fetches"


class FetchFailed(OutboundRequestError):
    default_reason = "fetch_failed"

    def __init__(
        self,
        reason: str | None = None,
        message: str | None = None,
        *,
        status_code: int | None = None,
    ) -> None:
        self.status_code = status_code
        super().__init__(reason, message)


# --------------------------------------------------------------------------- policy, result


@dataclass(frozen=True)
class OutboundPolicy:
    """What the client may fetch and for how long. Lists are normalised to tuples."""

    allowed_schemes: Sequence[str] = ("http", "https")
    allowed_ports: Sequence[int] = (80, 443)
    allow_loopback: bool = False
    connect_timeout: float = 3.0
    read_timeout: float = 5.0
    total_timeout: float = 10.0
    max_redirects: int = 3
    max_bytes: int = 5 * 1024 * 1024
    user_agent: str = "BuyHiveBot/1.0"
    # Concurrent fetches per owner (``get(owner=...)``) in one process; 0: no cap.
    max_concurrent_per_owner: int = 4

    def __post_init__(self) -> None:
        schemes = tuple(s.lower() for s in self.allowed_schemes)
        if not set(schemes) <= SUPPORTED_SCHEMES:
            raise ValueError(f"unsupported schemes: {sorted(set(schemes) - SUPPORTED_SCHEMES)}")
        if min(self.connect_timeout, self.read_timeout, self.total_timeout) <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_redirects < 0 or self.max_bytes <= 0:
            raise ValueError("max_redirects must be >= 0 and max_bytes > 0")
        object.__setattr__(self, "allowed_schemes", schemes)
        object.__setattr__(self, "allowed_ports", tuple(int(p) for p in self.allowed_ports))


@dataclass(frozen=True)
class FetchResult:
    url: str  # the final URL, after redirects
    status_code: int
    headers: Mapping[str, str]  # lower-case names
    content_type: str  # the media type, lower-case, without parameters ("" when absent)
    content: bytes  # decoded body (gzip/deflate undone)
    ip: str  # the peer address the last hop was connected to
    redirects: int = 0


@dataclass(frozen=True)
class _Target:
    url: httpx.URL
    host: str  # as httpcore will hand it to the backend (ASCII, IDNA-encoded)
    port: int
    ips: tuple[str, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------- checks


def address_refusal(ip: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Return why ``ip`` may not be fetched from, or None if it is a public address."""
    if ip in METADATA_ADDRESSES:
        return "metadata"
    if allow_loopback and ip.is_loopback:  # 127.0.0.0/8 and ::1 only
        return None
    for network, reason in _REFUSED_NETWORKS:
        if ip.version == network.version and ip in network:
            return reason
    if isinstance(ip, ipaddress.IPv6Address):
        # 6to4 (2002::/16) and NAT64 (64:ff9b::/96) carry an IPv4 address that the relay
        # or gateway will connect to: judge that one.
        embedded = ip.sixtofour or (
            ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None
        )
        if embedded is not None:
            return "embedded_ipv4" if address_refusal(embedded) else None
        return None if ip in _GLOBAL_UNICAST_V6 else "reserved"
    return None if ip.is_global else "reserved"


def _check_url(raw: str, policy: OutboundPolicy) -> _Target:
    """Validate everything about a URL that does not need DNS."""
    if len(raw) > MAX_URL_LENGTH:
        raise DisallowedURL("url_too_long")
    if any(ord(c) <= 0x20 or c == "\x7f" for c in raw):
        raise DisallowedURL("invalid_url")
    try:
        url = httpx.URL(raw)
        host = url.raw_host.decode("ascii").lower()
    except (httpx.InvalidURL, UnicodeError, TypeError) as exc:
        raise DisallowedURL("invalid_url") from exc
    if url.scheme not in policy.allowed_schemes:
        raise DisallowedURL("scheme_not_allowed")
    if url.userinfo:
        raise DisallowedURL("userinfo")
    if not host:
        raise DisallowedURL("missing_host")
    port = DEFAULT_PORTS[url.scheme] if url.port is None else url.port
    if not 0 < port < 65536:
        raise DisallowedURL("port_not_allowed")
    if ":" in host:  # an IPv6 literal (httpx has already validated it; zone ids are refused)
        if "%" in host:
            raise DisallowedURL("invalid_host")
        return _Target(url=url, host=host, port=port, ips=(host,))
    name = host.removesuffix(".")
    labels = name.split(".")
    if _NUMERIC_LABEL_RE.fullmatch(labels[-1]):
        # WHATWG: a numeric last label makes the host an IPv4 address; only the canonical
        # dotted quad is accepted, so "127.1", "0x7f.0.0.1" and "2130706433" never reach DNS.
        try:
            literal = ipaddress.IPv4Address(name)
        except ValueError:
            literal = None
        if literal is None or str(literal) != name:
            raise DisallowedURL("ambiguous_ip")
        return _Target(url=url, host=host, port=port, ips=(name,))
    if len(name) > 253 or not all(_LABEL_RE.fullmatch(label) for label in labels):
        raise DisallowedURL("invalid_host")
    return _Target(url=url, host=host, port=port)


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses ``getaddrinfo`` gives for a TCP connection to host:port, in order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _Lookups:
    """Bounded DNS lookups that one slow name server cannot turn into a denial of service.

    ``getaddrinfo`` has no timeout of its own. The first version ran it on a shared pool of
    four threads and stopped *waiting* at the deadline, but the thread stayed busy until the
    resolver gave up (tens of seconds): four names that never answer starved the pool and the
    next user's image check in that worker failed. Here every query gets a thread of its own
    (a daemon: it never holds up shutdown) and the caller waits at most the query's timeout.
    A stuck query keeps only its own thread, counted in :attr:`in_flight`; past
    ``max_in_flight`` stuck ones, new lookups are refused at once instead of piling up
    threads. Per user, :class:`_OwnerSlots` caps concurrent fetches, so one user can hold at
    most that many lookups.
    """

    def __init__(self, max_in_flight: int = 64) -> None:
        self.max_in_flight = max_in_flight
        self._lock = threading.Lock()
        self.in_flight = 0

    def resolve(self, resolver: Resolver, host: str, port: int, timeout: float) -> list[str]:
        with self._lock:
            if self.in_flight >= self.max_in_flight:
                raise FetchTimeout("dns_busy")
            self.in_flight += 1
        future: Future[list[str]] = Future()

        def run() -> None:
            try:
                future.set_result(list(resolver(host, port)))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                future.set_exception(exc)
            finally:
                with self._lock:
                    self.in_flight -= 1

        threading.Thread(target=run, name="outbound-dns", daemon=True).start()
        try:
            return future.result(timeout=max(timeout, 0.001))
        except FutureTimeout as exc:
            raise FetchTimeout("dns_timeout") from exc


_LOOKUPS = _Lookups()


class _OwnerSlots:
    """At most ``limit`` concurrent fetches per owner (a user id) in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[str, int] = {}

    @contextlib.contextmanager
    def hold(self, owner: str | None, limit: int) -> Iterator[None]:
        if owner is None or limit <= 0:
            yield
            return
        with self._lock:
            if self._active.get(owner, 0) >= limit:
                raise TooManyFetches()
            self._active[owner] = self._active.get(owner, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._active[owner] - 1
                if left:
                    self._active[owner] = left
                else:
                    del self._active[owner]

    def active(self, owner: str) -> int:
        with self._lock:
            return self._active.get(owner, 0)


_OWNER_SLOTS = _OwnerSlots()


# --------------------------------------------------------------------------- transport


class _DeadlineStream(httpcore.NetworkStream):
    """Clamps every socket wait of the wrapped stream to the overall deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def _budget(self, timeout: float | None) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise httpcore.ReadTimeout("overall deadline exceeded")
        return remaining if timeout is None else min(timeout, remaining)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._budget(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._budget(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, self._budget(timeout))
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the pre-checked IPs of exactly one host:port, never resolving names."""

    def __init__(self, target: _Target, deadline: float) -> None:
        self._target = target
        self._deadline = deadline
        self._sync = httpcore.SyncBackend()
        self.peer_ip: str | None = None

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if (host.lower(), port) != (self._target.host, self._target.port):
            # Only reachable if httpx/httpcore changed behaviour: never connect unchecked.
            raise DisallowedAddress("unpinned_connect")
        last_error: Exception | None = None
        for ip in self._target.ips:  # every one of them passed address_refusal()
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise httpcore.ConnectTimeout("overall deadline exceeded")
            budget = remaining if timeout is None else min(timeout, remaining)
            try:
                stream = self._sync.connect_tcp(
                    ip, port, budget, local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
                continue
            peer = stream.get_extra_info("server_addr")
            self.peer_ip = str(peer[0]) if peer else ip
            return _DeadlineStream(stream, self._deadline)
        assert last_error is not None
        raise last_error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise DisallowedAddress("unix_socket")


class _PinnedTransport(httpx.HTTPTransport):
    """An httpx transport whose connection pool uses :class:`_PinnedBackend`."""

    def __init__(self, backend: _PinnedBackend, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, trust_env=False, http1=True, http2=False)
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):
            raise TypeError("httpx.HTTPTransport internals changed; cannot pin addresses")
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, max_connections=1, network_backend=backend
        )


# --------------------------------------------------------------------------- client


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """certifi's CA bundle, hostname checks on; built once (loading the bundle is slow)."""
    return httpx.create_ssl_context(trust_env=False)


class SafeHttpClient:
    """Fetches user-supplied addresses under an :class:`OutboundPolicy` (see module doc)."""

    def __init__(
        self,
        policy: OutboundPolicy | None = None,
        *,
        resolver: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.policy = policy or OutboundPolicy()
        self._resolver = resolver
        self._ssl_context = ssl_context or _default_ssl_context()

    def get(
        self,
        url: str,
        *,
        allowed_content_types: Sequence[str] | None = None,
        max_bytes: int | None = None,
        headers: Mapping[str, str] | None = None,
        owner: str | None = None,
        deadline: float | None = None,
    ) -> FetchResult:
        """GET ``url`` and return its body, or raise an :class:`OutboundRequestError`.

        ``allowed_content_types``: an entry ending in ``/`` (``"image/"``) matches every
        subtype by prefix; any other entry must equal the media type. ``None`` allows all.
        Non-2xx final answers raise :class:`FetchFailed` (``reason="http_status"``).

        ``owner`` (a user id): at most ``policy.max_concurrent_per_owner`` fetches of one
        owner run at once in this process; one more raises :class:`TooManyFetches`.
        ``deadline`` (a ``time.monotonic()`` value): an overall deadline shared by several
        fetches (a step fetching candidates in parallel under one budget); this fetch ends
        by the earlier of it and ``policy.total_timeout`` from now.
        """
        with _OWNER_SLOTS.hold(owner, self.policy.max_concurrent_per_owner):
            return self._get(url, allowed_content_types, max_bytes, headers, deadline)

    def _get(
        self,
        url: str,
        allowed_content_types: Sequence[str] | None,
        max_bytes: int | None,
        headers: Mapping[str, str] | None,
        deadline: float | None,
    ) -> FetchResult:
        cap = max_bytes or self.policy.max_bytes
        own_deadline = time.monotonic() + self.policy.total_timeout
        deadline = own_deadline if deadline is None else min(deadline, own_deadline)
        if deadline <= time.monotonic():
            raise FetchTimeout("deadline_exceeded")
        request_headers = self._request_headers(headers, allowed_content_types)
        current, redirects = url, 0
        try:
            while True:
                target = self._check_target(current, deadline)
                outcome = self._fetch_once(
                    target, request_headers, deadline, cap, allowed_content_types
                )
                if isinstance(outcome, FetchResult):
                    result = dataclasses.replace(outcome, redirects=redirects)
                    log.info(
                        "outbound_fetch",
                        host=target.host,
                        status=result.status_code,
                        size=len(result.content),
                        redirects=redirects,
                    )
                    return result
                if redirects >= self.policy.max_redirects:
                    raise TooManyRedirects()
                redirects += 1
                try:
                    next_url = target.url.join(outcome)
                except httpx.InvalidURL as exc:
                    raise DisallowedURL("invalid_redirect") from exc
                if (next_url.scheme, next_url.raw_host, next_url.port) != (
                    target.url.scheme,
                    target.url.raw_host,
                    target.url.port,
                ):
                    request_headers = {
                        k: v for k, v in request_headers.items() if k not in ORIGIN_BOUND_HEADERS
                    }
                current = str(next_url)
        except OutboundRequestError as exc:
            log.warning(
                "outbound_error", error=type(exc).__name__, reason=exc.reason, redirects=redirects
            )
            raise

    def _request_headers(
        self, extra: Mapping[str, str] | None, allowed: Sequence[str] | None
    ) -> dict[str, str]:
        accept = ", ".join(t + "*" if t.endswith("/") else t for t in allowed) if allowed else "*/*"
        result = {"user-agent": self.policy.user_agent, "accept": accept}
        for name, value in (extra or {}).items():
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"the client sets the {name.lower()!r} header itself")
            result[name.lower()] = value
        result["accept-encoding"] = "identity"
        return result

    def _check_target(self, url: str, deadline: float) -> _Target:
        """URL checks, then DNS once, then every address and the port (no traffic yet)."""
        target = _check_url(url, self.policy)
        ips = target.ips or self._resolve(target.host, target.port, deadline)
        parsed: list[IPAddress] = []
        for text in ips:
            try:
                parsed.append(ipaddress.ip_address(text))
            except ValueError as exc:
                raise FetchFailed("dns_failure") from exc
        for address in parsed:  # ANY refused address refuses the request
            reason = address_refusal(address, allow_loopback=self.policy.allow_loopback)
            if reason is not None:
                log.warning(
                    "outbound_address_refused", host=target.host, ip=str(address), reason=reason
                )
                raise DisallowedAddress(reason)
        all_loopback = self.policy.allow_loopback and all(ip.is_loopback for ip in parsed)
        if target.port not in self.policy.allowed_ports and not all_loopback:
            raise DisallowedURL("port_not_allowed")
        return _Target(
            url=target.url, host=target.host, port=target.port, ips=tuple(str(ip) for ip in parsed)
        )

    def _resolve(self, host: str, port: int, deadline: float) -> tuple[str, ...]:
        wait = min(self.policy.connect_timeout, deadline - time.monotonic())
        try:
            ips = tuple(_LOOKUPS.resolve(self._resolver, host, port, wait))
        except (OSError, UnicodeError) as exc:
            raise FetchFailed("dns_failure") from exc
        if not ips:
            raise FetchFailed("dns_failure")
        return ips

    def _fetch_once(
        self,
        target: _Target,
        headers: Mapping[str, str],
        deadline: float,
        cap: int,
        allowed: Sequence[str] | None,
    ) -> FetchResult | str:
        """One request to the pinned IPs: a result, or the Location of a redirect."""
        backend = _PinnedBackend(target, deadline)
        timeout = httpx.Timeout(
            connect=self.policy.connect_timeout,
            read=self.policy.read_timeout,
            write=self.policy.read_timeout,
            pool=self.policy.connect_timeout,
        )
        transport = _PinnedTransport(backend, self._ssl_context)
        try:
            with (
                httpx.Client(
                    transport=transport, trust_env=False, follow_redirects=False, timeout=timeout
                ) as client,
                client.stream("GET", target.url, headers=headers) as response,
            ):
                location = response.headers.get("location")
                if response.status_code in REDIRECT_STATUSES and location:
                    return location
                if not 200 <= response.status_code < 300:
                    raise FetchFailed("http_status", status_code=response.status_code)
                media_type = _media_type(response.headers.get("content-type", ""))
                if allowed is not None and not _type_allowed(media_type, allowed):
                    raise DisallowedContentType()
                body = _read_capped(response, cap)
                return FetchResult(
                    url=str(response.url),
                    status_code=response.status_code,
                    headers={k.lower(): v for k, v in response.headers.items()},
                    content_type=media_type,
                    content=_decode(body, response.headers.get("content-encoding"), cap),
                    ip=backend.peer_ip or "",
                )
        except httpx.ConnectTimeout as exc:
            raise FetchTimeout(_timeout_reason("connect_timeout", deadline)) from exc
        except httpx.TimeoutException as exc:
            raise FetchTimeout(_timeout_reason("read_timeout", deadline)) from exc
        except httpx.ConnectError as exc:
            reason = "tls_error" if _caused_by(exc, ssl.SSLError) else "connect_failed"
            raise FetchFailed(reason) from exc
        except httpx.HTTPError as exc:
            raise FetchFailed("protocol_error") from exc


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is anywhere in the cause/context chain of ``exc``."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _timeout_reason(reason: str, deadline: float) -> str:
    return "deadline_exceeded" if time.monotonic() >= deadline - 0.01 else reason


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _type_allowed(media_type: str, allowed: Sequence[str]) -> bool:
    if not media_type:
        return False
    for entry in (a.lower() for a in allowed):
        if media_type == entry or (entry.endswith("/") and media_type.startswith(entry)):
            return True
    return False


def _read_capped(response: httpx.Response, cap: int) -> bytes:
    """Read the raw body, refusing early on Content-Length and while streaming."""
    declared = response.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > cap:
        raise ResponseTooLarge("content_length")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_raw():
        size += len(chunk)
        if size > cap:
            raise ResponseTooLarge("body_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(body: bytes, encoding: str | None, cap: int) -> bytes:
    """Undo a gzip/deflate Content-Encoding the server used anyway, never past ``cap``."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding not in {"gzip", "x-gzip", "deflate"}:
        raise FetchFailed("unsupported_encoding")
    # wbits: 47 = gzip or zlib header auto-detected; deflate may also come raw (-15).
    for wbits in (47,) if "gzip" in encoding else (15, -15):
        decoder = zlib.decompressobj(wbits)
        try:
            out = decoder.decompress(body, cap + 1)
        except zlib.error:
            continue
        if len(out) > cap:
            raise ResponseTooLarge("decoded_too_large")
        return out
    raise FetchFailed("decode_error")


def policy_from_settings(settings: Any) -> OutboundPolicy:
    """Build the policy from a settings object (``OUTBOUND_HTTP_*``, defaults in settings/base)."""
    return OutboundPolicy(
        allowed_schemes=settings.OUTBOUND_HTTP_ALLOWED_SCHEMES,
        allowed_ports=settings.OUTBOUND_HTTP_ALLOWED_PORTS,
        allow_loopback=bool(settings.OUTBOUND_HTTP_ALLOW_LOOPBACK),
        connect_timeout=float(settings.OUTBOUND_HTTP_CONNECT_TIMEOUT),
        read_timeout=float(settings.OUTBOUND_HTTP_READ_TIMEOUT),
        total_timeout=float(settings.OUTBOUND_HTTP_TOTAL_TIMEOUT),
        max_redirects=int(settings.OUTBOUND_HTTP_MAX_REDIRECTS),
        max_bytes=int(settings.OUTBOUND_HTTP_MAX_BYTES),
        user_agent=str(settings.OUTBOUND_HTTP_USER_AGENT),
        max_concurrent_per_owner=int(settings.OUTBOUND_HTTP_MAX_CONCURRENT_PER_USER),
    )


def get_client() -> SafeHttpClient:
    """The client configured by Django settings (``OUTBOUND_HTTP_*``)."""
    from django.conf import settings

    return SafeHttpClient(policy_from_settings(settings))
