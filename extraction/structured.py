"""Structured data of a product page: JSON-LD, microdata, OpenGraph and product meta tags.

Works on an lxml tree parsed once by the caller (:mod:`extraction.deterministic`).

* JSON-LD is read and walked by the shared reader, :mod:`buyhive.product.jsonld` (tolerant of
  what browsers and search engines tolerate, iterative and depth-bounded).
* Microdata is read in one pass over the ``itemprop`` elements (W3C microdata value rules)
  into the JSON-LD shape, so one reader serves both. Loose ``itemprop`` attributes outside
  any item (a common mistake) are kept as a weaker fallback.
* OpenGraph and product meta tags (``og:*``, ``product:*``, ``twitter:*``) come from one pass
  over ``<meta>``.

:func:`select_product` picks the page's main product among all the Product nodes (a page
also marks up related products, breadcrumbs, sellers): the one that has an offer, whose
address or name matches the page, earliest in the page. ProductGroup variants and sibling
Product nodes that only differ by size are handled there too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lxml import etree

from buyhive.product.jsonld import (
    MAX_DEPTH,
    PRODUCT_TYPES,
    TypedNode,
    first_value,
    read_jsonld_scripts,
    scalar_value,
    type_names,
    walk_typed_nodes,
)
from buyhive.product.text import clean_text
from extraction.normalize import (
    absolute_url,
    clean_identifier,
    normalize_availability,
    normalize_gtin,
    parse_price_value,
)
from extraction.types import Source

__all__ = [
    "MetaTags",
    "OfferInfo",
    "ProductNode",
    "StructuredData",
    "extract_structured",
    "product_values",
    "select_product",
]

_OFFER_IDS = ("sku", "gtin13", "gtin", "mpn")  # an offer's own identifiers (a variant's)
_SKIP_PRICE_TYPES = ("strikethrough", "listprice", "msrp", "srp", "regular", "original", "was")


# --------------------------------------------------------------------------------------------
# Microdata
# --------------------------------------------------------------------------------------------


_LOOSE_PROPS = frozenset(
    {
        "price",
        "lowprice",
        "pricecurrency",
        "availability",
        "sku",
        "mpn",
        "gtin",
        "gtin8",
        "gtin12",
        "gtin13",
        "gtin14",
        "brand",
        "productid",
    }
)
_ITEMPROP_XPATH = etree.XPath("//*[@itemprop]")
_URL_PROPERTY_TAGS = {
    "a": "href", "area": "href", "link": "href", "img": "src", "audio": "src", "embed": "src",
    "iframe": "src", "source": "src", "track": "src", "video": "src", "object": "data",
}  # fmt: skip


def _element_text(el: Any, limit: int = 5000) -> str:
    parts: list[str] = []
    size = 0
    for piece in el.itertext():
        parts.append(piece)
        size += len(piece)
        if size > limit:
            break
    return " ".join("".join(parts).split())[:limit]


def _property_value(el: Any, base_url: str | None) -> str:
    """The value of a microdata property element (W3C microdata, "values")."""
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag == "meta":
        return el.get("content") or ""
    attr = _URL_PROPERTY_TAGS.get(tag)
    if attr:
        raw = el.get(attr) or el.get("content") or ""
        return absolute_url(raw, base_url) or raw.strip()
    if tag in ("data", "meter"):
        return el.get("value") or ""
    if tag == "time" and el.get("datetime"):
        return el.get("datetime") or ""
    content = el.get("content")
    if content is not None:
        return content
    return _element_text(el)


def _microdata(tree: Any, base_url: str | None) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Microdata items in the JSON-LD shape, and ``itemprop`` values outside any item.

    One pass over the ``itemprop`` elements: each belongs to its nearest ``itemscope``
    ancestor; an element with both ``itemprop`` and ``itemscope`` is a nested item. Loose
    properties (outside any item: invalid, but common) are kept apart as a weak fallback.
    """
    props: dict[Any, list[tuple[str, Any]]] = {}
    loose: dict[str, str] = {}
    nested: set[Any] = set()
    for el in _ITEMPROP_XPATH(tree)[:5000]:
        names = (el.get("itemprop") or "").split()
        if not names:
            continue
        owner = next((a for a in el.iterancestors() if a.get("itemscope") is not None), None)
        is_item = el.get("itemscope") is not None
        if owner is None:
            if not is_item:
                value = _property_value(el, base_url).strip()
                for name in names:
                    key = name.lower()
                    if key in _LOOSE_PROPS and key not in loose and value:
                        loose[key] = value[:200]
            continue
        if is_item:
            nested.add(el)
        value_: Any = el if is_item else _property_value(el, base_url)
        bucket = props.setdefault(owner, [])
        for name in names:
            bucket.append((name, value_))

    def build(scope: Any, depth: int) -> dict[str, Any]:
        item: dict[str, Any] = {}
        types = (scope.get("itemtype") or "").split()
        if types:
            item["@type"] = types if len(types) > 1 else types[0]
        if scope.get("itemid"):
            item["@id"] = scope.get("itemid").strip()
        for name, value in props.get(scope, ()):
            if not isinstance(value, str):
                if depth >= MAX_DEPTH:
                    continue
                value = build(value, depth + 1)
            if name in item:
                existing = item[name]
                item[name] = (existing if isinstance(existing, list) else [existing]) + [value]
            else:
                item[name] = value
        return item

    items: list[dict[str, Any]] = []
    for scope in _ITEMSCOPE_XPATH(tree)[:2000]:
        if scope in nested:
            continue  # reached through its parent item
        items.append(build(scope, 0))
        if len(items) >= 500:
            break
    return items, loose


