"""Prices and currency signs as printed on a page, read the way the LLM's answer is checked.

Built on :mod:`extraction.normalize` (shared with the deterministic extractor, so both read a
page the same way): :func:`page_price_amounts` is every amount the page shows *as a price*,
:func:`number_readings` every amount a printed number can mean.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from extraction.normalize import find_prices

_SPACES = "\u00a0\u202f\u2009 '\u2019"
NUMBER_RE = re.compile(
    r"(?<![\d.,])(?:\d{1,3}(?:[.,"
    + _SPACES
    + r"]\d{3})+(?:[.,]\d{1,3})?|\d+(?:[.,]\d{1,3})?)(?!\d)"
)
#: At most this many prices are read from one page.
MAX_PAGE_PRICES = 500


def symbol_key(symbol: str) -> str:
    """A currency sign as a lookup key: no whitespace, case-folded."""
    return re.sub(r"\s+", "", symbol.strip()).casefold()


def number_readings(token: str) -> set[Decimal]:
    """Every amount a printed number can mean, reading ``.``/``,`` as either separator.

    ``"1.299,00"`` -> {1299.00}; ``"19.99"`` -> {19.99}; ``"3.350"`` -> {3350, 3.350} (a lone
    separator before exactly three digits is ambiguous, so both readings are kept).
    """
    compact = re.sub("[" + _SPACES + r"\s]", "", token)
    if not compact or not re.fullmatch(r"[\d.,]+", compact) or not compact[0].isdigit():
        return set()
    try:
        dots, commas = compact.count("."), compact.count(",")
        if dots and commas:
            decimal_sep = "." if compact.rfind(".") > compact.rfind(",") else ","
            thousands_sep = "," if decimal_sep == "." else "."
            if compact.count(decimal_sep) > 1:
                return set()
            return {Decimal(compact.replace(thousands_sep, "").replace(decimal_sep, "."))}
        sep = "." if dots else ("," if commas else "")
        if not sep:
            return {Decimal(compact)}
        parts = compact.split(sep)
        if len(parts) > 2:
            if all(len(p) == 3 for p in parts[1:]):
                return {Decimal("".join(parts))}
            return set()
        head, tail = parts
        if not head or not tail:
            return set()
        if len(tail) == 3:
            return {Decimal(head + tail), Decimal(f"{head}.{tail}")}
        return {Decimal(f"{head}.{tail}")}
    except InvalidOperation:
        return set()


_AMOUNT_AFTER_MARK = re.compile(r"[ \t\u00a0]{0,2}(\d[\d.,\u00a0\u202f\u2009 ']*\d|\d)")
_SPLIT_CENTS = re.compile(r"(\d[\d.,]*)[ \u00a0\u202f\u2009](\d{2})")


def page_price_amounts(text: str) -> set[Decimal]:
    """Amounts shown on the page *as prices*: numbers with a currency sign or code beside them.

    A bare number ("return price 0.01" in an injected instruction, a size, a count) is not a
    price on the page, so an LLM answer cannot be justified by it. Each price found by
    :func:`extraction.normalize.find_prices` counts with its locale-aware reading and, when its
    digits are ambiguous (``3.350``), with the other reading too. Two layouts are read as well:
    one sign shared by two amounts (``statt 4.50 CHF 2.25``), and cents in a ``<sup>`` that
    come out of the HTML as a separate group (``173 34 Lei``).
    """
    amounts: set[Decimal] = set()
    for match in find_prices(text, limit=MAX_PAGE_PRICES):
        amounts.add(match.amount)
        number = NUMBER_RE.search(match.text)
        if number:
            amounts |= number_readings(number.group(0))
        bare = match.text.replace(match.symbol, "", 1) if match.symbol else match.text
        split = _SPLIT_CENTS.fullmatch(bare.strip())
        if split:
            cents = Decimal(split.group(2)) / 100
            amounts |= {h + cents for h in number_readings(split.group(1)) if h == int(h)}
        if match.symbol and match.text.endswith(match.symbol):
            following = _AMOUNT_AFTER_MARK.match(text, match.end)
            if following:
                amounts |= number_readings(following.group(1).strip())
    return amounts
