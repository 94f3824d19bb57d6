"""Features of pages rendered by script: what the inline scripts and the page's own address say
when the visible HTML shows no product yet.

Many shops send a shell page whose product name, price and add-to-cart button are drawn by
script after load; the HTML then carries the product only as inline application state
(``__NEXT_DATA__``, ``__NUXT__``, ``window.__INITIAL_STATE__``, a ``dataLayer`` push) and in
the canonical address. These features read that state generically: JSON-like price, SKU and
page-type keys that analytics and front-end frameworks use everywhere, and the canonical
address's shape (the same path words as the URL features). No feature names a site.
"""

from __future__ import annotations

import math
import re

from lxml.html import HtmlElement

from mlverify.page_check.url_shapes import product_path_shape

SCRIPT_FEATURE_NAMES: tuple[str, ...] = (
    "script_state",  # an inline application-state script (Next, Nuxt, Redux, Apollo) (0/1)
    "script_prices",  # distinct numbers under price keys in inline scripts (log1p)
    "script_few_prices",  # 1 to 3 distinct script prices: one product and its variants (0/1)
    "script_sku",  # sku / productId / gtin keys in inline scripts (0/1)
    "script_page_product",  # an analytics page type that says product detail (0/1)
    "script_page_listing",  # an analytics page type that says category/search/listing (0/1)
    "canonical_product_shape",  # the canonical / og:url address has a product-detail shape (0/1)
)

_MAX_SCRIPT_CHARS = 2_000_000
_STATE_RE = re.compile(
    r"__NEXT_DATA__|__NUXT__|__INITIAL_STATE__|__PRELOADED_STATE__|__APOLLO_STATE__"
    r"|__remixContext|__STATE__"
)
_PRICE_KEY_RE = re.compile(
    r"[\"']?(?:price|salePrice|sale_price|currentPrice|current_price|finalPrice|final_price"
    r"|priceAmount|price_amount|regularPrice|regular_price|listPrice|list_price|unitPrice"
    r"|unit_price)[\"']?\s*[:=]\s*[\"']?(\d{1,7}(?:[.,]\d{1,2})?)\b",
    re.I,
)
_SKU_RE = re.compile(
    r"[\"'](?:sku|productId|product_id|productID|itemId|item_id|gtin\d*|mpn)[\"']\s*:", re.I
)
_PAGE_TYPE_RE = re.compile(
    r"[\"']?(?:page_?type|pageCategory|page_category|template|ecomm_pagetype)[\"']?\s*[:=]\s*"
    r"[\"']([a-z _-]{1,30})[\"']",
    re.I,
)
_PRODUCT_PAGE_TYPES = frozenset(
    {
        "product",
        "pdp",
        "productdetail",
        "product detail",
        "product-detail",
        "product_detail",
        "productpage",
        "product page",
        "product-page",
        "product_page",
        "item",
        "offerdetail",
    }
)
_LISTING_PAGE_TYPES = frozenset(
    {
        "category",
        "plp",
        "productlist",
        "product list",
        "product-list",
        "product_list",
        "listing",
        "search",
        "searchresults",
        "search results",
        "collection",
        "catalog",
        "category page",
        "categorypage",
        "category-page",
        "category_page",
        "brand",
    }
)


def _log(value: float) -> float:
    return math.log1p(max(value, 0.0))


def _inline_scripts(doc: HtmlElement) -> str:
    """The text of the inline scripts (not JSON-LD, which the structured-data features read),
    each after its ``id`` (Next.js names its state script ``__NEXT_DATA__`` by id)."""
    parts: list[str] = []
    total = 0
    for script in doc.xpath("//script[not(@src)]"):
        kind = (script.get("type") or "").strip().lower()
        if kind == "application/ld+json":
            continue
        text = script.text or ""
        if not text.strip():
            continue
        parts.append(f"{script.get('id') or ''}\n{text}")
        total += len(text)
        if total > _MAX_SCRIPT_CHARS:
            break
    return "\n".join(parts)[:_MAX_SCRIPT_CHARS]


def _canonical_url(doc: HtmlElement) -> str:
    found = doc.xpath('//link[@rel="canonical"]/@href | //meta[@property="og:url"]/@content')
    return str(found[0]).strip() if found else ""


def script_features(doc: HtmlElement) -> dict[str, float]:
    """The script-state features of one parsed page (see :data:`SCRIPT_FEATURE_NAMES`)."""
    text = _inline_scripts(doc)
    prices = {m.group(1).replace(",", ".") for m in _PRICE_KEY_RE.finditer(text)}
    prices.discard("0")
    page_types = {m.group(1).strip().lower() for m in _PAGE_TYPE_RE.finditer(text)}
    canonical = _canonical_url(doc)
    return {
        "script_state": 1.0 if _STATE_RE.search(text) else 0.0,
        "script_prices": _log(len(prices)),
        "script_few_prices": 1.0 if 1 <= len(prices) <= 3 else 0.0,
        "script_sku": 1.0 if _SKU_RE.search(text) else 0.0,
        "script_page_product": 1.0 if page_types & _PRODUCT_PAGE_TYPES else 0.0,
        "script_page_listing": 1.0 if page_types & _LISTING_PAGE_TYPES else 0.0,
        "canonical_product_shape": 1.0 if canonical and product_path_shape(canonical) else 0.0,
    }