_ITEMSCOPE_XPATH = etree.XPath("//*[@itemscope]")


# --------------------------------------------------------------------------------------------
# Meta tags
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class MetaTags:
    """``<meta>`` values by lower-cased ``property``/``name``/``itemprop``, in page order."""

    values: dict[str, list[str]] = field(default_factory=dict)
    http_equiv: dict[str, str] = field(default_factory=dict)

    def first(self, *keys: str) -> str | None:
        for key in keys:
            for value in self.values.get(key, ()):
                if value.strip():
                    return value.strip()
        return None

    def all(self, *keys: str) -> list[str]:
        return [v.strip() for key in keys for v in self.values.get(key, ()) if v.strip()]


def read_meta(tree: Any) -> MetaTags:
    meta = MetaTags()
    for el in tree.iter("meta"):
        content = el.get("content")
        if content is None:
            content = el.get("value")
        if content is None:
            continue
        equiv = el.get("http-equiv")
        if equiv:
            meta.http_equiv[equiv.strip().lower()] = content
        for attr in ("property", "name", "itemprop"):
            key = el.get(attr)
            if key:
                for part in key.split():
                    meta.values.setdefault(part.strip().lower(), []).append(content)
                break
    return meta


# --------------------------------------------------------------------------------------------
# Reading a product node
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class OfferInfo:
    price: Decimal | None
    currency_raw: str | None
    availability: str | None
    url: str | None
    aggregate: bool = False
    ids: tuple[str, ...] = ()  # its sku/gtin, to match the variant the page address selects


def _price_of(spec: dict[str, Any]) -> tuple[Any, Any]:
    """Price and currency of an Offer, looking into priceSpecification when needed."""
    price = first_value(spec.get("price"))
    currency = scalar_value(spec.get("priceCurrency") or spec.get("pricecurrency"))
    if isinstance(price, dict):
        price = scalar_value(price)
    if price in (None, ""):
        specs = spec.get("priceSpecification")
        specs = specs if isinstance(specs, list) else [specs]
        for item in specs[:20]:
            if not isinstance(item, dict):
                continue
            kind = str(scalar_value(item.get("priceType")) or "").lower()
            if any(word in kind for word in _SKIP_PRICE_TYPES):
                continue
            if item.get("referenceQuantity") is not None or item.get("unitCode"):
                continue  # a per-unit price
            if first_value(item.get("price")) not in (None, ""):
                price = first_value(item.get("price"))
                currency = currency or scalar_value(item.get("priceCurrency"))
                break
    return price, currency


