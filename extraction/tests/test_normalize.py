"""extraction.normalize: prices, currencies, locales, availability, addresses, identifiers."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from extraction.normalize import (
    PageLocale,
    absolute_url,
    availability_in_stock,
    clean_identifier,
    currency_for_country,
    decimal_separator_for,
    find_prices,
    normalize_availability,
    normalize_gtin,
    parse_locale,
    parse_price_text,
    parse_price_value,
    phrase_pattern,
    resolve_currency,
    symbol_matches_currency,
)

# --- prices ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.299,00 €", "1299.00"),
        ("1,299.00", "1299.00"),
        ("€ 1 299,00", "1299.00"),
        ("1\u00a0299,00 €", "1299.00"),
        ("1’299.00 CHF", "1299.00"),
        ("1'299.–", "1299"),
        ("3.350", "3350"),
        ("1.234.567", "1234567"),
        ("12,5", "12.5"),
        ("13,40 €", "13.40"),
        ("19.50 CHF", "19.50"),
        ("999,-", "999"),
        ("$1,299", "1299"),
        ("0,99", "0.99"),
        ("173 34 Lei", "173.34"),  # superscript cents flattened by text extraction
        ("12 9", "12"),
        ("Price: 42", "42"),
    ],
)
def test_parse_price_text_reads_prices_whatever_the_locale(text: str, expected: str) -> None:
    assert parse_price_text(text) == Decimal(expected)


def test_three_decimal_currencies_keep_their_three_decimals() -> None:
    assert parse_price_text("3.350", currency="KWD") == Decimal("3.350")
    assert parse_price_text("3,350", currency="KWD", decimal_separator=",") == Decimal("3.350")
    assert parse_price_text("3,350", currency="KWD") == Decimal("3350")
    assert parse_price_text("3.350", currency="EUR", decimal_separator=",") == Decimal("3350")


@pytest.mark.parametrize("value", [None, "", "free", True, [], {}])
def test_parse_price_text_without_a_number_is_none(value: object) -> None:
    assert parse_price_text(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (19.5, "19.5"),
        (1299, "1299"),
        ("1299.00", "1299.00"),
        (" 88.00 ", "88.00"),
        ("1.299,00", "1299.00"),
        ("67.8400", "67.8400"),
        (Decimal("5"), "5"),
    ],
)
def test_parse_price_value_reads_structured_prices(value: object, expected: str) -> None:
    assert parse_price_value(value) == Decimal(expected)


@pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), "1e12", 10**12, False, None])
def test_parse_price_value_refuses_absurd_amounts(value: object) -> None:
    assert parse_price_value(value) is None


def test_find_prices_finds_amounts_next_to_currency_marks() -> None:
    found = find_prices("Was £12.99 now £9.99, NT$294, 30,000원~, 294元, KWD 3.350, EUR 5")
    assert [(str(p.amount), p.symbol) for p in found] == [
        ("12.99", "£"),
        ("9.99", "£"),
        ("294", "NT$"),
        ("30000", "원"),
        ("294", "元"),
        ("3.350", "KWD"),
        ("5", "EUR"),
    ]


def test_find_prices_ignores_marks_glued_to_words_but_not_signs() -> None:
    text = "5 ft long; Leipzig 20; ID12 €; XEUR 7 €; 最低價$99元起; Preis:€5"
    assert [str(p.amount) for p in find_prices(text)] == ["7", "99", "5"]


def test_find_prices_respects_start_end_and_limit() -> None:
    text = "€1 €2 €3 €4"
    assert [str(p.amount) for p in find_prices(text, limit=2)] == ["1", "2"]
    assert [str(p.amount) for p in find_prices(text, start=3, end=8)] == ["2", "3"]
    assert find_prices("") == []


# --- currencies and locales -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "locale", "expected"),
    [
        ("EUR", None, "EUR"),
        ("eur", None, "EUR"),
        ("€", None, "EUR"),
        ("£", None, "GBP"),
        ("zł", None, "PLN"),
        ("Lei", None, "RON"),
        ("ر.س", None, "SAR"),
        ("원~", None, "KRW"),
        ("NT$", None, "TWD"),
        ("$", "zh-TW", "TWD"),
        ("$", "en-CA", "CAD"),
        ("$", "en-AU", "AUD"),
        ("$", "es-CL", "CLP"),
        ("$", "en", "USD"),
        ("$", None, "USD"),
        ("$", "de-DE", "USD"),  # a German page's "$" is not any other dollar
        ("$", "es", None),  # Spanish alone: Mexico, Argentina, Chile... not guessed
        ("kr", "sv", "SEK"),
        ("kr", "da-DK", "DKK"),
        ("kr", None, None),
        ("¥", "ja", "JPY"),
        ("¥", "zh-CN", "CNY"),
        ("元", "zh-TW", "TWD"),
        ("р.", "ru-BY", "BYN"),
        ("dollars?", None, None),
        ("", None, None),
        ("x" * 20, None, None),
    ],
)
def test_resolve_currency_uses_the_locale_for_shared_symbols(
    raw: str, locale: str | None, expected: str | None
) -> None:
    assert resolve_currency(raw, parse_locale(locale) if locale else None) == expected


def test_resolve_currency_falls_back_to_the_tld_country() -> None:
    assert resolve_currency("$", parse_locale("es", url="https://tienda.cl/p")) == "CLP"
    assert resolve_currency("$", parse_locale(None, url="https://shop.ca/p")) == "CAD"
    assert resolve_currency(42) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("symbol", "iso", "expected"),
    [
        ("$", "USD", True),
        ("$", "TWD", True),
        ("$", "EUR", False),
        ("£", "GBP", True),
        ("€", "GBP", False),
        ("zł", "PLN", True),
        ("kr", "NOK", True),
        ("₹", "INR", True),
        ("EUR", "EUR", True),
        ("CHF", "EUR", False),
        ("원~", "KRW", True),
        (None, "USD", False),
        ("$", None, False),
    ],
)
def test_symbol_matches_currency(symbol: str | None, iso: str | None, expected: bool) -> None:
    assert symbol_matches_currency(symbol, iso) is expected


@pytest.mark.parametrize(
    ("value", "language", "country"),
    [
        ("en-US", "en", "US"),
        ("en_us", "en", "US"),
        ("zh-Hant-TW", "zh", "TW"),
        ("de", "de", None),
        ("ar_AR", "ar", None),  # Facebook's generic Arabic, not Argentina
        ("", None, None),
        ("12", None, None),
    ],
)
def test_parse_locale(value: str, language: str | None, country: str | None) -> None:
    locale = parse_locale(value)
    assert (locale.language, locale.country) == (language, country)


def test_locale_tld_is_a_separate_weak_hint() -> None:
    assert parse_locale("de", url="https://shop.co.uk/p").tld_country == "GB"
    assert parse_locale("de", url="https://shop.co/p").tld_country is None  # generic TLD
    assert parse_locale("de", url="not a url").tld_country is None
    merged = PageLocale(language="de").with_fallback(PageLocale(country="AT", tld_country="AT"))
    assert (merged.tag, merged.tld_country) == ("de-AT", "AT")
    assert PageLocale().tag is None


def test_decimal_separator_and_country_currency() -> None:
    assert decimal_separator_for(parse_locale("de-DE")) == ","
    assert decimal_separator_for(parse_locale("de-CH")) == "."
    assert decimal_separator_for(parse_locale("en-GB")) == "."
    assert decimal_separator_for(None) is None
    assert currency_for_country("at") == "EUR"
    assert currency_for_country(None) is None


# --- availability ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://schema.org/InStock", "InStock"),
        ("https://schema.org/InStock", "InStock"),
        ("schema:InStock", "InStock"),
        ("InStock", "InStock"),
        ("in_stock", "InStock"),
        ("in stock", "InStock"),
        ("instock", "InStock"),
        ("OutOfStock", "OutOfStock"),
        ("out of stock", "OutOfStock"),
        ("sold out", "SoldOut"),
        ("PreOrder", "PreOrder"),
        ("http://schema.org/BackOrder", "BackOrder"),
        ("Discontinued", "Discontinued"),
        ("http://purl.org/goodrelations/v1#LimitedAvailability", "LimitedAvailability"),
        (["", "OnlineOnly"], "OnlineOnly"),
        ("maybe", None),
        (None, None),
        ("x" * 200, None),
    ],
)
def test_normalize_availability(value: object, expected: str | None) -> None:
    assert normalize_availability(value) == expected


def test_availability_in_stock_folds_terms() -> None:
    assert availability_in_stock("PreOrder") is True
    assert availability_in_stock("SoldOut") is False
    assert availability_in_stock(None) is None


# --- text, addresses, identifiers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "base", "expected"),
    [
        ("/img/a.jpg", "https://shop.com/p/1", "https://shop.com/img/a.jpg"),
        ("//cdn.shop.com/a.jpg", "https://shop.com/p/1", "https://cdn.shop.com/a.jpg"),
        ("a b.jpg", "https://shop.com/p/", "https://shop.com/p/a%20b.jpg"),
        ("https://x.com/a.jpg?w=1&amp;h=2", None, "https://x.com/a.jpg?w=1&h=2"),
        ({"url": "/a.jpg"}, "https://shop.com/", "https://shop.com/a.jpg"),
        (["/a.jpg"], "https://shop.com/", "https://shop.com/a.jpg"),
        ("data:image/png;base64,xx", "https://shop.com/", None),
        ("javascript:void(0)", "https://shop.com/", None),
        ("ftp://x.com/a.jpg", None, None),
        ("/relative-without-base.jpg", None, None),
        (None, "https://shop.com/", None),
    ],
)
def test_absolute_url(value: object, base: str | None, expected: str | None) -> None:
    assert absolute_url(value, base) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7610186303159", "7610186303159"),
        ("761 0186 30315-9", "7610186303159"),
        (190198419941, "190198419941"),
        ("96385074", "96385074"),
        ("7610186303158", None),  # wrong check digit
        ("12345", None),
        ("abc", None),
        (None, None),
    ],
)
def test_normalize_gtin_checks_length_and_check_digit(value: object, expected: str | None) -> None:
    assert normalize_gtin(value) == expected


def test_clean_identifier() -> None:
    assert clean_identifier(" AB-12 ") == "AB-12"
    assert clean_identifier(12345) == "12345"
    assert clean_identifier(["", "X1"]) == "X1"
    assert clean_identifier("x" * 100) is None
    assert clean_identifier(None) is None


def test_phrase_pattern_matches_exactly_the_phrases() -> None:
    pattern = re.compile(phrase_pattern(["sold out", "sold", "out of stock", "épuisé"]))
    assert [m.group(0) for m in pattern.finditer("sold  out; out of\nstock; épuisé; sol")] == [
        "sold  out",
        "out of\nstock",
        "épuisé",
    ]
