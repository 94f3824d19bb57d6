"""The client's IP address behind ``TRUSTED_PROXY_COUNT`` proxies.

Each proxy appends the address it received the request from to ``X-Forwarded-For``, so
only the right-most ``TRUSTED_PROXY_COUNT`` entries were written by proxies we trust; the
entry those proxies saw is the client. Anything further left was sent by the client and
can be spoofed, so it is ignored. With ``TRUSTED_PROXY_COUNT = 0`` (the default, no proxy)
the header is ignored and ``REMOTE_ADDR`` is the client.
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


def get_client_ip(request: HttpRequest) -> str:
    """The IP set by :class:`buyhive.middleware.ClientIpMiddleware` (computed if absent)."""
    ip = getattr(request, "client_ip", None)
    if ip is None:
        ip = resolve_client_ip(request)
        request.client_ip = ip  # type: ignore[attr-defined]
    return ip