def collect_offers(node: dict[str, Any], depth: int = 0) -> list[OfferInfo]:
    """The offers of a product: an Offer, a list, an AggregateOffer, offers inside offers."""
    raw = node.get("offers")
    if raw is None:
        raw = node.get("offer")
    items = raw if isinstance(raw, list) else [raw]
    offers: list[OfferInfo] = []
    for item in items[:100]:
        if not isinstance(item, dict) or depth > 4:
            continue
        types = type_names(item)
        aggregate = "aggregateoffer" in types
        price, currency = _price_of(item)
        if aggregate and price in (None, ""):
            price = first_value(item.get("lowPrice") or item.get("lowprice"))
        amount = parse_price_value(scalar_value(price) if isinstance(price, dict) else price)
        availability = normalize_availability(scalar_value(item.get("availability")))
        url = scalar_value(item.get("url"))
        ids = tuple(filter(None, (_identifier(scalar_value(item.get(k))) for k in _OFFER_IDS)))
        if amount is not None or availability is not None:
            offers.append(
                OfferInfo(
                    price=amount if amount else None,
                    currency_raw=currency if isinstance(currency, str) else None,
                    availability=availability,
                    url=url if isinstance(url, str) else None,
                    aggregate=aggregate,
                    ids=ids,
                )
            )
        if item.get("offers") is not None:
            nested = collect_offers(item, depth + 1)
            for offer in nested:
                if offer.currency_raw is None and isinstance(currency, str):
                    offer.currency_raw = currency
                if offer.availability is None and availability:
                    offer.availability = availability
            offers.extend(nested)
    # Top-level price on the product itself (invalid but seen).
    if not offers and node.get("price") is not None:
        price, currency = _price_of(node)
        amount = parse_price_value(price)
        if amount:
            offers.append(
                OfferInfo(amount, currency if isinstance(currency, str) else None, None, None)
            )
    return offers


def _brand_of(node: dict[str, Any]) -> str | None:
    for key in ("brand", "manufacturer"):
        value = first_value(node.get(key))
        if isinstance(value, dict):
            value = first_value(value.get("name")) or None
        name = clean_text(value, max_length=120) if isinstance(value, str) else None
        if name and not name.lower().startswith(("http://", "https://")):
            return name
    return None


def _images_of(node: dict[str, Any], base_url: str | None) -> list[str]:
    raw = node.get("image")
    if raw is None:
        raw = node.get("images") or node.get("thumbnailUrl")
    items = raw if isinstance(raw, list) else [raw]
    images: list[str] = []
    for item in items[:50]:
        if isinstance(item, dict):
            item = first_value(item.get("contentUrl") or item.get("url") or item.get("@id"))
        url = absolute_url(item, base_url)
        if url and url not in images:
            images.append(url)
    return images


_VARIANT_KEYS = ("color", "colour", "size", "material", "pattern", "style", "flavor", "flavour")


def _variant_of(node: dict[str, Any]) -> dict[str, str] | None:
    variant: dict[str, str] = {}
    for key in _VARIANT_KEYS:
        value = clean_text(scalar_value(node.get(key)), max_length=80)
        if value:
            variant["color" if key == "colour" else key] = value
    props = node.get("additionalProperty")
    for prop in (props if isinstance(props, list) else [props])[:30]:
        if not isinstance(prop, dict):
            continue
        name = clean_text(scalar_value(prop.get("name")), max_length=40)
        value = clean_text(scalar_value(prop.get("value")), max_length=80)
        if name and value and name.lower() in _VARIANT_KEYS:
            variant.setdefault(name.lower(), value)
    return variant or None


_GLOBAL_ID_PREFIX_RE = re.compile(r"^(?:isbn|ean|gtin|upc)\s*:?\s*", re.I)


