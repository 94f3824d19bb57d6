"""Which currency a shared sign means ("$", "kr", "¥", "Rs."), from what the page says
besides the amount, when its locale does not settle it.

In order:

* the page's country (``<html lang="en-AU">``, the country-code TLD), as
  :func:`~buyhive.product.currency_signs.resolve_currency` reads it;
* the one ISO code among those the sign can denote that the page names as a currency, next
  to an amount or after "in"/"currency" ("You are shopping in AUD", "Prices in CAD", "$40
  NZD"): a picker listing several of them says nothing, nor does "CAD drawings";
* the page's language, and when the page declares none (plain text has no ``lang``), the
  language its letters show: kana is Japanese, Han without kana Chinese, hangul Korean;
  Cyrillic with Ukrainian or Belarusian letters those languages, else Russian; Latin with
  more "ä"/"ö" than "æ"/"ø" Swedish, else with "æ", "ø" or "å" Danish or Norwegian as
  "af" or "av" is the more frequent word;
* the sign's usual meaning (``$`` -> USD), as ``resolve_currency`` has it.
"""

from __future__ import annotations

import re

from extraction.normalize import (
    CURRENCY_SYMBOLS,
    PageLocale,
    currency_for_country,
    resolve_currency,
)

#: How much of the text is read for currency codes.
SCAN_CHARS = 100_000
#: How much of the text is read for its letters (a language shows in its first lines).
LANGUAGE_SCAN_CHARS = 30_000

_CODE_RE = re.compile(r"(?<![A-Za-z])[A-Z]{3}(?![A-Za-z])")
_KANA_RE = re.compile(r"[\u3040-\u30ff]")
_HAN_RE = re.compile(r"[\u4e00-\u9fff]")
_HANGUL_RE = re.compile(r"[\uac00-\ud7af]")
_CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")
_UKRAINIAN_RE = re.compile(r"[іїєґІЇЄҐ]")
_BELARUSIAN_RE = re.compile(r"[ўЎ]")
_SWEDISH_RE = re.compile(r"[äöÄÖ]")
_DANO_NORWEGIAN_RE = re.compile(r"[æøÆØ]")
_DANISH_WORD_RE = re.compile(r"\baf\b", re.I)
_NORWEGIAN_WORD_RE = re.compile(r"\bav\b", re.I)


def _candidates(symbol: str) -> tuple[str, ...]:
    key = re.sub(r"\s+", "", symbol.strip().strip("~").strip()).casefold()
    return CURRENCY_SYMBOLS.get(key, ())


#: Codes a page names for a shared sign's currency. Codes that are also words or
#: abbreviations on product pages ("CUP", "COP", "BOB") are left out.
_NAMED_CODES = frozenset(
    {"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "TWD", "MXN", "ARS", "CLP", "UYU", "SEK",
     "NOK", "DKK", "ISK", "JPY", "CNY", "RMB", "GBP", "RUB", "BYN", "INR", "PKR", "LKR"}
)  # fmt: skip
_NAMING_BEFORE_RE = re.compile(r"(?:\bin|currency|devise|währung|moneda|valuta)\s*:?\s*$", re.I)


# An amount or a sign right beside the code ("40 AUD", "$40 AUD", "AUD $40", "AUD 40"), not
# a digit inside a word ("a 3D CAD model").
_AMOUNT_BEFORE_RE = re.compile(r"(?:\d|[$¥£])\s*$")
_AMOUNT_AFTER_RE = re.compile(r"\s*(?:\d|[$¥£])")


def named_currency(text: str, candidates: tuple[str, ...]) -> str | None:
    """The one ISO code among ``candidates`` that ``text`` names as a currency, else None:
    written next to an amount or a sign ("$40 AUD", "AUD $40"), or after "in" or
    "currency" ("Prices in NZD", "You are shopping in the currency AUD"). "CAD drawings"
    names no currency."""
    wanted = set(candidates) & _NAMED_CODES
    if not wanted:
        return None
    named: set[str] = set()
    for match in _CODE_RE.finditer(text, 0, SCAN_CHARS):
        code = match.group(0)
        if code not in wanted or code in named:
            continue
        start, end = match.span()
        near = text[max(0, start - 5) : start] + " " + text[end : end + 5]
        if _CODE_RE.search(near):
            continue  # one of a list of codes: a currency picker
        beside = _AMOUNT_BEFORE_RE.search(
            text[max(0, start - 5) : start]
        ) or _AMOUNT_AFTER_RE.match(text, end, end + 5)
        if beside or _NAMING_BEFORE_RE.search(text, max(0, start - 20), start):
            named.add(code)
            if len(named) > 1:
                return None
    return named.pop() if named else None


def text_language(text: str) -> str | None:
    """The language the text's letters show, where they show one (see the module
    docstring), else None."""
    sample = text[:LANGUAGE_SCAN_CHARS]
    if _KANA_RE.search(sample):
        return "ja"
    if _HANGUL_RE.search(sample):
        return "ko"
    if _HAN_RE.search(sample):
        return "zh"
    if _CYRILLIC_RE.search(sample):
        if _UKRAINIAN_RE.search(sample):
            return "uk"
        return "be" if _BELARUSIAN_RE.search(sample) else "ru"
    swedish = len(_SWEDISH_RE.findall(sample))
    dano_norwegian = len(_DANO_NORWEGIAN_RE.findall(sample))
    if swedish > dano_norwegian:
        return "sv"
    if dano_norwegian or "å" in sample:
        danish = len(_DANISH_WORD_RE.findall(sample))
        norwegian = len(_NORWEGIAN_WORD_RE.findall(sample))
        if danish != norwegian:
            return "da" if danish > norwegian else "nb"
    return None


def currency_of_sign(symbol: str | None, locale: PageLocale, text: str) -> str | None:
    """The ISO code the sign printed with a price means on this page (module docstring)."""
    if not symbol:
        return None
    candidates = _candidates(symbol)
    if len(candidates) <= 1:
        return resolve_currency(symbol, locale)
    for country in (locale.country, locale.tld_country):
        iso = currency_for_country(country)
        if iso and iso in candidates:
            return iso
    named = named_currency(text, candidates)
    if named:
        return named
    if not locale.language:
        language = text_language(text)
        if language:
            locale = locale.with_fallback(PageLocale(language=language))
    return resolve_currency(symbol, locale)
