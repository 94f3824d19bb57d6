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

Currencies
    :func:`resolve_currency` turns a code or a symbol into an ISO 4217 code. A symbol shared by
    several currencies is resolved with the page locale (see :class:`PageLocale`): ``$`` with a
    Canadian locale is CAD, with ``zh-TW`` TWD, with ``es-CL`` CLP; ``kr`` with Swedish SEK.
    ``$`` with no hint, or with a hint that points to no dollar currency (an English or a German
    page), is USD; ``$`` on a page whose only hint is a language spoken in several dollar
    countries (``es``, ``pt``, ``zh`` without a region) stays unknown (None) rather than guessed.
    No currency is ever assumed when the page shows none. :data:`CURRENCY_SYMBOLS` is the one
    table of symbols; :func:`symbol_matches_currency` says whether a symbol as printed on a page
    can denote an ISO code (``$`` -> USD, CAD, AUD, TWD...; ``£`` -> GBP; ``kr`` -> SEK, NOK,
    DKK, ISK), which the benchmark uses to score currencies against the ground truth.

Availability
    :func:`normalize_availability` maps ``http(s)://schema.org/InStock``, ``InStock``,
    ``in_stock``, ``in stock``, ``instock``, ``out of stock``, ``sold out``, ``PreOrder``... to
    schema.org terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urljoin, urlsplit

from buyhive.product.text import clean_text

__all__ = [
    "AVAILABILITY_TERMS",
    "COUNTRY_CURRENCY",
    "CURRENCY_SYMBOLS",
    "ISO_CURRENCIES",
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

MAX_PRICE = Decimal("1000000000")

# --------------------------------------------------------------------------------------------
# Currencies
# --------------------------------------------------------------------------------------------

#: Active ISO 4217 codes (plus a few still seen on pages).
_ISO_CODES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD
    JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT
    MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG
    QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SYP SZL THB TJS TMT
    TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW
    ZWL BYR RUR
    """
ISO_CURRENCIES: frozenset[str] = frozenset(_ISO_CODES.split())

#: Currencies with three decimals: ``3.350`` is 3.35 there, 3350 everywhere else.
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})

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
    "br": ("BYN",), "бр": ("BYN",), "₴": ("UAH",), "грн": ("UAH",), "грн.": ("UAH",),
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
    if key.upper() in ISO_CURRENCIES:
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
    if text.upper() in ISO_CURRENCIES:
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
    "Rs.", "Rs", "₽", "руб.", "руб", "р.", "Br", "бр", "₴", "грн.", "грн", "zł", "Zł", "ZŁ",
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


_CUR = phrase_pattern(_TEXT_SYMBOLS + tuple(sorted(ISO_CURRENCIES)))
# Bounded on purpose: a price has at most a few digit groups, and an unbounded repetition
# makes a page of "1 1 1 1 ..." backtrack quadratically.
_AMOUNT = r"\d{1,12}(?:[.,\u00a0\u202f\u2009 '’]\d{1,3}){0,4}(?:[.,](?:-|–|—|\d{1,3}))?"
# Two scans instead of one alternation, so each starts with a cheap first-character test.
_PRICE_PRE_RE = re.compile(rf"(?P<cur>{_CUR})\s{{0,2}}(?P<amount>{_AMOUNT})")
_PRICE_POST_RE = re.compile(rf"(?P<amount>{_AMOUNT})\s{{0,2}}(?P<cur>{_CUR})")


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
            hits.append(
                (match.start(), match.end(), match.group("amount"), match.group("cur"),
                 match.group(0))
            )  # fmt: skip
    hits.sort()
    last_end = -1
    for hit_start, hit_end, amount_text, symbol, raw in hits:
        if hit_start < last_end:
            continue  # "€ 12 €": the same amount seen from both sides
        iso = resolve_currency(symbol)
        amount = _interpret_number(amount_text, decimal_separator, iso)
        if amount is None:
            continue
        found.append(PriceMatch(amount, symbol, hit_start, hit_end, raw))
        last_end = hit_end
        if len(found) >= limit:
            break
    return found


# --------------------------------------------------------------------------------------------
# Availability
# --------------------------------------------------------------------------------------------

#: schema.org ItemAvailability terms we emit.
AVAILABILITY_TERMS: frozenset[str] = frozenset(
    {
        "InStock",
        "OutOfStock",
        "PreOrder",
        "PreSale",
        "BackOrder",
        "Discontinued",
        "LimitedAvailability",
        "SoldOut",
        "InStoreOnly",
        "OnlineOnly",
        "MadeToOrder",
        "Reserved",
    }
)
_AVAILABILITY_KEYS: dict[str, str] = {term.lower(): term for term in AVAILABILITY_TERMS}
_AVAILABILITY_KEYS.update(
    {
        "available": "InStock",
        "availablefororder": "InStock",
        "instockonline": "InStock",
        "onstock": "InStock",
        "yes": "InStock",
        "true": "InStock",
        "outstock": "OutOfStock",
        "notavailable": "OutOfStock",
        "unavailable": "OutOfStock",
        "nostock": "OutOfStock",
        "notinstock": "OutOfStock",
        "oos": "OutOfStock",
        "no": "OutOfStock",
        "false": "OutOfStock",
        "pending": "PreOrder",
        "presale": "PreSale",
        "preorder": "PreOrder",
        "backorder": "BackOrder",
        "backordered": "BackOrder",
        "limitedstock": "LimitedAvailability",
        "lowstock": "LimitedAvailability",
    }
)

#: Terms under which the product can be bought now (or ordered), for scoring as InStock.
IN_STOCK_TERMS = frozenset(
    {"InStock", "LimitedAvailability", "OnlineOnly", "InStoreOnly", "PreOrder", "PreSale",
     "BackOrder", "MadeToOrder"}
)  # fmt: skip


def normalize_availability(value: Any) -> str | None:
    """A schema.org availability term from any common spelling, or None."""
    if isinstance(value, list):
        for item in value:
            term = normalize_availability(item)
            if term:
                return term
        return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 120:
        return None
    # http(s)://schema.org/InStock, schema:InStock, http://purl.org/goodrelations/v1#InStock
    text = re.split(r"[/#:]", text)[-1]
    key = re.sub(r"[^a-z]", "", text.lower())
    return _AVAILABILITY_KEYS.get(key)


#: Terms under which the product cannot be bought now.
OUT_OF_STOCK_TERMS = frozenset({"OutOfStock", "SoldOut", "Discontinued", "Reserved"})


def availability_in_stock(term: str | None) -> bool | None:
    """In-stock-like terms -> True, out-of-stock-like -> False, anything else -> None."""
    if term in IN_STOCK_TERMS:
        return True
    if term in OUT_OF_STOCK_TERMS:
        return False
    return None


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