def _identifier(value: Any) -> str | None:
    """An SKU from markup. Microdata read from an element's text can drag the text around
    it along ("TE502955-1293415 Housse de canapé, chaise"): past four words, only the
    first token is kept, when it looks like a code (has a digit)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = clean_text(value, max_length=2000)
    if text is None:
        return None
    words = text.split()
    if len(words) > 4:
        text = words[0] if re.search(r"\d", words[0]) else ""
    return clean_identifier(text)


def product_values(node: dict[str, Any], base_url: str | None) -> dict[str, Any]:
    """Raw field values of one product node (JSON-LD or converted microdata)."""
    values: dict[str, Any] = {
        "title": clean_text(scalar_value(node.get("name")), max_length=300),
        "description": clean_text(scalar_value(node.get("description")), max_length=5000),
        "brand": _brand_of(node),
        "sku": _identifier(scalar_value(node.get("sku"))),
        "mpn": clean_identifier(scalar_value(node.get("mpn"))),
        "images": _images_of(node, base_url),
        "url": scalar_value(node.get("url")),
        "variant": _variant_of(node),
    }
    gtin = None
    for key in ("gtin13", "gtin", "gtin12", "gtin14", "gtin8", "ean", "isbn", "upc"):
        gtin = normalize_gtin(scalar_value(node.get(key)))
        if gtin:
            break
    if gtin is None:
        product_id = scalar_value(node.get("productID") or node.get("productId"))
        if isinstance(product_id, str):
            gtin = normalize_gtin(_GLOBAL_ID_PREFIX_RE.sub("", product_id))
    values["gtin"] = gtin
    if values["sku"] is None:
        # productID is meant for global ids ("isbn:..."); a shop's own code in it is taken
        # only when it looks like one token ("Ca304103-0000 Montre" is a label, not a code).
        product_id = scalar_value(node.get("productID") or node.get("productId"))
        if isinstance(product_id, (str, int)):
            ident = clean_identifier(product_id)
            if ident and " " not in ident and not re.match(r"(?i)^(isbn|ean|gtin|upc):", ident):
                values["sku"] = ident
    values["offers"] = collect_offers(node)
    return values


# --------------------------------------------------------------------------------------------
# Choosing the main product
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class ProductNode:
    """The page's main product as the structured data describes it."""

    source: Source  # "json-ld" | "microdata"
    values: dict[str, Any]
    offers: list[OfferInfo]
    is_product_type: bool
    siblings: list[dict[str, Any]] = field(default_factory=list)
    from_group: bool = False
    variant_selected: bool = False


def _tokens(text: str | None) -> set[str]:
    return {t for t in re.findall(r"\w+", (text or "").lower()) if len(t) > 1}


def _similar(a: str | None, b: str | None) -> float:
    ta, tb = _tokens(a), _tokens(b)
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / min(len(ta), len(tb))


def _same_page(url: Any, page_urls: list[str], base_url: str | None) -> bool:
    if not isinstance(url, str) or not url.strip():
        return False
    absolute = absolute_url(url, base_url)
    if not absolute:
        return False
    target = urlsplit(absolute)
    for page in page_urls:
        try:
            parts = urlsplit(page)
        except ValueError:
            continue
        if parts.netloc.lower() == target.netloc.lower() and (
            parts.path.rstrip("/") == target.path.rstrip("/")
        ):
            return True
    return False


def _variant_matches_url(values: dict[str, Any], page_url: str | None) -> bool:
    """A ProductGroup variant is the one the page shows when its sku/gtin/url is in the URL."""
    if not page_url:
        return False
    try:
        parts = urlsplit(page_url)
    except ValueError:
        return False
    query_values = {v for _, v in parse_qsl(parts.query)}
    url = values.get("url")
    if isinstance(url, str) and url.strip() and url.strip() == page_url:
        return True
    for key in ("sku", "gtin", "mpn"):
        ident = values.get(key)
        if ident and ident in query_values:
            return True
    if isinstance(url, str) and "?" in url:
        variant_query = {v for _, v in parse_qsl(urlsplit(url).query)}
        if variant_query and variant_query <= query_values:
            return True
    return False


