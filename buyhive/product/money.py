"""Money: ISO 4217 currencies, their minor units, and amounts written right for each.

One definition for carts (validation, storage, totals, mails, the shared page), extraction
(which codes a page may carry, rounding what a page shows) and the legacy importer.

Where the currencies come from
    The `iso4217 <https://pypi.org/project/iso4217/>`_ package (pinned in
    ``requirements/base.txt``), which ships SIX's ISO 4217 list one as published; the pinned
    version carries the list's date (``1.16.20260101`` is the list of 2026-01-01). A new ISO
    amendment reaches us by bumping that pin, never by editing a list here. Chosen over Babel,
    whose digits are CLDR's and differ from ISO 4217 where it matters to us (CLDR gives IQD,
    RSD and others 0 digits where ISO gives 3 and 2), and over pycountry, which has no minor
    units.

What a price may carry
    Every list-one code with a numeric minor unit, except ISO's funds (entries flagged
    ``IsFund``: BOV, CLF, COU, MXV, CHE, CHW, USN, UYI), which are accounting units and never
    a shop's price. Codes whose minor unit is "N.A." (gold ``XAU``, the SDR ``XDR``, ``XTS``,
    ``XXX``) are not currencies an amount can be written in, so they are refused too.

Withdrawn codes
    Shops keep printing a code for years after ISO withdraws it: ``HRK`` and ``BGN`` after
    Croatia and Bulgaria took the euro, ``BYR`` and ``RUR`` as aliases of the Belarusian and
    Russian rubles, ``ANG``, ``CUC``, ``SLL`` and ``ZWL`` while their successors settle in.
    :data:`WITHDRAWN_STILL_SEEN` accepts those (so an extracted product, and items saved before
    the withdrawal, can always be saved) with the minor unit they had when withdrawn, as ISO
    4217 list three records it. A withdrawn code's minor unit never changes again, so this
    small table cannot drift from the standard the way the hand-kept lists of active codes it
    replaces did. Active codes always come from the package: a code listed there wins over
    this table. When a pin bump withdraws a code that shops or stored items still use, it is
    added here (``buyhive/tests/test_product_money.py`` lists the codes that must stay valid).

Amounts
    An amount is a :class:`~decimal.Decimal` with exactly its currency's exponent: ``1500``
    JPY, ``12.345`` KWD, ``19.99`` USD. The API writes it as a plain decimal string with that
    many decimals and no grouping (:func:`amount_to_api`); people read it grouped, with the
    code after it (:func:`format_money`). A client that sends more decimals than the currency
    has gets a refusal (:func:`validate_amount`), while the extractor rounds what a page shows
    (:func:`round_amount`). An amount without a currency keeps two decimals, as every price did
    before currencies had their own exponent.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import MappingProxyType

import iso4217

__all__ = [
    "CURRENCIES",
    "CURRENCY_EXPONENTS",
    "DEFAULT_EXPONENT",
    "ISO_4217_PUBLISHED",
    "MAX_EXPONENT",
    "MAX_PRICE",
    "WITHDRAWN_STILL_SEEN",
    "amount_to_api",
    "currency_exponent",
    "format_money",
    "is_known_currency",
    "normalize_currency",
    "parse_amount",
    "round_amount",
    "validate_amount",
]

#: Prices are below 10^9 (exclusive): far above any shop price, far below what would lose
#: precision anywhere an amount travels.
MAX_PRICE = Decimal("1000000000")

#: The exponent of an amount whose currency is unknown (``None``): two decimals.
DEFAULT_EXPONENT = 2

#: Withdrawn codes still printed by shops -> their minor unit when withdrawn (ISO 4217 list
#: three). See the module docstring.
WITHDRAWN_STILL_SEEN: Mapping[str, int] = MappingProxyType(
    {"ANG": 2, "BGN": 2, "BYR": 0, "CUC": 2, "HRK": 2, "RUR": 2, "SLL": 2, "ZWL": 2}
)

#: The date of the ISO 4217 list the installed ``iso4217`` package carries.
ISO_4217_PUBLISHED = iso4217.__published__


def _active_exponents() -> dict[str, int]:
    """List one's shop currencies -> minor unit, read from the package's copy of SIX's table."""
    exponents: dict[str, int] = {}
    for entry in iso4217.raw_xml.findall("CcyTbl/CcyNtry"):
        code = (entry.findtext("Ccy") or "").strip()
        minor = (entry.findtext("CcyMnrUnts") or "").strip()
        name = entry.find("CcyNm")
        is_fund = name is not None and name.get("IsFund", "").lower() == "true"
        if len(code) == 3 and minor.isdigit() and not is_fund:
            exponents[code] = int(minor)
    return exponents


