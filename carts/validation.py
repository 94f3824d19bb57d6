"""Input rules for carts and items, as plain functions (no DRF, no database).

The API serializers, the services (which the extraction app also calls) and the legacy
importer all apply the same rules through these functions. Each ``clean_*`` returns the
normalised value or raises :class:`ValueError` with a message fit for a client.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from buyhive.product.availability import AVAILABILITY_TERMS, availability_term
from buyhive.product.money import normalize_currency
from carts import models as m

__all__ = [
    "MAX_SEARCH_LENGTH",
    "MAX_VARIANT_KEYS",
    "clean_availability",
    "clean_cart_name",
    "clean_currency",
    "clean_http_url",
    "clean_input_text",
    "clean_variant",
]

MAX_SEARCH_LENGTH = 100
MAX_VARIANT_KEYS = 20
MAX_VARIANT_KEY_LENGTH = 50
MAX_VARIANT_VALUE_LENGTH = 200

_ALLOWED_SCHEMES = frozenset({"http", "https"})
# C0/C1 controls and DEL: never valid in a URL, a name or a header-bound string.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Same, but keeping \t, \n and \r, which free text (descriptions, notes, messages) may hold.
_TEXT_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_http_url(value: Any, *, max_length: int = m.URL_MAX) -> str:
    """An absolute http(s) URL with a host, at most ``max_length`` characters.

    Refuses every other scheme (``javascript:``, ``data:``, ``file:``, ``ftp:``...), control
    characters and whitespace inside the address, credentials in the host part and
    addresses without a host.
    """
    if not isinstance(value, str):
        raise ValueError("Enter a URL as a string.")
    url = value.strip()
    if not url:
        raise ValueError("This field may not be blank.")
    if len(url) > max_length:
        raise ValueError(f"Ensure this URL has at most {max_length} characters.")
    if _CONTROL_RE.search(url) or any(ch.isspace() for ch in url):
        raise ValueError("A URL may not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError("Enter a valid URL.") from exc
    if parts.scheme.lower() not in _ALLOWED_SCHEMES:
        raise ValueError("Only http and https URLs are allowed.")
    single_label = "." not in hostname.strip(".") if hostname else True
    if not hostname or (single_label and ":" not in hostname and hostname != "localhost"):
        raise ValueError("Enter a valid URL with a host name.")
    if parts.username is not None or parts.password is not None:
        raise ValueError("A URL may not contain a user name or password.")
    return url


def clean_input_text(value: Any, *, max_length: int, multiline: bool = False) -> str:
    """Trimmed text a client sent, of at most ``max_length`` characters; ``None`` is empty.

    Strict where :func:`buyhive.product.text.clean_text` (for text read from a page) is
    lenient: what cannot be accepted raises ValueError, so the client hears about it.
    Control characters are refused (single-line) or removed except tabs and newlines
    (``multiline``), so that nothing unprintable reaches an email header or a page.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError("Not a valid string.")
    text = unicodedata.normalize("NFC", value).strip()
    if multiline:
        text = _TEXT_CONTROL_RE.sub("", text)
    elif _CONTROL_RE.search(text):
        raise ValueError("This field may not contain control characters or line breaks.")
    if len(text) > max_length:
        raise ValueError(f"Ensure this field has no more than {max_length} characters.")
    return text


def clean_cart_name(value: Any) -> str:
    name = clean_input_text(value, max_length=m.CART_NAME_MAX)
    if not name:
        raise ValueError("This field may not be blank.")
    return " ".join(name.split())


def clean_currency(value: Any) -> str | None:
    """An ISO 4217 code (upper-cased), or None when empty."""
    if value is None or value == "":
        return None
    code = normalize_currency(value)
    if code is None:
        raise ValueError("Enter a known ISO 4217 currency code (e.g. USD, EUR).")
    return code


def clean_availability(value: Any) -> str:
    """A schema.org ItemAvailability term (``InStock``...), or ``""`` when empty.

    ``https://schema.org/InStock`` and any letter case are accepted.
    """
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value) > 100:
        raise ValueError("Enter a schema.org availability term.")
    term = availability_term(value)
    if term is None:
        choices = ", ".join(sorted(AVAILABILITY_TERMS))
        raise ValueError(f"Enter a schema.org availability term: {choices}.")
    return term


def clean_variant(value: Any) -> dict[str, str]:
    """Variant attributes as a flat ``{name: value}`` of short strings (numbers become text)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("Enter an object of attribute names to values.")
    if len(value) > MAX_VARIANT_KEYS:
        raise ValueError(f"Ensure there are no more than {MAX_VARIANT_KEYS} attributes.")
    cleaned: dict[str, str] = {}
    for raw_key, raw_value in value.items():
        key = clean_input_text(raw_key, max_length=MAX_VARIANT_KEY_LENGTH)
        if not key or key.startswith("$") or "." in key:
            raise ValueError("Attribute names must be non-empty and may not contain '.' or '$'.")
        if isinstance(raw_value, bool) or not isinstance(raw_value, (str, int, float)):
            raise ValueError("Attribute values must be strings or numbers.")
        cleaned[key] = clean_input_text(str(raw_value), max_length=MAX_VARIANT_VALUE_LENGTH)
    return cleaned
