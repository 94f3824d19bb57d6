"""ISO 4217 currency codes an item's price may carry.

A static list (no network, no extra dependency): ISO 4217 list one as published by SIX on
2024-06-25 (the SLE/SLL, VES, ZWG changes included), without the funds and precious-metal
codes (``XAU``, ``XDR``, ``BOV``, ``USN``...) that are never a shop price. Three codes
withdrawn recently but still printed by shops and emitted by the extractor
(``extraction.normalize.ISO_CURRENCIES``) are accepted too, so that an extracted product can
always be saved: ``HRK`` (Croatia, to 2023), ``BYR`` (Belarus, to 2016), ``RUR`` (pre-1998 ruble,
still used as an alias by Russian shops).
"""

from __future__ import annotations

__all__ = ["ISO_4217_CURRENCIES", "is_known_currency", "normalize_currency"]

_ACTIVE = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
BYN BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD
TWD TZS UAH UGX USD UYU UZS VES VED VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
"""

_STILL_SEEN = "HRK BYR RUR"

#: Every code accepted for ``Item.currency`` (upper-case, three letters).
ISO_4217_CURRENCIES: frozenset[str] = frozenset(_ACTIVE.split()) | frozenset(_STILL_SEEN.split())


def normalize_currency(value: object) -> str | None:
    """The upper-cased code when ``value`` is a known ISO 4217 code, else None."""
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code if code in ISO_4217_CURRENCIES else None


def is_known_currency(value: object) -> bool:
    return normalize_currency(value) is not None
