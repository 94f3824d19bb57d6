"""The client's IP address behind ``TRUSTED_PROXY_COUNT`` proxies.

Each proxy appends the address it received the request from to ``X-Forwarded-For``, so
only the right-most ``TRUSTED_PROXY_COUNT`` entries were written by proxies we trust; the
entry those proxies saw is the client. Anything further left was sent by the client and
can be spoofed, so it is ignored. With ``TRUSTED_PROXY_COUNT = 0`` (the default, no proxy)
the header is ignored and ``REMOTE_ADDR`` is the client.

The same address is used everywhere: rate limits (through :func:`client_key`), the request
log line (``buyhive.signals`` binds it in place of django-ipware's guess, which trusted the
left-most, client-written ``X-Forwarded-For`` entry) and metrics.

Behind the ALB (deploy/aws/service.yaml) ``TRUSTED_PROXY_COUNT`` is 1: the ALB appends the
address it received the connection from. Behind App Runner (deploy/aws/apprunner.yaml) it
is 1 as well: App Runner's request router is the one proxy, and it appends the client's
address. Anything else (a CDN in front of either) adds its hops. The default, 0, believes
no header: a direct caller cannot choose its own address.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid_ip(value: str) -> str | None:
    value = value.strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def resolve_client_ip(request: HttpRequest, trusted_proxies: int | None = None) -> str:
    """Return the client's IP as a string ("unknown" if nothing usable was given)."""
    count = settings.TRUSTED_PROXY_COUNT if trusted_proxies is None else trusted_proxies
    remote = _valid_ip(request.META.get("REMOTE_ADDR", "")) or "unknown"
    if count <= 0:
        return remote
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [h for h in (part.strip() for part in header.split(",")) if h]
    if len(hops) < count:
        # Fewer hops than proxies: the request did not come through all of them.
        return remote
    return _valid_ip(hops[-count]) or remote


#: IPv6 clients are counted per /64: one subscriber (one home, one VM) usually gets a whole
#: /64, so counting single addresses would give an attacker 2**64 fresh counters.
IPV6_PREFIX = 64


def client_key(ip: str) -> str:
    """The rate-limit identity of a client address: the IPv4 address, or the IPv6 /64."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return f"ip:{ip}"
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            return f"ip:{mapped}"
        network = ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False)
        return f"ip6:{network}"
    return f"ip:{address}"


def client_rate_key(request: HttpRequest) -> str:
    """:func:`client_key` of the request's client address (what rate limits count)."""
    return client_key(get_client_ip(request))


def get_client_ip(request: HttpRequest) -> str:
    """The IP set by :class:`buyhive.middleware.ClientIpMiddleware` (computed if absent)."""
    ip = getattr(request, "client_ip", None)
    if ip is None:
        ip = resolve_client_ip(request)
        request.client_ip = ip  # type: ignore[attr-defined]
    return ip
