"""Cart totals in one currency, with the European Central Bank's daily reference rates.

A scheduled job (:func:`rates_refresh`) fetches the ECB's daily file
(``eurofxref-daily.xml``: units of each currency per euro, published around 16:00 CET on
working days) through the safe outbound client, and keeps one row per publication day.
Conversion never calls out: it reads the latest stored day (cached). With no rates at all (a
fresh machine that cannot reach the feed), every other currency is ``left_out`` and
``rates_date`` is null; that is an answer, never an error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog
from django.conf import settings
from django.db import IntegrityError
from lxml import etree

from buyhive.cache import cache_get, cache_set
from buyhive.exceptions import ValidationFailed
from buyhive.http import OutboundRequestError, SafeHttpClient, get_client
from buyhive.product.money import amount_to_api, normalize_currency
from carts.watch.models import ExchangeRates

logger = structlog.get_logger(__name__)

__all__ = [
    "Rates",
    "convert_totals",
    "latest_rates",
    "parse_ecb_xml",
    "rates_refresh",
    "totals_converted_param",
]

_CACHE_KEY = "watch:ecb-rates:v1"
_CACHE_SECONDS = 600
_MAX_BYTES = 256 * 1024

Rates = tuple[dt.date | None, dict[str, Decimal]]


def parse_ecb_xml(content: bytes) -> Rates:
    """``(day, {code: units per euro})`` from the ECB's daily XML; ``(None, {})`` if unreadable.

    Parsed with no network, no entity expansion and no DTD: the file comes from outside.
    """
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError:
        return None, {}
    day: dt.date | None = None
    rates: dict[str, Decimal] = {}
    for element in root.iter():
        if not isinstance(element.tag, str) or not element.tag.endswith("Cube"):
            continue
        if element.get("time"):
            try:
                day = dt.date.fromisoformat(element.get("time", ""))
            except ValueError:
                return None, {}
        code, rate = element.get("currency"), element.get("rate")
        if code and rate and len(code) == 3 and code.isalpha():
            try:
                value = Decimal(rate)
            except InvalidOperation:
                continue
            if value.is_finite() and value > 0:
                rates[code.upper()] = value
    if day is None or not rates:
        return None, {}
    return day, rates


def rates_refresh(*, client: SafeHttpClient | None = None) -> dt.date | None:
    """Fetch today's ECB rates and store them (idempotent per publication day).

    Returns the publication day stored, or None when the feed could not be read (logged; the
    last stored day keeps serving).
    """
    try:
        result = (client or get_client()).get(
            settings.ECB_RATES_URL,
            allowed_content_types=["text/xml", "application/xml"],
            max_bytes=_MAX_BYTES,
        )
    except OutboundRequestError as exc:
        logger.warning("ecb_rates_unavailable", reason=exc.reason)
        return None
    day, rates = parse_ecb_xml(result.content)
    if day is None:
        logger.warning("ecb_rates_unreadable")
        return None
    stored = {code: str(value) for code, value in rates.items()}
    if not ExchangeRates.objects.filter(day=day).update(rates=stored):
        try:
            ExchangeRates.objects.create(day=day, rates=stored)
        except IntegrityError:
            ExchangeRates.objects.filter(day=day).update(rates=stored)
    cache_set(_CACHE_KEY, None, _CACHE_SECONDS)  # the next read takes the latest day
    logger.info("ecb_rates_stored", day=day.isoformat(), currencies=len(rates))
    return day


def latest_rates() -> Rates:
    """The latest stored rates (cached ten minutes); ``(None, {})`` when none were ever fetched."""
    cached = cache_get(_CACHE_KEY)
    if cached:
        day_text, raw = cached
        return dt.date.fromisoformat(day_text), {k: Decimal(v) for k, v in raw.items()}
    row = ExchangeRates.objects.order_by("-day").first()
    if row is None:
        return None, {}
    rates = {code: Decimal(value) for code, value in (row.rates or {}).items()}
    cache_set(_CACHE_KEY, (row.day.isoformat(), row.rates), _CACHE_SECONDS)
    return row.day, rates


def convert_totals(
    totals: Mapping[str | None, Decimal], *, currency: str, rates: Rates
) -> dict[str, Any]:
    """``{"currency", "amount", "rates_date", "left_out"}``: ``totals`` (per currency) in
    ``currency``. An amount already in ``currency`` needs no rate; a currency without a rate
    is listed in ``left_out`` and not added. ``rates_date`` is the rates' publication day,
    null when none are stored.
    """
    day, table = rates
    table = {**table, "EUR": Decimal(1)} if day is not None else {}
    amount = Decimal(0)
    left_out: list[str] = []
    for code, value in totals.items():
        if code is None:
            continue  # a price without a currency cannot be converted, nor named
        if code == currency:
            amount += Decimal(value)
        elif code in table and currency in table:
            amount += Decimal(value) / table[code] * table[currency]
        else:
            left_out.append(code)
    return {
        "currency": currency,
        "amount": amount_to_api(amount, currency=currency),
        "rates_date": day.isoformat() if day is not None else None,
        "left_out": sorted(left_out),
    }


def totals_converted_param(
    params: Mapping[str, Any],
) -> Callable[[Mapping[str | None, Decimal]], dict[str, Any] | None]:
    """From a request's ``?currency=``: a function turning a cart's totals into its
    ``total_converted`` (None without the parameter). An unknown code is a 400."""
    raw = params.get("currency")
    if raw in (None, ""):
        return lambda _totals: None
    currency = normalize_currency(raw)
    if currency is None:
        message = "Enter an ISO 4217 currency code."
        raise ValidationFailed(message, fields={"currency": [message]})
    rates = latest_rates()
    return lambda totals: convert_totals(totals, currency=currency, rates=rates)
