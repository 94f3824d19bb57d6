"""Normalisation of what pages say into clean values: prices, currencies, availability,
locales, addresses and identifiers (page text itself is cleaned by
:func:`buyhive.product.text.clean_text`).

Everything here is pure, Django-free and total: bad input gives ``None``, never an exception.

Prices
    :func:`parse_price_text` reads a price the way a person does, whatever the locale:
    ``1.299,00 €`` -> 1299.00, ``1,299.00`` -> 1299.00, ``1 299,00`` / ``1'299.00`` -> 1299.00,
    ``3.350`` -> 3350, ``12,5`` -> 12.5, ``999,-`` -> 999. The one ambiguous shape, a single
    ``.`` or ``,`` followed by exactly three digits, is a thousands separator, except for the
    currencies that have three decimals (KWD, BHD, OMR, JOD, TND, LYD, IQD) when the page's
    decimal separator is that character. :func:`parse_price_value` reads structured data,
    where schema.org asks for a plain ``1299.00`` but shops also write ``"1.299,00"``.

Currencies and availability
    Stated once in :mod:`buyhive.product`: which ISO 4217 codes exist and their decimals
    (``money``), which code a printed sign means with the page's locale (``currency_signs``:
    :func:`resolve_currency`, :class:`PageLocale`), the schema.org availability terms and the
    spellings pages use for them (``availability``: :func:`normalize_availability`). Their
    names are importable from here too, for the extractor's modules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urljoin, urlsplit

from buyhive.product.availability import (
    AVAILABILITY_TERMS,
    availability_in_stock,
    normalize_availability,
)
from buyhive.product.currency_signs import (
    COUNTRY_CURRENCY,
    CURRENCY_SYMBOLS,
    PageLocale,
    currency_for_country,
    parse_locale,
    resolve_currency,
    symbol_matches_currency,
)
from buyhive.product.money import CURRENCIES, CURRENCY_EXPONENTS, MAX_PRICE
from buyhive.product.text import clean_text

# The availability and currency names are re-exported: the extractor's modules read a page's
# vocabulary through this module, which states none of it itself.
__all__ = [
    "AVAILABILITY_TERMS",
    "COUNTRY_CURRENCY",
    "CURRENCY_SYMBOLS",
    "PageLocale",
    "PriceMatch",
    "absolute_url",
    "availability_in_stock",
    "clean_identifier",
    "currency_for_country",
    "decimal_separator_for",
    "find_prices",
    "normalize_availability",
    "normalize_gtin",
    "parse_locale",
    "parse_price_text",
    "parse_price_value",
    "phrase_pattern",
    "resolve_currency",
    "symbol_matches_currency",
]


#: Currencies with three decimals: ``3.350`` is 3.35 there, 3350 everywhere else.
THREE_DECIMAL_CURRENCIES: frozenset[str] = frozenset(
    code for code, exponent in CURRENCY_EXPONENTS.items() if exponent == 3
)

# --------------------------------------------------------------------------------------------
# Prices
# --------------------------------------------------------------------------------------------

# Languages whose decimal separator is a comma (where the page's locale is known).
_COMMA_DECIMAL_LANGUAGE_CODES = """
    af az be bg bs ca cs da de el es et eu fi fo fr gl hr hu hy id is it ka kk ky lb lt lv mk
    mn nb nl nn no pl pt ro ru sk sl sq sr sv tr uk uz vi
"""
_COMMA_DECIMAL_LANGUAGES = frozenset(_COMMA_DECIMAL_LANGUAGE_CODES.split())
_DOT_DECIMAL_COUNTRIES = frozenset({"CH", "LI", "MX", "US", "PR", "GT", "DO", "HN", "NI", "PA"})


def decimal_separator_for(locale: PageLocale | None) -> str | None:
    """The decimal separator a page's locale uses, or None when unknown."""
    if locale is None or not locale.language:
        return None
    if locale.country in _DOT_DECIMAL_COUNTRIES:
        return "."
    return "," if locale.language in _COMMA_DECIMAL_LANGUAGES else "."


_GROUP_CHARS = " \u00a0\u202f\u2009'’`´"
# A number with optional grouping: digits, then groups of separator + digits.
_NUMBER_RE = re.compile(r"\d{1,12}(?:[.,\u00a0\u202f\u2009 '’`´]\d{1,6}){0,5}(?:[.,](?:-|–|—))?")