def select_product(
    nodes: list[TypedNode],
    *,
    base_url: str | None,
    page_url: str | None,
    page_urls: list[str],
    page_titles: list[str],
) -> ProductNode | None:
    """The main product among the typed nodes of a page (see module docstring)."""
    products = [n for n in nodes if n.types & PRODUCT_TYPES]
    is_product_type = True
    if not products:
        # No Product: an Event, Service, Course... that has offers is the page's item.
        products = [
            n
            for n in nodes
            if not n.foreign
            and "offer" not in n.types
            and "aggregateoffer" not in n.types
            and collect_offers(n.node)
        ]
        is_product_type = False
    if not products:
        return None

    # A variant inside a ProductGroup's hasVariant is scored through its group.
    group_variants: dict[int, list[dict[str, Any]]] = {}
    candidates: list[tuple[float, int, TypedNode, dict[str, Any]]] = []
    for node in products:
        if node.parent_types & {"productgroup"} and "productgroup" not in node.types:
            continue
        values = product_values(node.node, base_url)
        if "productgroup" in node.types:
            raw = node.node.get("hasVariant")
            listed = raw if isinstance(raw, list) else [raw]
            group_variants[id(node)] = [v for v in listed[:300] if isinstance(v, dict)]
        score = 0.0
        if any(o.price for o in values["offers"]) or group_variants.get(id(node)):
            score += 3
        if _same_page(values.get("url"), page_urls, base_url) or _same_page(
            scalar_value(node.node.get("@id")), page_urls, base_url
        ):
            score += 2
        if values.get("title") and page_titles:
            score += 2 * max(_similar(values["title"], t) for t in page_titles)
        if values.get("sku") or values.get("gtin"):
            score += 0.5
        if node.foreign:
            score -= 4
        candidates.append((score, -node.order, node, values))
    if not candidates:
        return None
    candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)
    _, _, best, values = candidates[0]

    result = ProductNode(
        source=best.source,
        values=values,
        offers=list(values["offers"]),
        is_product_type=is_product_type,
    )
    variants = group_variants.get(id(best))
    if variants:
        result.from_group = True
        variant_values = [product_values(v, base_url) for v in variants]
        chosen = next((v for v in variant_values if _variant_matches_url(v, page_url)), None)
        if chosen is not None:
            result.variant_selected = True
            for key in ("sku", "gtin", "mpn", "variant", "url"):
                if chosen.get(key):
                    values[key] = chosen[key]
            if chosen.get("images"):
                values["images"] = chosen["images"] + [
                    i for i in values["images"] if i not in chosen["images"]
                ]
            if chosen["offers"]:
                result.offers = chosen["offers"]
        else:
            result.siblings = list(variant_values)
            if not result.offers:
                result.offers = [o for v in variant_values for o in v["offers"]]
    else:
        # Sibling products with the same name are the sizes/colours of the same article.
        title = values.get("title")
        if title:
            for _, _, other, other_values in candidates[1:]:
                if other_values.get("title") == title and other.source == best.source:
                    result.siblings.append(other_values)
    return result


# --------------------------------------------------------------------------------------------
# Everything structured on a page
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class StructuredData:
    jsonld: list[Any] = field(default_factory=list)
    nodes: list[TypedNode] = field(default_factory=list)
    meta: MetaTags = field(default_factory=MetaTags)
    loose: dict[str, str] = field(default_factory=dict)
    jsonld_invalid: int = 0
    product: ProductNode | None = None


def extract_structured(tree: Any, *, base_url: str | None) -> StructuredData:
    """JSON-LD, microdata, loose itemprops and meta tags of a parsed page."""
    data = StructuredData()
    data.jsonld, data.jsonld_invalid = read_jsonld_scripts(tree)
    walk_typed_nodes(data.jsonld, source="json-ld", start_order=0, out=data.nodes)
    try:
        microdata, data.loose = _microdata(tree, base_url)
    except (RecursionError, etree.XPathError, ValueError):  # pragma: no cover - defensive
        microdata = []
    walk_typed_nodes(microdata, source="microdata", start_order=len(data.nodes), out=data.nodes)
    data.meta = read_meta(tree)
    return data
