"""Canonical form of a product page address.

Two addresses that show the same product to a buyer should canonicalise to the same string,
so that an item saved twice from the same page is recognised, and so that the extraction
cache keys on the product rather than on the campaign that led the user there.

``canonicalize_url`` is pure string work (no network, no Django) and never raises.

What it does, in order:

* trims whitespace; an address without a scheme and host is returned trimmed and otherwise
  untouched (it is not a web address we can reason about);
* lowercases the scheme and the host (IDNA-encodes a non-ASCII host), drops the default port
  (80 for http, 443 for https), drops the fragment;
* normalises percent-encoding: escapes of unreserved characters are decoded (``%7E`` -> ``~``),
  other escapes are upper-cased (``%2f`` -> ``%2F``), and characters that may not appear raw
  (spaces, non-ASCII) are encoded; an empty path becomes ``/``;
* drops tracking parameters (:data:`TRACKING_PARAMS`, :data:`TRACKING_PREFIXES`), compared
  case-insensitively, and keeps every other parameter, since shops put the variant, the size,
  the colour or the product id in the query (``variant``, ``size``, ``sku``, ``id``, ``pid``...);
* sorts the remaining parameters by name (a stable sort, so repeated names keep their
  relative order), so the order the shop or the campaign wrote them in does not matter;
* strips a trailing ``?`` (an empty query).

:class:`CanonicalUrl` carries an address together with its canonical form, so that one
request canonicalises its address once and hands the pair down (the extraction cache key, the
extractor's fallback canonical URL, the saved item's uniqueness key) instead of each step
recomputing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

__all__ = [
    "TRACKING_PARAMS",
    "TRACKING_PREFIXES",
    "CanonicalUrl",
    "canonicalize_url",
    "is_tracking_param",
]

#: Query parameters that only say how the visitor arrived (ad clicks, newsletters, affiliate
#: and social referrals, analytics session ids). Compared lower-cased.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        # Google Ads / Analytics
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "gad_source",
        "gad_campaignid",
        "_ga",
        "_gl",
        "_gac",
        "srsltid",
        # Microsoft, Meta, Twitter/X, TikTok, LinkedIn, Yandex, Instagram, Pinterest
        "msclkid",
        "fbclid",
        "fb_action_ids",
        "fb_action_types",
        "fb_source",
        "fb_ref",
        "twclid",
        "ttclid",
        "li_fat_id",
        "yclid",
        "ysclid",
        "igshid",
        "igsh",
        "epik",
        # Mailchimp, HubSpot, Marketo, Vero, Klaviyo and other newsletter tools
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "__hssc",
        "__hstc",
        "__hsfp",
        "hsctatracking",
        "mkt_tok",
        "vero_id",
        "vero_conv",
        "_kx",
        "oly_anon_id",
        "oly_enc_id",
        "wickedid",
        "rb_clickid",
        "s_kwcid",
        "ef_id",
        "_openstat",
        "cmpid",
        "trk",
        "trkcampaign",
        "sc_cid",
        # Referral and position markers (Amazon's ref/ref_, Alibaba/Taobao's spm)
        "ref",
        "ref_",
        "referrer",
        "spm",
        "scm",
        "_branch_match_id",
    }
)

#: Families of tracking parameters matched by prefix (lower-cased): Google/Urchin ``utm_*``,
#: Matomo/Piwik ``pk_*``/``mtm_*``/``piwik_*``, HubSpot ads ``hsa_*``.
TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "pk_", "mtm_", "piwik_", "hsa_")

_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE_RE = re.compile(r"%([0-9A-Fa-f]{2})")
# Characters allowed raw in a path besides unreserved ones (RFC 3986 sub-delims, ":", "@", "/")
# plus "%" so that existing escapes are kept.
_PATH_SAFE = "/:@!$&'()*+,;=%-._~"


def is_tracking_param(name: str) -> bool:
    """True when a query parameter only tracks the visit (see the lists above)."""
    key = name.strip().lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _normalise_escapes(text: str) -> str:
    """Decode escapes of unreserved characters, upper-case the others."""

    def repl(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return _ESCAPE_RE.sub(repl, text)


def _normalise_path(path: str) -> str:
    # A lone "%" not followed by two hex digits must become "%25", or it would be read as an
    # escape later; quote() leaves "%" alone, so protect those first.
    path = re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", path)
    path = quote(path, safe=_PATH_SAFE)
    path = _normalise_escapes(path)
    return path or "/"


def _normalise_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if host and not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            host = quote(host, safe="")
    return host


def canonicalize_url(url: str) -> str:
    """Return the canonical form of ``url`` (see the module docstring). Never raises."""
    if not isinstance(url, str):
        return ""
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    scheme = parts.scheme.lower()
    if not scheme or not parts.netloc:
        return text
    try:
        port = parts.port
    except ValueError:
        port = None
    host = _normalise_host(parts.hostname or "")
    if not host:
        return text
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host
    if port is not None and _DEFAULT_PORTS.get(scheme) != port:
        netloc = f"{host}:{port}"
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{netloc}"

    path = _normalise_path(parts.path)

    pairs = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key and not is_tracking_param(key)
    ]
    pairs.sort(key=lambda pair: pair[0])  # stable: repeated keys keep their order
    query = urlencode(pairs, quote_via=quote, safe="-._~!$'()*,;:@/")
    return urlunsplit((scheme, netloc, path, query, ""))


@dataclass(frozen=True, slots=True)
class CanonicalUrl:
    """An address as given (``url``) and its :func:`canonicalize_url` form (``canonical``).

    Build it with :meth:`of`; a consumer that is handed one uses ``canonical`` only when
    ``url`` is the address it is about to use, and canonicalises that address itself otherwise.
    """

    url: str
    canonical: str

    @classmethod
    def of(cls, url: str) -> CanonicalUrl:
        """Canonicalise ``url`` (once) and keep both forms."""
        return cls(url=url, canonical=canonicalize_url(url))

    def canonical_for(self, url: str) -> str:
        """The canonical form of ``url``: the one already computed when it is this address."""
        return self.canonical if url == self.url else canonicalize_url(url)
