"""The ``match`` string: how the extension recognises a saved product's page locally.

``GET watch/urls/`` hands the extension one ``match`` per saved item and the list of query
parameters to drop; the extension builds the same string from the tab's address and only
reports a page whose string is in that list. The backend computes the string the same way
for the address an observation carries, and uses it as the product's identity: users who
saved the same page share one history.

The rule (the extension implements exactly this, so it is deliberately simple):

* host: lower case, IDNA (punycode) for a non-ASCII host, without a leading ``www.``, no port;
* path: as the page has it, escapes normalised as in :mod:`buyhive.product.urls`, without the
  trailing slash (the root path is then empty);
* query: every parameter except those named in :data:`DROP_PARAMS` and those whose name
  starts with ``utm_`` (names compared lower-cased), sorted by name (stable), written as
  ``?a=1&b=2`` (values percent-encoded as ``encodeURIComponent`` does, plus ``!'()*``
  kept raw); no ``?`` when none are left. The scheme and the fragment play no part.

Pure string work, never raises; an address without a host gives ``""`` (never matched).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from django.conf import settings

from buyhive.product.urls import TRACKING_PARAMS, canonicalize_url

__all__ = ["DROP_PARAMS", "match_key", "observer_hash"]

#: Query parameters the extension drops before matching (besides every ``utm_*`` one).
DROP_PARAMS: tuple[str, ...] = tuple(sorted(TRACKING_PARAMS))
_DROP = frozenset(DROP_PARAMS)
#: Longest ``match`` kept (the same cap as a saved address).
MATCH_MAX = 2048


def _dropped(name: str) -> bool:
    key = name.lower()
    return key in _DROP or key.startswith("utm_")


def match_key(url: str) -> str:
    """The ``match`` string of ``url`` (see the module docstring), ``""`` when it has no host."""
    if not isinstance(url, str):
        return ""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        return ""
    if not parts.scheme or not host:
        return ""
    # The canonical form normalises the host (IDNA, case) and the path's escapes; the query
    # is rebuilt here with the extension's own dropping rule.
    canonical = urlsplit(
        canonicalize_url(urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")))
    )
    host = (canonical.hostname or host).lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    path = canonical.path.rstrip("/")
    pairs = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if name and not _dropped(name)
    ]
    pairs.sort(key=lambda pair: pair[0])
    query = "&".join(
        f"{quote(name, safe=_SAFE)}={quote(value, safe=_SAFE)}" for name, value in pairs
    )
    key = f"{host}{path}" + (f"?{query}" if query else "")
    return key[:MATCH_MAX]


# encodeURIComponent leaves A-Z a-z 0-9 - _ . ! ~ * ' ( ) unescaped.
_SAFE = "-_.!~*'()"


def observer_hash(*, user_id: Any, product_key: str) -> str:
    """``HMAC-SHA256(WATCH_OBSERVER_SECRET, user id + product key)``, hex.

    The same user on the same product always gives the same hash (the hourly limit, "another
    observer"); the same user on two products gives unrelated hashes, and without the key
    nobody can tell which user made an observation.
    """
    secret = (settings.WATCH_OBSERVER_SECRET or settings.SECRET_KEY).encode()
    message = f"{user_id}\x00{product_key}".encode("utf-8", "surrogatepass")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()