def _interpret_number(token: str, decimal_hint: str | None, currency: str | None) -> Decimal | None:
    token = token.rstrip("-–—").rstrip(".,")
    # Grouping by spaces or apostrophes: only valid when followed by exactly three digits.
    parts = re.split(r"([.,\u00a0\u202f\u2009 '’`´])", token)
    digits = parts[0::2]
    seps = parts[1::2]
    if not digits or not all(d.isdigit() for d in digits):
        return None
    # A space-like separator groups thousands only before exactly three digits. Before two
    # final digits it stands for lost superscript cents ("173 34 Lei" was shown as
    # "173<sup>34</sup> Lei"); anything else ends the number ("12 9" is two numbers).
    for i, sep in enumerate(seps):
        if sep in _GROUP_CHARS and len(digits[i + 1]) != 3:
            cents = (
                len(digits[i + 1]) == 2
                and i == len(seps) - 1
                and not any(s in ".," for s in seps[:i])
            )
            if cents:
                seps = [*seps[:i], "."]
            else:
                digits, seps = digits[: i + 1], seps[:i]
            break
    marks = [s for s in seps if s in ".,"]
    if not marks:
        number = "".join(digits)
    else:
        last = marks[-1]
        last_index = max(i for i, s in enumerate(seps) if s == last)
        tail = digits[last_index + 1]
        kinds = set(marks)
        if len(kinds) == 2:
            decimal = last
        elif marks.count(last) > 1:
            decimal = None if len(tail) == 3 else last
        elif len(tail) == 3:
            # "3.350": thousands, unless a three-decimal currency written with that
            # separator as its decimal mark (those countries write "." when unknown).
            three_decimals = currency in THREE_DECIMAL_CURRENCIES and (
                decimal_hint == last or (decimal_hint is None and last == ".")
            )
            decimal = last if three_decimals else None
        else:
            decimal = last
        if decimal is None:
            number = "".join(digits)
        else:
            integer = "".join(digits[: last_index + 1])
            number = f"{integer}.{tail}" + "".join(digits[last_index + 2 :])
    try:
        value = Decimal(number)
    except InvalidOperation:
        return None
    return value if value < MAX_PRICE else None


def parse_price_text(
    text: Any, *, decimal_separator: str | None = None, currency: str | None = None
) -> Decimal | None:
    """The first amount in a human-written price (``"1.299,00 €"`` -> ``Decimal("1299.00")``)."""
    if isinstance(text, bool) or text is None:
        return None
    if isinstance(text, (int, float, Decimal)):
        return parse_price_value(text)
    if not isinstance(text, str):
        return None
    match = _NUMBER_RE.search(text[:200])
    if not match:
        return None
    return _interpret_number(match.group(0), decimal_separator, currency)


_PLAIN_DECIMAL_RE = re.compile(r"\s*\+?(\d{1,12}(?:\.\d{1,6})?)\s*")
_EXPONENT_RE = re.compile(r"\s*\d+(?:\.\d+)?[eE][+-]?\d{1,3}\s*")


