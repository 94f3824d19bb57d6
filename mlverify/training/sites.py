"""Which site a page belongs to: pages are grouped by site for folds and per-site caps."""

from __future__ import annotations

from urllib.parse import urlsplit

_SECOND_LEVEL_LABELS = frozenset(
    {"co", "com", "net", "org", "gov", "edu", "ac", "ne", "or", "go", "gob"}
)


def registrable_domain(host: str) -> str:
    """``www.shop.co.uk`` -> ``shop.co.uk``; ``a.b.example.com`` -> ``example.com``.

    A small heuristic for the public suffix (two-letter country code under a generic second
    level such as ``co``/``com``), enough to group pages by site without a suffix list.
    """
    labels = [x for x in host.lower().strip(".").split(".") if x]
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL_LABELS:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def site_of(url: str) -> str:
    """The site a URL belongs to: its registrable domain without the public suffix, so one
    shop's country domains (``shop.de``, ``shop.co.uk``) fall in the same fold."""
    host = urlsplit(url).hostname or ""
    return registrable_domain(host).split(".")[0]
