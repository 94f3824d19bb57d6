"""The price a script puts on the page: for pages whose price only appears after JavaScript
runs, the page's inline state (``window.__STATE__ = {...}``, ``dataLayer.push({...})``,
``<script type="application/json">``) usually holds it under a well-known key.

Used only when neither the structured data nor the visible page gave a price, with a low
confidence (the LLM step is asked when configured). The amount must be written the same way
at least twice, or once under a key that says it is the price to pay now ("salePrice",
"finalPrice"...), so one stray number (a shipping fee, a related product) is not taken.
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import Any

from extraction.heuristics.page_text import Guess

#: Scripts longer than this are not scanned (bundles, not state).
MAX_SCRIPT_CHARS = 400_000
_NOW_KEYS = frozenset(
    {"saleprice", "finalprice", "currentprice", "sellingprice", "offerprice", "pricetopay",
     "actualprice", "specialprice", "discountedprice", "displayprice"}
)  # fmt: skip
_KEYS = _NOW_KEYS | {"price", "priceamount", "amount", "value"}
_PRICE_RE = re.compile(
    r"[\"'](?P<key>[A-Za-z_]{0,20}(?:price|Price|PRICE)[A-Za-z_]{0,12})[\"']\s*:\s*[\"']?"
    r"(?P<amount>\d{1,9}(?:\.\d{1,2})?)[\"']?(?=\s*[,}])"
)
_OLD_KEY_RE = re.compile(
    r"(?i)old|was|list|regular|original|compare|strike|msrp|rrp|before|min|max|unit|per|"
    r"shipping|tax|vat|net|total|cents|range|from|to$|low|high"
)
_CURRENCY_RE = re.compile(
    r"[\"'](?:priceCurrency|currency|currencyCode|currency_code)[\"']\s*:\s*[\"']"
    r"(?P<code>[A-Z]{3})[\"']"
)
SKIP_SCRIPT_TYPES = ("ld+json", "text/template", "text/html", "text/x-template")


def price_from_scripts(tree: Any) -> Guess | None:
    """The amount the page's inline scripts give as the product's price (see the module
    docstring), with the ISO currency code written next to it when there is one."""
    counts: Counter[Decimal] = Counter()
    now: list[Decimal] = []
    currency: str | None = None
    for script in tree.iter("script"):
        kind = (script.get("type") or "").lower()
        if script.get("src") or any(t in kind for t in SKIP_SCRIPT_TYPES):
            continue
        code = script.text or ""
        if not code or len(code) > MAX_SCRIPT_CHARS:
            continue
        for match in _PRICE_RE.finditer(code):
            key = match.group("key")
            if _OLD_KEY_RE.search(key.replace("price", "").replace("Price", "")):
                continue
            try:
                amount = Decimal(match.group("amount"))
            except InvalidOperation:
                continue
            if amount <= 0:
                continue
            counts[amount] += 1
            if key.lower() in _NOW_KEYS:
                now.append(amount)
            if currency is None:
                found = _CURRENCY_RE.search(code, max(0, match.start() - 400), match.end() + 400)
                currency = found.group("code") if found else None
            if sum(counts.values()) >= 60:
                break
    if not counts:
        return None
    if now:
        return Guess(now[0], 0.35, None, currency)
    amount, seen = counts.most_common(1)[0]
    if seen < 2:
        return None
    return Guess(amount, 0.3, None, currency)