def parse_price_value(value: Any, *, currency: str | None = None) -> Decimal | None:
    """A price from structured data: a number, a plain ``"1299.00"``, or a localised string.

    Negative, NaN, infinite and absurdly large amounts give None.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, Decimal)):
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return None
        if not amount.is_finite() or amount < 0 or amount >= MAX_PRICE:
            return None
        return amount
    if not isinstance(value, str):
        return None
    match = _PLAIN_DECIMAL_RE.fullmatch(value)
    if match:
        amount = Decimal(match.group(1))
        return amount if amount < MAX_PRICE else None
    if _EXPONENT_RE.fullmatch(value):
        return parse_price_value(Decimal(value.strip()))
    return parse_price_text(value, currency=currency)


@dataclass(frozen=True, slots=True)
class PriceMatch:
    """A price written in a text: where it is, its amount and the currency mark next to it."""

    amount: Decimal
    symbol: str | None
    start: int
    end: int
    text: str


# How currency marks are spelled in running text, case-sensitive on purpose: "Ft" is a forint,
# "5 ft" is a length; "TL" a lira, "tl" nothing. Each resolves through CURRENCY_SYMBOLS.
_TEXT_SYMBOLS: tuple[str, ...] = (
    "$", "US$", "U$S", "C$", "CA$", "CAN$", "CDN$", "A$", "AU$", "NZ$", "NT$", "HK$", "S$",
    "SG$", "MX$", "R$", "RD$", "AR$", "CLP$", "COL$", "$U", "J$", "TT$", "EC$",
    "€", "Euro", "euro", "Euros", "euros", "£", "¥", "￥", "円", "元", "RMB", "₩", "원", "₹",
    "Rs.", "Rs", "₽", "руб.", "руб", "р.", "Br", "бр", "б.р.", "б.р", "₴", "грн.", "грн",
    "zł", "Zł", "ZŁ",
    "Kč", "Ft", "Lei", "lei", "LEI", "лв.", "лв", "kn", "din", "дин.", "ден", "kr.", "kr", "Kr",
    ":-", "Fr.", "SFr.", "₺", "TL", "₪", "₫", "đ", "฿", "₱", "₦", "₸", "₾", "₼", "֏", "Rp",
    "RM", "Ksh", "ر.س", "﷼", "د.إ", "د.ك", "ر.ق", "د.ب", "ر.ع.", "ج.م", "د.ا", "ل.ل", "د.م.",
    "د.ج", "د.ت",
)  # fmt: skip


def phrase_pattern(phrases: list[str] | tuple[str, ...] | frozenset[str]) -> str:
    """A regex matching any of ``phrases``, built as a trie (``a(?:gotado|usverkauft)|...``).

    Python's ``re`` tries a flat alternation's branches one by one at every position; the
    trie shape fails after one character test almost everywhere, which makes scanning a page
    20-30 times faster. A space in a phrase matches any run of whitespace.
    """
    trie: dict[str, Any] = {}
    for phrase in phrases:
        node = trie
        for char in phrase:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [
            (r"\s+" if char == " " else re.escape(char)) + build(child)
            for char, child in sorted(node.items())
            if char
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:
            return f"(?:{body})?"
        return body

    return build(trie)


_CUR = phrase_pattern(_TEXT_SYMBOLS + tuple(sorted(CURRENCIES)))
# Bounded on purpose: a price has at most a few digit groups, and an unbounded repetition
# makes a page of "1 1 1 1 ..." backtrack quadratically.
# "$ 79. 99": cents in their own element, split from the point by a space when the page is
# turned into text (html-text puts one between inline elements).
_WHOLE = r"\d{1,12}(?:[.,\u00a0\u202f\u2009 '’]\d{1,3}){0,4}"
_AMOUNT = rf"{_WHOLE}(?:[.,](?:-|–|—|\d{{1,3}}|(?<=\.)[ ]\d{{2}}(?!\d)))?"
# "40, 99 €": the same after a decimal comma, only where the currency mark follows (before
# one, "$5, 10 or 20" is a list).
_AMOUNT_BEFORE_MARK = rf"{_WHOLE}(?:[.,](?:-|–|—|\d{{1,3}}|(?<=[.,])[ ]\d{{2}}(?!\d)))?"
_SPLIT_CENTS_RE = re.compile(r"([.,]) (\d{2})$")
_AFTER_CENTS_RE = re.compile(
    r"(\d+(?:[.,\u00a0\u202f\u2009 '’]\d{3})*[.,]\d{2})[\u00a0\u202f\u2009 ]\d"
)
# Two scans instead of one alternation, so each starts with a cheap first-character test.
_PRICE_PRE_RE = re.compile(rf"(?P<cur>{_CUR})\s{{0,2}}(?P<amount>{_AMOUNT})")
_PRICE_POST_RE = re.compile(rf"(?P<amount>{_AMOUNT_BEFORE_MARK})\s{{0,2}}(?P<cur>{_CUR})")


def _is_cjk(char: str) -> bool:
    """Chinese, Japanese or Korean script, where words are not separated by spaces."""
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF  # kana
        or 0x3400 <= code <= 0x9FFF  # CJK ideographs
        or 0xAC00 <= code <= 0xD7AF  # hangul
        or 0xF900 <= code <= 0xFAFF
        or 0xFF00 <= code <= 0xFFEF  # full-width forms
    )


def find_prices(
    text: str,
    *,
    decimal_separator: str | None = None,
    limit: int = 50,
    start: int = 0,
    end: int | None = None,
) -> list[PriceMatch]:
    """Every amount written next to a currency mark in ``text[start:end]`` (``€ 12,99``,
    ``12,99 €``, ``EUR 12.99``, ``NT$294``), in order, at most ``limit``.

    A mark glued to a word does not count ("Leipzig" holds no "Lei", "5 ft" no forint: the
    marks are matched case-sensitively and must not touch a letter), nor does an amount glued
    to a word ("ID12 €").
    """
    found: list[PriceMatch] = []
    if not text:
        return found
    end = len(text) if end is None else min(end, len(text))
    hits: list[tuple[int, int, str, str, str]] = []
    for pattern, symbol_first in ((_PRICE_PRE_RE, True), (_PRICE_POST_RE, False)):
        for match in pattern.finditer(text, start, end):
            cur_start, cur_end = match.span("cur")
            amount_start = match.start("amount")
            # A mark made of letters must not be glued to a word ("XEUR 12", "Leipzig",
            # "12 Leipzig"); a sign ($, €, 元) may touch anything ("最低價$99", "Preis:€5").
            if symbol_first:
                if text[cur_start].isalpha() and cur_start > 0 and text[cur_start - 1].isalpha():
                    continue
            else:
                glued_after = (
                    text[cur_end - 1].isalpha()
                    and cur_end < len(text)
                    and text[cur_end].isalpha()
                    and not _is_cjk(text[cur_end - 1])
                )
                glued_before = (
                    amount_start > 0
                    and text[amount_start - 1].isalnum()
                    and not _is_cjk(text[amount_start - 1])
                )
                if glued_after or glued_before:
                    continue  # "12 Leipzig", "ID12 €"
                if (
                    cur_start > match.end("amount")
                    and cur_end < len(text)
                    and text[cur_end].isdigit()
                    and not text[cur_start].isalpha()
                ):
                    # "4.8 $40.00", "Qty 1-9\n$40.00": a sign spaced from the number before
                    # it and glued to the one after it marks the one after it.
                    continue
            amount_text, hit_end = match.group("amount"), match.end()
            if symbol_first:
                # "$40.00 20% off": a number after the cents is another number, not a group.
                cut = _AFTER_CENTS_RE.match(amount_text)
                if cut is not None:
                    amount_text = cut.group(1)
                    hit_end = amount_start + len(amount_text)
            hits.append(
                (match.start(), hit_end, amount_text, match.group("cur"),
                 text[match.start() : hit_end])
            )  # fmt: skip
    hits.sort()
    last_end = -1
    for hit_start, hit_end, amount_text, symbol, raw in hits:
        if hit_start < last_end:
            continue  # "€ 12 €": the same amount seen from both sides
        iso = resolve_currency(symbol)
        amount = _interpret_number(
            _SPLIT_CENTS_RE.sub(r"\1\2", amount_text), decimal_separator, iso
        )
        if amount is None:
            continue
        found.append(PriceMatch(amount, symbol, hit_start, hit_end, raw))
        last_end = hit_end
        if len(found) >= limit:
            break
    return found


# --------------------------------------------------------------------------------------------
# Text, addresses, identifiers
# --------------------------------------------------------------------------------------------


def absolute_url(value: Any, base: str | None) -> str | None:
    """An absolute http(s) address from a relative, protocol-relative or absolute one."""
    if isinstance(value, dict):
        value = value.get("url") or value.get("contentUrl") or value.get("@id")
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), None)
    if not isinstance(value, str):
        return None
    text = value.strip().replace("&amp;", "&")
    text = re.sub(r"[\r\n\t]", "", text)
    if not text or len(text) > 4096 or text.startswith(("data:", "javascript:", "blob:", "#")):
        return None
    try:
        joined = urljoin(base or "", text)
        parts = urlsplit(joined)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return joined.replace(" ", "%20")


def normalize_gtin(value: Any) -> str | None:
    """A GTIN-8/12/13/14 with a valid check digit, digits only; None otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    digits = re.sub(r"[\s-]", "", value.strip())
    if not digits.isdigit() or len(digits) not in (8, 12, 13, 14):
        return None
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return digits if (10 - total % 10) % 10 == check else None


def clean_identifier(value: Any, *, max_length: int = 80) -> str | None:
    """An identifier (SKU, MPN) as text: trimmed, one line, not absurdly long."""
    if isinstance(value, (int,)) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, (str, int)) and str(v).strip()), None)
        return clean_identifier(value, max_length=max_length)
    if not isinstance(value, str):
        return None
    text = clean_text(value, max_length=max_length + 1)
    if not text or len(text) > max_length:
        return None
    return text
