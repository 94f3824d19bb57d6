"""The price a script puts on the page: for pages whose price only appears after JavaScript
runs, the page's inline state (``window.__STATE__ = {...}``, ``dataLayer.push({...})``,
``<script type="application/json">``) usually holds it under a well-known key.

Used only when neither the structured data nor the visible page gave a price, with a low
confidence (the LLM step is asked when configured). The amount must be written the same way
at least twice, or once under a key that says it is the price to pay now ("salePrice",
"finalPrice"...), or once near the product's own name (``"name": "Blue Kettle"``, its
object in the state), so one stray number (a shipping fee, a related product) is not
taken. ``"price": {"value": 40}`` is read as well as ``"price": 40``.
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
    r"[\"'](?P<key>[A-Za-z_]{0,20}(?:price|Price|PRICE)[A-Za-z_]{0,12})[\"']\s*:\s*"
    # the amount, or the amount inside an object: "price": {"value": 40, "currency": "USD"}
    r"(?:\{\s*[\"'](?:value|amount|current|raw|final|sale|now)[\"']\s*:\s*)?[\"']?"
    r"(?P<amount>\d{1,9}(?:\.\d{1,2})?)[\"']?(?=\s*[,}])"
)
# A string value in the state: the product's name near an amount says whose price it is.
_STRING_VALUE_RE = r"[\"']\s*:\s*[\"']{name}[\"']"
#: How far from a price key the product's name may be written (characters of script).
NAME_NEAR_CHARS = 300
_OLD_KEY_RE = re.compile(
    r"(?i)old|was|list|regular|original|compare|strike|msrp|rrp|before|min|max|unit|per|"
    r"shipping|tax|vat|net|total|cents|range|from|to$|low|high"
)
_CURRENCY_RE = re.compile(
    r"[\"'](?:priceCurrency|currency|currencyCode|currency_code)[\"']\s*:\s*[\"']"
    r"(?P<code>[A-Z]{3})[\"']"
)
SKIP_SCRIPT_TYPES = ("ld+json", "text/template", "text/html", "text/x-template")


def price_from_scripts(tree: Any, title: str | None = None) -> Guess | None:
    """The amount the page's inline scripts give as the product's price (see the module
    docstring), with the ISO currency code written next to it when there is one. An amount
    written once counts when the product's ``title`` is a string value near it (the
    product's own object in the state)."""
    counts: Counter[Decimal] = Counter()
    now: list[Decimal] = []
    named: list[Decimal] = []
    currency: str | None = None
    name_re = (
        re.compile(_STRING_VALUE_RE.format(name=re.escape(title.strip())))
        if title and len(title.strip()) >= 3
        else None
    )
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
            if name_re is not None and not named:
                near = name_re.search(
                    code, max(0, match.start() - NAME_NEAR_CHARS), match.end() + NAME_NEAR_CHARS
                )
                if near is not None:
                    named.append(amount)
            if currency is None:
                found = _CURRENCY_RE.search(code, max(0, match.start() - 400), match.end() + 400)
                currency = found.group("code") if found else None
            if sum(counts.values()) >= 60:
                break
    if not counts:
        return None
    if now:
        return Guess(now[0], 0.35, None, currency)
    if named:
        return Guess(named[0], 0.3, None, currency)
    amount, seen = counts.most_common(1)[0]
    if seen < 2:
        return None
    return Guess(amount, 0.3, None, currency)
