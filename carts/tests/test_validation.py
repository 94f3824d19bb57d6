"""The input rules shared by the API, the services and the importer (no database)."""

from __future__ import annotations

from typing import Any

import pytest

from buyhive.product.money import CURRENCIES, is_known_currency, normalize_currency
from carts.validation import (
    clean_availability,
    clean_cart_name,
    clean_currency,
    clean_http_url,
    clean_input_text,
    clean_variant,
)


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example.com/p/1?size=M#top",
        "http://localhost:8000/x",
        "https://[2001:db8::1]/p",
        "  https://shop.example.com/padded  ",
        "HTTPS://EXAMPLE.COM/",
    ],
)
def test_clean_http_url_accepts(url: str) -> None:
    assert clean_http_url(url) == url.strip()


@pytest.mark.parametrize(
    "url",
    [
        None,
        42,
        "",
        "   ",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "file:///etc/passwd",
        "ftp://example.com/file",
        "//example.com/no-scheme",
        "/relative/path",
        "https://",
        "https://intranet/x",
        "https://exa mple.com/",
        "https://example.com/\x00",
        "https://example.com:99999/",
        "https://user:secret@example.com/",
        "https://example.com/" + "a" * 2048,
    ],
)
def test_clean_http_url_refuses(url: Any) -> None:
    with pytest.raises(ValueError):
        clean_http_url(url)


def test_currencies() -> None:
    assert clean_currency(" eur ") == "EUR"
    assert clean_currency(None) is None
    assert clean_currency("") is None
    for bad in ("EU", "EURO", "XYZ", "XAU", 978):
        with pytest.raises(ValueError):
            clean_currency(bad)
    assert {"USD", "EUR", "GBP", "JPY", "HRK"} <= CURRENCIES
    assert normalize_currency(None) is None
    assert is_known_currency("chf")
    assert not is_known_currency("ABC")


@pytest.mark.parametrize(
    ("value", "term"),
    [
        ("InStock", "InStock"),
        ("instock", "InStock"),
        ("https://schema.org/OutOfStock", "OutOfStock"),
        ("http://www.schema.org/PreOrder", "PreOrder"),
        ("", ""),
        (None, ""),
    ],
)
def test_clean_availability_accepts(value: Any, term: str) -> None:
    assert clean_availability(value) == term


@pytest.mark.parametrize("value", ["in stock soon", "Available", 1, "x" * 101])
def test_clean_availability_refuses(value: Any) -> None:
    with pytest.raises(ValueError):
        clean_availability(value)


def test_clean_input_text() -> None:
    assert clean_input_text("  hi  ", max_length=5) == "hi"
    assert clean_input_text(None, max_length=5) == ""
    assert clean_input_text("a\nb\x07c", max_length=10, multiline=True) == "a\nbc"
    for bad, kwargs in [("a\nb", {}), (5, {}), ("toolong", {"max_length": 3})]:
        with pytest.raises(ValueError):
            clean_input_text(bad, **{"max_length": 10, **kwargs})
    assert clean_cart_name("  Big   list ") == "Big list"


def test_clean_variant() -> None:
    assert clean_variant(None) == {}
    assert clean_variant({"size": 42, " colour ": "blue "}) == {"size": "42", "colour": "blue"}
    for bad in (
        ["M"],
        {"": "x"},
        {"a.b": "x"},
        {"$gt": "x"},
        {"size": None},
        {"size": True},
        {"size": {"nested": 1}},
        {"size": "x" * 201},
        {str(n): "x" for n in range(21)},
    ):
        with pytest.raises(ValueError):
            clean_variant(bad)
