"""buyhive.product.money: ISO 4217 codes and exponents, validating, rounding and writing amounts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from buyhive.product import money
from buyhive.product.money import (
    CURRENCIES,
    MAX_EXPONENT,
    amount_to_api,
    currency_exponent,
    format_money,
    normalize_currency,
    parse_amount,
    round_amount,
    validate_amount,
)

#: Codes that items were saved with, or that shops still print, which must stay valid through
#: any bump of the ``iso4217`` pin (a withdrawn one moves to ``WITHDRAWN_STILL_SEEN``).
MUST_STAY_VALID = (
    "AED", "ANG", "ARS", "AUD", "BGN", "BHD", "BRL", "BYN", "BYR", "CAD", "CHF", "CLP", "CNY",
    "COP", "CUC", "CZK", "DKK", "EGP", "EUR", "GBP", "HKD", "HRK", "HUF", "IDR", "ILS", "INR",
    "IQD", "ISK", "JOD", "JPY", "KRW", "KWD", "LYD", "MXN", "MYR", "NOK", "NZD", "OMR", "PHP",
    "PLN", "RON", "RSD", "RUB", "RUR", "SAR", "SEK", "SGD", "SLL", "THB", "TND", "TRY", "TWD",
    "UAH", "USD", "VND", "XAF", "XOF", "ZAR", "ZWL",
)  # fmt: skip


def test_codes_and_exponents_come_from_iso_4217() -> None:
    assert {code: currency_exponent(code) for code in ("USD", "JPY", "KWD", "BHD", "CLP")} == {
        "USD": 2,
        "JPY": 0,
        "KWD": 3,
        "BHD": 3,
        "CLP": 0,
    }
    assert currency_exponent("IQD") == 3  # ISO 4217 says 3 (CLDR, hence Babel, says 0)
    assert currency_exponent("UYW") == 4
    assert MAX_EXPONENT == 4
    assert money.ISO_4217_PUBLISHED.year >= 2026


def test_every_code_shops_print_or_items_hold_stays_valid() -> None:
    assert set(MUST_STAY_VALID) <= CURRENCIES


@pytest.mark.parametrize("code", ["XAU", "XAG", "XDR", "XXX", "XTS", "BOV", "CLF", "USN", "XYZ"])
def test_metals_funds_and_unknown_codes_are_not_price_currencies(code: str) -> None:
    assert normalize_currency(code) is None


def test_withdrawn_codes_keep_their_last_exponent() -> None:
    assert money.WITHDRAWN_STILL_SEEN.keys().isdisjoint(money._active_exponents())
    assert (currency_exponent("HRK"), currency_exponent("BYR"), currency_exponent("RUR")) == (
        2,
        0,
        2,
    )


def test_normalize_currency() -> None:
    assert normalize_currency(" eur ") == "EUR"
    assert normalize_currency("kwd") == "KWD"
    assert normalize_currency(978) is None
    assert normalize_currency(None) is None
    assert currency_exponent(None) == 2  # no currency: two decimals, as before
    assert currency_exponent("NOPE") == 2


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("12.345", "KWD", "12.345"),
        ("1500", "JPY", "1500"),
        ("1500.0", "JPY", "1500"),
        (1500, "JPY", "1500"),
        ("5", "USD", "5.00"),
        ("19.990", "USD", "19.99"),
        (19.99, "EUR", "19.99"),
        ("1e2", "USD", "100.00"),
        ("999999999.99", "USD", "999999999.99"),
        ("25", None, "25.00"),
        ("0.1234", "UYW", "0.1234"),
    ],
)
def test_validate_amount_accepts_at_most_the_currencys_decimals(
    value: Any, currency: str | None, expected: str
) -> None:
    amount = validate_amount(value, currency=currency)
    assert amount is not None
    assert format(amount, "f") == expected


@pytest.mark.parametrize(
    ("value", "currency", "message"),
    [
        ("1500.5", "JPY", "Enter a whole amount for JPY"),
        ("9.999", "USD", "no more than 2 decimal places for USD"),
        ("12.3456", "KWD", "no more than 3 decimal places for KWD"),
        ("1.999", None, "no more than 2 decimal places."),
        ("-0.01", "USD", "greater than or equal to 0"),
        ("1000000000", "USD", "less than 1000000000"),
    ],
)
def test_validate_amount_refuses_more_decimals_than_the_currency_has(
    value: Any, currency: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        validate_amount(value, currency=currency)


@pytest.mark.parametrize("value", [True, 1e9, "NaN", "Infinity", "abc", "1" * 41, [1], {}])
def test_parse_amount_refuses_what_is_not_an_amount(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_amount(value)


def test_parse_amount_of_nothing_is_none() -> None:
    assert parse_amount(None) is None
    assert parse_amount("") is None
    assert validate_amount("", currency="USD") is None


def test_round_amount_rounds_half_up_to_the_exponent() -> None:
    assert round_amount(Decimal("69.990"), currency="USD") == Decimal("69.99")
    assert str(round_amount(Decimal("1500.50"), currency="JPY")) == "1501"
    assert str(round_amount(Decimal("12.3455"), currency="KWD")) == "12.346"
    assert str(round_amount(Decimal("12.345"), currency="KWD")) == "12.345"


def test_amount_to_api_is_a_plain_decimal_string() -> None:
    assert amount_to_api(Decimal("1500.00"), currency="JPY") == "1500"
    assert amount_to_api(Decimal("1E+6"), currency="JPY") == "1000000"
    assert amount_to_api(Decimal("12.345"), currency="KWD") == "12.345"
    assert amount_to_api(Decimal("19.9"), currency="USD") == "19.90"
    assert amount_to_api(Decimal("3"), currency=None) == "3.00"
    assert amount_to_api(None, currency="USD") is None


def test_format_money_groups_digits_for_people() -> None:
    nbsp = "\u00a0"
    assert format_money(Decimal("1500"), currency="JPY") == f"1{nbsp}500{nbsp}JPY"
    assert format_money(Decimal("1299"), currency="EUR") == f"1{nbsp}299.00{nbsp}EUR"
    assert format_money(Decimal("12.345"), currency="KWD") == f"12.345{nbsp}KWD"
    assert format_money(Decimal("1234567.5"), currency="USD") == f"1{nbsp}234{nbsp}567.50{nbsp}USD"
    assert format_money(Decimal("999"), currency=None) == "999.00"
    assert format_money(None, currency="USD") == ""


def test_every_code_a_printed_sign_or_a_country_can_mean_is_accepted() -> None:
    from buyhive.product.currency_signs import COUNTRY_CURRENCY, CURRENCY_SYMBOLS

    meant = {code for codes in CURRENCY_SYMBOLS.values() for code in codes}
    assert meant | set(COUNTRY_CURRENCY.values()) <= CURRENCIES
