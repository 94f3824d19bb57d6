"""Currency signs as pages print them, and which ISO 4217 code each one means.

:func:`resolve_currency` turns a code or a sign into an ISO 4217 code. A sign shared by several
currencies is resolved with the page locale (see :class:`PageLocale`): ``$`` with a Canadian
locale is CAD, with ``zh-TW`` TWD, with ``es-CL`` CLP; ``kr`` with Swedish SEK. ``$`` with no
hint, or with a hint that points to no dollar currency (an English or a German page), is USD;
``$`` on a page whose only hint is a language spoken in several dollar countries (``es``,
``pt``, ``zh`` without a region) stays unknown (None) rather than guessed. No currency is ever
assumed when the page shows none. :data:`CURRENCY_SYMBOLS` is the one table of signs;
:func:`symbol_matches_currency` says whether a sign as printed on a page can denote an ISO code
(``$`` -> USD, CAD, AUD, TWD...; ``£`` -> GBP; ``kr`` -> SEK, NOK, DKK, ISK), which the
benchmark uses to score currencies against the ground truth.

Which codes exist is :mod:`buyhive.product.money`'s answer; this module only reads how pages
and old data write them (the extractor, and the legacy importer's ``"$19.99"``).
Pure, Django-free and total: bad input gives ``None``, never an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from buyhive.product.money import CURRENCIES

__all__ = [
    "COUNTRY_CURRENCY",
    "CURRENCY_SYMBOLS",
    "PageLocale",
    "currency_for_country",
    "parse_locale",
    "resolve_currency",
    "symbol_matches_currency",
    "tld_country",
]

#: Country (ISO 3166 alpha-2) -> its currency, for locale hints.
COUNTRY_CURRENCY: dict[str, str] = {
    "AD": "EUR", "AE": "AED", "AR": "ARS", "AT": "EUR", "AU": "AUD", "BA": "BAM", "BD": "BDT",
    "BE": "EUR", "BG": "BGN", "BH": "BHD", "BO": "BOB", "BR": "BRL", "BY": "BYN", "CA": "CAD",
    "CH": "CHF", "CL": "CLP", "CN": "CNY", "CO": "COP", "CR": "CRC", "CY": "EUR", "CZ": "CZK",
    "DE": "EUR", "DK": "DKK", "DO": "DOP", "DZ": "DZD", "EC": "USD", "EE": "EUR", "EG": "EGP",
    "ES": "EUR", "FI": "EUR", "FR": "EUR", "GB": "GBP", "GE": "GEL", "GR": "EUR", "GT": "GTQ",
    "HK": "HKD", "HN": "HNL", "HR": "EUR", "HU": "HUF", "ID": "IDR", "IE": "EUR", "IL": "ILS",
    "IN": "INR", "IQ": "IQD", "IS": "ISK", "IT": "EUR", "JO": "JOD", "JP": "JPY", "KE": "KES",
    "KR": "KRW", "KW": "KWD", "KZ": "KZT", "LB": "LBP", "LI": "CHF", "LK": "LKR", "LT": "EUR",
    "LU": "EUR", "LV": "EUR", "MA": "MAD", "MC": "EUR", "MD": "MDL", "ME": "EUR", "MK": "MKD",
    "MT": "EUR", "MX": "MXN", "MY": "MYR", "NG": "NGN", "NI": "NIO", "NL": "EUR", "NO": "NOK",
    "NZ": "NZD", "OM": "OMR", "PA": "PAB", "PE": "PEN", "PH": "PHP", "PK": "PKR", "PL": "PLN",
    "PR": "USD", "PT": "EUR", "PY": "PYG", "QA": "QAR", "RO": "RON", "RS": "RSD", "RU": "RUB",
    "SA": "SAR", "SE": "SEK", "SG": "SGD", "SI": "EUR", "SK": "EUR", "SM": "EUR", "SV": "USD",
    "TH": "THB", "TN": "TND", "TR": "TRY", "TW": "TWD", "UA": "UAH", "UK": "GBP", "US": "USD",
    "UY": "UYU", "UZ": "UZS", "VA": "EUR", "VE": "VES", "VN": "VND", "ZA": "ZAR",
}  # fmt: skip

_DOLLAR_CURRENCIES = (
    "USD", "CAD", "AUD", "NZD", "TWD", "HKD", "SGD", "MXN", "ARS", "CLP", "COP", "UYU", "BSD",
    "BBD", "BMD", "BZD", "FJD", "GYD", "JMD", "KYD", "LRD", "NAD", "SBD", "SRD", "TTD", "XCD",
    "BND", "DOP", "CUP", "BOB", "NIO", "PAB",
)  # fmt: skip

#: Symbol or local abbreviation as printed on a page (case-folded) -> the ISO codes it can
#: denote, most likely first. The single source of truth for symbols.
CURRENCY_SYMBOLS: dict[str, tuple[str, ...]] = {
    "$": _DOLLAR_CURRENCIES,
    "us$": ("USD",), "u$s": ("USD",), "usd$": ("USD",),
    "c$": ("CAD", "NIO"), "ca$": ("CAD",), "can$": ("CAD",), "cdn$": ("CAD",),
    "a$": ("AUD",), "au$": ("AUD",), "aud$": ("AUD",),
    "nz$": ("NZD",), "nt$": ("TWD",), "hk$": ("HKD",), "s$": ("SGD",), "sg$": ("SGD",),
    "mx$": ("MXN",), "r$": ("BRL",), "rd$": ("DOP",), "ar$": ("ARS",), "clp$": ("CLP",),
    "col$": ("COP",), "$u": ("UYU",), "j$": ("JMD",), "tt$": ("TTD",), "ec$": ("XCD",),
    "€": ("EUR",), "eur": ("EUR",), "euro": ("EUR",), "euros": ("EUR",),
    "£": ("GBP", "GIP", "FKP", "SHP"), "gbp": ("GBP",),
    "¥": ("JPY", "CNY"), "￥": ("JPY", "CNY"), "円": ("JPY",), "元": ("CNY", "TWD", "HKD"),
    "rmb": ("CNY",),
    "₩": ("KRW",), "원": ("KRW",), "₹": ("INR",), "rs": ("INR", "PKR", "LKR", "NPR"),
    "rs.": ("INR", "PKR", "LKR", "NPR"),
    "₽": ("RUB",), "руб": ("RUB", "BYN"), "руб.": ("RUB", "BYN"), "р.": ("RUB", "BYN"),
    "br": ("BYN",), "бр": ("BYN",), "б.р.": ("BYN",), "б.р": ("BYN",),
    "₴": ("UAH",), "грн": ("UAH",), "грн.": ("UAH",),
    "zł": ("PLN",), "zl": ("PLN",), "kč": ("CZK",), "kc": ("CZK",), "ft": ("HUF",),
    "lei": ("RON", "MDL"), "leu": ("RON", "MDL"), "лв": ("BGN",), "лв.": ("BGN",),
    "kn": ("HRK",), "din": ("RSD",), "дин": ("RSD",), "дин.": ("RSD",), "ден": ("MKD",),
    "kr": ("SEK", "NOK", "DKK", "ISK"), "kr.": ("DKK", "SEK", "NOK", "ISK"),
    ":-": ("SEK",), "sek": ("SEK",), "nok": ("NOK",), "dkk": ("DKK",),
    "chf": ("CHF",), "fr.": ("CHF",), "fr": ("CHF",), "sfr": ("CHF",), "sfr.": ("CHF",),
    "₺": ("TRY",), "tl": ("TRY",), "₪": ("ILS",), "₫": ("VND",), "đ": ("VND",), "฿": ("THB",),
    "₱": ("PHP",), "₦": ("NGN",), "₸": ("KZT",), "₾": ("GEL",), "₼": ("AZN",), "֏": ("AMD",),
    "rp": ("IDR",), "rp.": ("IDR",), "rm": ("MYR",), "r": ("ZAR",), "ksh": ("KES",),
    "ر.س": ("SAR",), "ر.س.": ("SAR",), "﷼": ("SAR", "OMR", "QAR", "YER", "IRR"),
    "د.إ": ("AED",), "د.ك": ("KWD",), "ر.ق": ("QAR",), "د.ب": ("BHD",), "ر.ع.": ("OMR",),
    "ر.ع": ("OMR",), "ج.م": ("EGP",), "ج.م.": ("EGP",), "د.ا": ("JOD",), "ل.ل": ("LBP",),
    "د.م.": ("MAD",), "د.م": ("MAD",), "د.ج": ("DZD",), "د.ت": ("TND",),
    "sar": ("SAR",), "aed": ("AED",), "sr": ("SAR",),
}  # fmt: skip

# Which currency a shared symbol means, by language when the page gives no country.
_LANGUAGE_SYMBOL_DEFAULT: dict[tuple[str, str], str] = {
    ("kr", "sv"): "SEK", ("kr", "nb"): "NOK", ("kr", "nn"): "NOK", ("kr", "no"): "NOK",
    ("kr", "da"): "DKK", ("kr", "is"): "ISK", ("kr.", "da"): "DKK", ("kr.", "sv"): "SEK",
    ("kr.", "nb"): "NOK", ("kr.", "no"): "NOK", ("kr.", "is"): "ISK",
    ("¥", "ja"): "JPY", ("¥", "zh"): "CNY", ("￥", "ja"): "JPY", ("￥", "zh"): "CNY",
    ("руб", "ru"): "RUB", ("руб.", "ru"): "RUB", ("р.", "ru"): "RUB", ("руб", "be"): "BYN",
    ("руб.", "be"): "BYN", ("р.", "be"): "BYN", ("lei", "ro"): "RON", ("leu", "ro"): "RON",
    ("$", "en"): "USD",
}  # fmt: skip

# A shared symbol with no locale hint: only where one currency is by far the usual meaning.
# "kr", "¥", "р." and the like stay unresolved.
_SYMBOL_DEFAULT: dict[str, str] = {
    "$": "USD", "£": "GBP", "r": "ZAR", "lei": "RON", "leu": "RON", "c$": "CAD", "rs": "INR",
    "rs.": "INR", "元": "CNY", "﷼": "SAR",
}  # fmt: skip

# Languages spoken in several dollar countries: "$" with only this hint is not resolved.
_AMBIGUOUS_DOLLAR_LANGUAGES = frozenset({"es", "pt", "zh"})


def _symbol_key(symbol: str) -> str:
    return re.sub(r"\s+", "", symbol.strip().strip("~").strip()).casefold()


def symbol_matches_currency(symbol: str | None, iso: str | None) -> bool:
    """Whether a currency as printed on a page (``$``, ``£``, ``EUR``, ``zł``) can denote the
    ISO code ``iso``. Used to score an ISO prediction against a symbol in the ground truth."""
    if not symbol or not iso:
        return False
    iso = iso.strip().upper()
    key = _symbol_key(symbol)
    if key.upper() in CURRENCIES:
        return key.upper() == iso
    return iso in CURRENCY_SYMBOLS.get(key, ())


@dataclass(frozen=True, slots=True)
class PageLocale:
    """What the page says about its language and country.

    ``language`` and ``country`` come from ``<html lang>``, ``og:locale`` or the
    content-language meta; ``tld_country`` from the host's country-code TLD, which is only a
    weak hint (``.co`` or ``.tv`` are not about Colombia or Tuvalu to most shops).
    """

    language: str | None = None
    country: str | None = None
    tld_country: str | None = None

    @property
    def tag(self) -> str | None:
        if not self.language:
            return None
        return f"{self.language}-{self.country}" if self.country else self.language

    def with_fallback(self, other: PageLocale) -> PageLocale:
        """Fill what this locale lacks from ``other``."""
        return PageLocale(
            language=self.language or other.language,
            country=self.country or other.country,
            tld_country=self.tld_country or other.tld_country,
        )


# Country-code TLDs that are used as generic names and say nothing about the country.
_GENERIC_CCTLDS = frozenset({"co", "io", "tv", "me", "ai", "fm", "ws", "cc", "to", "ly", "gg"})


def parse_locale(value: str | None, *, url: str | None = None) -> PageLocale:
    """Parse ``en-US``, ``en_us``, ``zh-Hant-TW``, ``de`` into a :class:`PageLocale`.

    Facebook's ``ar_AR`` means "Arabic", not Argentina, so that country is dropped.
    """
    language = country = None
    if value:
        parts = [p for p in re.split(r"[-_\s]+", value.strip()) if p]
        if parts and re.fullmatch(r"[A-Za-z]{2,3}", parts[0]):
            language = parts[0].lower()
            for part in parts[1:]:
                if re.fullmatch(r"[A-Za-z]{2}", part):
                    country = part.upper()
                    break
        if language == "ar" and country == "AR":
            country = None
    return PageLocale(language=language, country=country, tld_country=tld_country(url))


def tld_country(url: str | None) -> str | None:
    """The country of a country-code TLD (``shop.co.uk`` -> GB), or None."""
    if not url:
        return None
    try:
        host = (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return None
    tld = host.rsplit(".", 1)[-1].lower() if "." in host else ""
    if len(tld) != 2 or not tld.isalpha() or tld in _GENERIC_CCTLDS:
        return None
    return "GB" if tld == "uk" else tld.upper()


def currency_for_country(country: str | None) -> str | None:
    return COUNTRY_CURRENCY.get(country.upper()) if country else None


def resolve_currency(raw: Any, locale: PageLocale | None = None) -> str | None:
    """An ISO 4217 code from a code or a symbol, using the locale for shared symbols."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text or len(text) > 12:
        return None
    if text.upper() in CURRENCIES:
        return text.upper()
    key = _symbol_key(text)
    candidates = CURRENCY_SYMBOLS.get(key)
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    locale = locale or PageLocale()
    for country in (locale.country, locale.tld_country):
        iso = currency_for_country(country)
        if iso and iso in candidates:
            return iso
    if locale.language:
        iso = _LANGUAGE_SYMBOL_DEFAULT.get((key, locale.language))
        if iso:
            return iso
    if key == "$" and locale.language in _AMBIGUOUS_DOLLAR_LANGUAGES and not locale.country:
        return None
    return _SYMBOL_DEFAULT.get(key)
