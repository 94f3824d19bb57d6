"""The page classifier's input text: the URL made readable, plus the title when known."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from buyhive.product.urls import is_tracking_param

MAX_TITLE_CHARS = 200
MAX_PART_CHARS = 400  # the lead and button texts (the encoder reads at most 64 tokens)
MAX_URL_CHARS = 2048

_URL_SPLIT = re.compile(r"[/\-_.?=&+,;:~!#%\s|]+")
_SPACES = re.compile(r"\s+")


def url_to_text(url: str) -> str:
    """Make a URL readable for the encoder: no scheme, no ``www.``, lower case, split on
    ``/-_.?=&`` (and a few other separators), percent-escapes decoded, tracking parameters
    (``utm_*``, ``gclid``...) dropped.

    >>> url_to_text("https://www.shop.example/en/p/oak-table-00293772/?utm_source=x&v=2")
    'shop example en p oak table 00293772 v 2'
    """
    url = url.strip()[:MAX_URL_CHARS]
    if "://" not in url:
        url = "http://" + url.lstrip("/")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:  # e.g. an invalid IPv6 literal: treat the whole thing as text
        return " ".join(t for t in _URL_SPLIT.split(unquote(url).lower()) if t)
    if host.startswith("www."):
        host = host[4:]
    query = [
        f"{k} {v}".strip()
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking_param(k)
    ]
    raw = " ".join([host, unquote(parts.path), *query]).lower()
    return " ".join(t for t in _URL_SPLIT.split(raw) if t)


def clean_title(title: str | None, limit: int = MAX_TITLE_CHARS) -> str | None:
    if not title:
        return None
    clean = _SPACES.sub(" ", title).strip()[:limit]
    return clean or None


@dataclass(frozen=True)
class PageInput:
    """What the model reads: the readable URL and, when known, the page title; with the page's
    HTML also its main heading and its meta description (each embedded apart, then summed),
    and two texts the page layer embeds on their own (:attr:`parts`): the opening text of the
    block around the main heading and the labels of the page's buttons."""

    url_text: str
    title: str | None = None
    heading: str | None = None
    description: str | None = None
    url: str | None = field(default=None, compare=False)  # the raw address (URL features)
    lead: str | None = None  # the opening text of the main heading's block
    controls: str | None = None  # the page's button labels, comma-separated

    @classmethod
    def from_url(
        cls,
        url: str,
        title: str | None = None,
        *,
        heading: str | None = None,
        description: str | None = None,
        lead: str | None = None,
        controls: str | None = None,
    ) -> PageInput:
        return cls(
            url_to_text(url),
            clean_title(title),
            clean_title(heading),
            clean_title(description),
            url=url,
            lead=clean_title(lead, MAX_PART_CHARS),
            controls=clean_title(controls, MAX_PART_CHARS),
        )

    @property
    def texts(self) -> list[str]:
        """The texts the encoder embeds for this page, URL first."""
        return [self.url_text, *(t for t in (self.title, self.heading, self.description) if t)]

    @property
    def parts(self) -> list[str | None]:
        """The texts embedded apart after the summed :attr:`texts`, in the page layer's order
        (``None``: the page does not have it, its vector is zero)."""
        return [self.lead, self.controls]

    @property
    def key(self) -> str:
        """The normalised text (cache key and logs)."""
        key = self.url_text if self.title is None else f"{self.url_text} | {self.title}"
        if self.heading or self.description:
            key += f" | h1: {self.heading or ''} | description: {self.description or ''}"
        if self.lead or self.controls:
            key += f" | lead: {self.lead or ''} | controls: {self.controls or ''}"
        return key

    @classmethod
    def from_key(cls, key: str) -> PageInput:
        """Inverse of :attr:`key` (a readable URL never contains ``|``)."""
        key = key.split(" | h1: ", 1)[0]
        url_text, sep, title = key.partition(" | ")
        return cls(url_text, title or None) if sep else cls(key, None)


def page_text(url: str, title: str | None = None) -> str:
    """The normalised classifier input as one string: readable URL, then `` | title``."""
    return PageInput.from_url(url, title).key