#: Every code a price may carry -> its exponent (the number of decimals of its minor unit).
CURRENCY_EXPONENTS: Mapping[str, int] = MappingProxyType(
    {**WITHDRAWN_STILL_SEEN, **_active_exponents()}
)
#: The codes of :data:`CURRENCY_EXPONENTS`.
CURRENCIES: frozenset[str] = frozenset(CURRENCY_EXPONENTS)
#: The most decimals any accepted currency has (4, the Uruguayan UYW): what storage must hold.
MAX_EXPONENT: int = max(CURRENCY_EXPONENTS.values())


def normalize_currency(value: object) -> str | None:
    """The upper-cased code when ``value`` is an accepted ISO 4217 code (``" eur "`` -> EUR),
    else None."""
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code if code in CURRENCY_EXPONENTS else None


def is_known_currency(value: object) -> bool:
    return normalize_currency(value) is not None


def currency_exponent(currency: str | None) -> int:
    """How many decimals an amount in ``currency`` has: JPY 0, USD 2, KWD 3.

    Total on purpose, because it also serves reading stored data: no currency, or a code that
    is not (or no longer) accepted, gives :data:`DEFAULT_EXPONENT`. Whether a code is
    acceptable is :func:`normalize_currency`'s question.
    """
    code = normalize_currency(currency)
    return CURRENCY_EXPONENTS[code] if code else DEFAULT_EXPONENT


def _step(currency: str | None) -> Decimal:
    return Decimal(1).scaleb(-currency_exponent(currency))


def parse_amount(value: object) -> Decimal | None:
    """A non-negative amount below :data:`MAX_PRICE` from a Decimal, an int, a float or a
    numeric string, exactly as written (no rounding); None for ``None`` or ``""``.

    Floats are read through their shortest ``repr`` (``19.99`` stays ``19.99``). Booleans,
    NaN, infinities and anything else raise :class:`ValueError` with a message fit for a client.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("A valid number is required.")
    try:
        if isinstance(value, float):
            amount = Decimal(repr(value))
        elif isinstance(value, (int, Decimal)):
            amount = Decimal(value)
        elif isinstance(value, str) and len(value) <= 40:
            amount = Decimal(value.strip())
        else:
            raise ValueError("A valid number is required.")
    except InvalidOperation as exc:
        raise ValueError("A valid number is required.") from exc
    if not amount.is_finite():
        raise ValueError("A valid number is required.")
    if amount < 0:
        raise ValueError("Ensure this value is greater than or equal to 0.")
    if amount >= MAX_PRICE:
        raise ValueError(f"Ensure this value is less than {MAX_PRICE}.")
    return amount


def validate_amount(value: object, *, currency: str | None) -> Decimal | None:
    """A client's amount for ``currency``, at exactly its exponent; None when empty.

    More decimals than the currency has is a :class:`ValueError`, never a silent rounding:
    ``"1500.5"`` JPY and ``"9.999"`` USD are refused, ``"1500.0"`` JPY is ``1500`` and ``"5"``
    USD is ``5.00``.
    """
    amount = parse_amount(value)
    if amount is None:
        return None
    exponent = currency_exponent(currency)
    if amount != amount.quantize(_step(currency), rounding=ROUND_HALF_UP):
        where = f" for {normalize_currency(currency)}" if normalize_currency(currency) else ""
        if exponent == 0:
            raise ValueError(f"Enter a whole amount{where}: it has no decimal places.")
        raise ValueError(f"Ensure that there are no more than {exponent} decimal places{where}.")
    return amount.quantize(_step(currency))


def round_amount(amount: Decimal, *, currency: str | None) -> Decimal:
    """``amount`` rounded half-up to ``currency``'s exponent: what a page shows (``69.990``
    USD -> ``69.99``, ``1500.50`` JPY -> ``1501``), and what stored data is migrated to."""
    return Decimal(amount).quantize(_step(currency), rounding=ROUND_HALF_UP)


def amount_to_api(amount: Decimal | None, *, currency: str | None) -> str | None:
    """The amount as the API writes it: a plain decimal string with exactly the currency's
    decimals, no grouping, no exponent (``"1500"`` JPY, ``"12.345"`` KWD, ``"19.90"`` USD)."""
    if amount is None:
        return None
    return format(round_amount(amount, currency=currency), "f")


#: Digit grouping for people: a no-break space, as SI and ISO 80000 write it, because it reads
#: the same in every locale ("1,500" is one and a half to half of Europe, "1.500" to the rest).
_GROUP = "\u00a0"


def format_money(amount: Decimal | None, *, currency: str | None) -> str:
    """The amount for people (the share email, the shared page): digits grouped by three with
    a no-break space, the currency's decimals, the code after it: ``1 500 JPY``,
    ``1 299.00 EUR``, ``12.345 KWD``; ``""`` when there is no amount."""
    plain = amount_to_api(amount, currency=currency)
    if plain is None:
        return ""
    whole, _dot, fraction = plain.partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    text = _GROUP.join([whole, *groups]) + (f".{fraction}" if fraction else "")
    code = normalize_currency(currency)
    return f"{text}{_GROUP}{code}" if code else text
