"""Checking the model's answer against the page: keep only what the page supports."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from decimal import Decimal

from buyhive.product.currency_signs import CURRENCY_SYMBOLS, symbol_matches_currency
from extraction.llm.answer import LLMProduct
from extraction.llm.page_prices import (
    MAX_PAGE_PRICES,
    NUMBER_RE,
    number_readings,
    page_price_amounts,
    symbol_key,
)
from extraction.normalize import find_prices, normalize_gtin

#: How much each accepted field is trusted (0..1). The LLM never beats structured data, which
#: is why these stay below what the deterministic extractor gives JSON-LD fields.
CONFIDENCE: dict[str, float] = {
    "title_exact": 0.8,
    "title_words": 0.6,
    "price": 0.75,
    "currency_code": 0.8,
    "currency_symbol": 0.7,
    "currency_ambiguous_symbol": 0.5,
    "availability": 0.6,
    "brand": 0.7,
    "sku": 0.7,
    "mpn": 0.7,
    "gtin": 0.8,
}


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _printed(value: str, folded_page: str) -> bool:
    """Is ``value`` printed on the page as a whole word/number (case-insensitive)?"""
    needle = _fold(value)
    if not needle:
        return False
    pattern = (r"(?<![^\W_])" if needle[0].isalnum() else "") + re.escape(needle)
    pattern += r"(?![^\W_])" if needle[-1].isalnum() else ""
    return re.search(pattern, folded_page) is not None


def _model_price(value: str) -> set[Decimal]:
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return {Decimal(value)}
    match = NUMBER_RE.search(value)
    return number_readings(match.group(0)) if match else set()


def _currency_evidence(code: str, page: str) -> float | None:
    """How well the page supports ``code``: its code printed, or a price written with a sign
    only that currency uses, or with a sign it shares (``$``, ``kr``); None when unsupported."""
    if re.search(rf"(?<![A-Za-z]){code}(?![A-Za-z])", page):
        return CONFIDENCE["currency_code"]
    best: float | None = None
    for match in find_prices(page, limit=MAX_PAGE_PRICES):
        if match.symbol and symbol_matches_currency(match.symbol, code):
            shared = len(CURRENCY_SYMBOLS.get(symbol_key(match.symbol), ())) > 1
            score = CONFIDENCE["currency_ambiguous_symbol" if shared else "currency_symbol"]
            best = score if best is None else max(best, score)
    return best


def check_answer(
    answer: LLMProduct, *, page_text: str, wanted: Iterable[str]
) -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
    """Keep the answer's fields the page supports: ``(fields, confidence, rejected)``."""
    fields: dict[str, str] = {}
    confidence: dict[str, float] = {}
    rejected: dict[str, str] = {}
    folded = _fold(page_text)
    dropped = answer.dropped

    def accept(name: str, value: str, score: float) -> None:
        fields[name] = value
        confidence[name] = score

    for name in wanted:
        value = getattr(answer, name, None)
        if value is None:
            if name in dropped:
                rejected[name] = dropped[name]
            continue
        if name == "title":
            if _fold(value) in folded:
                accept(name, value, CONFIDENCE["title_exact"])
            else:
                words = [w for w in re.findall(r"\w+", _fold(value)) if len(w) > 1]
                found = [w for w in words if _printed(w, folded)]
                if words and len(found) / len(words) >= 0.8:
                    accept(name, value, CONFIDENCE["title_words"])
                else:
                    rejected[name] = "not_on_page"
        elif name == "price":
            readings = _model_price(value)
            if not readings:
                rejected[name] = "not_a_number"
                continue
            if all(r <= 0 for r in readings):
                rejected[name] = "not_positive"
                continue
            matched = sorted(r for r in readings & page_price_amounts(page_text) if r > 0)
            if not matched:
                rejected[name] = "not_on_page"
                continue
            accept(name, format(matched[0], "f"), CONFIDENCE["price"])
        elif name == "currency":
            score = _currency_evidence(value, page_text)
            if score is None:
                rejected[name] = "not_on_page"
            else:
                accept(name, value, score)
        elif name == "availability":
            accept(name, value, CONFIDENCE["availability"])
        elif name == "gtin":
            digits = normalize_gtin(value)
            if digits is None:
                rejected[name] = "invalid_gtin"
            elif digits not in re.sub(r"[\s-]", "", page_text):
                rejected[name] = "not_on_page"
            else:
                accept(name, digits, CONFIDENCE["gtin"])
        else:  # brand, sku, mpn: must be printed on the page
            if _printed(value, folded):
                accept(name, value, CONFIDENCE[name])
            else:
                rejected[name] = "not_on_page"
    return fields, confidence, rejected
