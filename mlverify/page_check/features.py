"""Structural page features: numbers read from the HTML and the URL that tell one product for
sale from a grid of products and from everything else.

The sentence encoder reads what a page is *about*; these read how it is *built*. A product
page states one ``Product`` with an offer, one add-to-cart control and few prices; a category
grid repeats the same card (link, image, price) many times, lists many distinct prices and
often several add-to-cart buttons, and its structured data is an ``ItemList`` or
``CollectionPage``; articles, forums and documentation have long text and few prices. No
feature names a site: every one is a count or a yes/no over generic markup.

Counts go through ``log1p`` so that a grid of 60 cards and one of 24 look alike, and the head
file stores the mean and scale each feature is standardised with
(:mod:`mlverify.page_check.head`). :data:`FEATURE_NAMES` fixes the order; bump
:data:`FEATURES_VERSION` when a feature changes meaning, so an old head is refused.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lxml.html import HtmlElement

from buyhive.product.jsonld import (
    OFFER_TYPES,
    PRODUCT_TYPES,
    read_jsonld_scripts,
    top_level_nodes,
    type_name,
    type_names,
)
from buyhive.product.text import ADD_TO_CART_PHRASES, ADD_TO_CART_TOKENS
from mlverify.page_check.script_features import SCRIPT_FEATURE_NAMES, script_features
from mlverify.page_check.url_text import PageInput

FEATURES_VERSION = 2

# fmt: off
_LIST_TYPES = frozenset({"itemlist", "offercatalog", "collectionpage", "searchresultspage"})
_ARTICLE_TYPES = frozenset({
    "analysisnewsarticle", "article", "backgroundnewsarticle", "blog", "blogposting",
    "liveblogposting", "newsarticle", "opinionnewsarticle", "report", "reportagenewsarticle",
    "reviewnewsarticle", "scholarlyarticle", "socialmediaposting", "techarticle",
    "discussionforumposting", "qapage", "faqpage",
})
_OG_PRODUCT = frozenset({"product", "product.item", "product.group", "og:product", "product.sku"})
_OG_ARTICLE = frozenset({"article", "blog", "news", "article.news"})
_PRICE_META = frozenset({
    "og:price:amount", "product:price", "product:price:amount", "product:sale_price:amount",
})
# Currency symbols and ISO codes next to an amount: "$19.99", "19,99 €", "EUR 12", "¥1,500".
_CURRENCY = (
    r"(?:[$€£¥₩₹₽₺₪₫₱฿]|(?:US|C|A|NZ|HK|S)\$|R\$|kr|zł|Kč|Ft|lei|CHF|EUR|USD|GBP|JPY|AUD"
    r"|CAD|SEK|NOK|DKK|PLN|CZK|INR|CNY|KRW|TWD|BRL|MXN|TRY|RUB|ZAR)"
)
# fmt: on
_AMOUNT = r"\d{1,3}(?:[.,\s\u00a0']\d{3})*(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_PRICE_RE = re.compile(
    rf"(?:{_CURRENCY}\s?(?P<a>{_AMOUNT}))|(?:(?P<b>{_AMOUNT})\s?{_CURRENCY})", re.UNICODE
)
_DIGITS = re.compile(r"\d")
_ID_SEGMENT = re.compile(r"\d{4,}|[a-z]*\d+[a-z\d]*[-_.]\w+|\b[a-z]{1,3}\d{3,}\b", re.I)
_SPACES = re.compile(r"\s+")
_COMPACT = re.compile(r"[\s\-_]+")
_SORT_WORDS = ("sort", "orderby", "order_by", "filter", "facet", "refine")
_PAGE_PARAMS = frozenset({"page", "p", "pg", "offset", "start", "sort", "order", "orderby"})
# Generic path words (many languages) for a product-detail page and for a listing of products.
# fmt: off
PRODUCT_SEGMENTS = frozenset({
    "dp", "item", "items", "itm", "p", "pd", "prodotti", "prodotto", "product", "product-detail",
    "productdetail", "producto", "productos", "products", "produit", "produits", "produkt",
    "produkte", "produto", "produtos", "app", "sku", "buy",
})
LISTING_SEGMENTS = frozenset({
    "c", "cat", "cats", "catalog", "catalogue", "categories", "category", "categoria",
    "categorias", "categorie", "collection", "collections", "department", "departments",
    "browse", "search", "s", "shop", "store", "kategorie", "kategori", "kategorien", "tag",
    "tags", "brand", "brands", "sale", "deals", "list", "listing", "range", "rayon", "l",
})
# fmt: on
_SKIP_TEXT = frozenset({"script", "style", "noscript", "template", "svg"})
_MAX_CONTROL_TEXT = 60
_MAX_TEXT_CHARS = 400_000

FEATURE_NAMES: tuple[str, ...] = (
    # structured data
    "ld_product",  # Product nodes the page states about itself (log1p count)
    "ld_product_nested",  # Product nodes anywhere in JSON-LD (lists hold many)
    "ld_offer",  # Offer / AggregateOffer nodes anywhere (log1p)
    "ld_list",  # ItemList / OfferCatalog / CollectionPage / SearchResultsPage (0/1)
    "ld_article",  # Article, BlogPosting, forum posting, QAPage (0/1)
    "md_product",  # microdata / RDFa Product items (log1p)
    "md_offer",  # microdata / RDFa Offer items and price itemprops (log1p)
    "og_product",  # og:type product (0/1)
    "og_article",  # og:type article (0/1)
    "price_meta",  # product:price meta tags (0/1)
    # visible page
    "add_to_cart",  # controls that put an item in a cart (log1p count)
    "distinct_prices",  # distinct amounts with a currency in the visible text (log1p)
    "price_mentions",  # all amounts with a currency (log1p)
    "card_repeat",  # the largest group of sibling blocks alike, each with a link and a price
    "card_repeat_any",  # the largest group of sibling blocks alike, each with a link and image
    "quantity_input",  # a quantity field (0/1)
    "sort_control",  # a sort/filter control (0/1)
    "pagination",  # rel=next/prev or a pager (0/1)
    "text_chars",  # visible text length (log1p / 10)
    "links",  # number of links (log1p / 5)
    "paragraph_chars",  # text inside <p> (log1p / 10): long prose is an article or a doc
    # the URL
    "url_depth",  # path segments
    "url_id_segment",  # the last segment carries an id (digits, sku-like)
    "url_slug_words",  # words in the last segment (log1p)
    "url_html",  # the path ends in .html/.htm/.php/.aspx (0/1)
    "url_root",  # the site root or a locale root (0/1)
    "url_listing_params",  # page/sort/offset parameters in the query (0/1)
    "url_product_segment",  # a path segment says product detail ("/products/", "/dp/")
    "url_listing_segment",  # a path segment says listing ("/collections/", "/category/")
    # combinations a linear head cannot make by itself
    "one_product",  # one Product stated about the page and no list of them
    "one_cart",  # one or two add-to-cart controls (a grid has many)
    "few_prices",  # 1 to 4 distinct prices (a grid lists many)
    "has_html",  # 1 when the page's HTML was read (0: URL-only)
    # pages drawn by script: inline application state and the canonical address
    *SCRIPT_FEATURE_NAMES,
)


def _log(value: float) -> float:
    return math.log1p(max(value, 0.0))


def url_features(url: str) -> dict[str, float]:
    """The URL-shape features (the only ones known without the page)."""
    try:
        parts = urlsplit(url.strip() if "://" in url else "http://" + url.strip())
        path, query = parts.path, parts.query
    except ValueError:
        path, query = "", ""
    segments = [s for s in path.split("/") if s]
    last = segments[-1] if segments else ""
    stem = last.rsplit(".", 1)[0] if "." in last else last
    words = [w for w in re.split(r"[-_+.\s]+", stem) if w and not w.isdigit()]
    params = {k.lower() for k, _ in parse_qsl(query, keep_blank_values=True)}
    lowered = {seg.lower() for seg in segments[:-1]} | (
        {last.lower()} if len(segments) == 1 else set()
    )
    locale_only = all(len(s) <= 5 and not _DIGITS.search(s) for s in segments)
    return {
        "url_depth": float(min(len(segments), 8)),
        "url_id_segment": 1.0 if last and _ID_SEGMENT.search(last) else 0.0,
        "url_slug_words": _log(len(words)),
        "url_html": 1.0 if re.search(r"\.(?:html?|php|aspx?)$", last, re.I) else 0.0,
        "url_root": 1.0 if len(segments) <= 2 and locale_only and not query else 0.0,
        "url_listing_params": 1.0 if params & _PAGE_PARAMS else 0.0,
        "url_product_segment": 1.0 if lowered & PRODUCT_SEGMENTS else 0.0,
        "url_listing_segment": 1.0 if lowered & LISTING_SEGMENTS else 0.0,
    }


def _jsonld_features(doc: HtmlElement) -> dict[str, float]:
    values, _invalid = read_jsonld_scripts(doc)
    top = Counter(kind for kind, _ in top_level_nodes(values))
    nested: Counter[str] = Counter()
    stack: list[Any] = list(values)
    seen = 0
    while stack and seen < 5000:
        node = stack.pop()
        seen += 1
        if isinstance(node, list):
            stack.extend(node[:500])
        elif isinstance(node, dict):
            for kind in type_names(node):
                nested[kind] += 1
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
    return {
        "ld_product": _log(sum(top[k] for k in PRODUCT_TYPES)),
        "ld_product_nested": _log(sum(nested[k] for k in PRODUCT_TYPES)),
        "ld_offer": _log(sum(nested[k] for k in OFFER_TYPES)),
        "ld_list": 1.0 if any(nested[k] for k in _LIST_TYPES) else 0.0,
        "ld_article": 1.0 if any(top[k] for k in _ARTICLE_TYPES) else 0.0,
    }


def _microdata_features(doc: HtmlElement) -> dict[str, float]:
    products = offers = 0
    for node in doc.xpath("//*[@itemtype or @typeof]"):
        for value in (node.get("itemtype") or "", node.get("typeof") or ""):
            for token in value.split():
                kind = type_name(token.rstrip("/"))
                products += kind in PRODUCT_TYPES
                offers += kind in OFFER_TYPES
    offers += len(doc.xpath('//*[@itemprop="price" or @itemprop="lowPrice"]'))
    og_product = og_article = price_meta = 0.0
    for meta in doc.xpath("//meta[@property or @name]"):
        key = (meta.get("property") or meta.get("name") or "").strip().lower()
        content = (meta.get("content") or "").strip().lower()
        if key == "og:type":
            og_product = max(og_product, float(content in _OG_PRODUCT))
            og_article = max(og_article, float(content in _OG_ARTICLE))
        elif key in _PRICE_META and content:
            price_meta = 1.0
    return {
        "md_product": _log(products),
        "md_offer": _log(offers),
        "og_product": og_product,
        "og_article": og_article,
        "price_meta": price_meta,
    }


def count_add_to_cart(doc: HtmlElement, *, limit: int = 200) -> int:
    """How many controls put an item in a cart (by id/class/name tokens or the label)."""
    count = 0
    controls = doc.xpath(
        "//button | //input[@type='submit' or @type='button' or @type='image'] | //form"
        " | //*[@role='button'] | //a[contains(@class, 'btn') or contains(@class, 'button')]"
    )
    for el in controls:
        attrs = " ".join(
            v
            for k, v in el.attrib.items()
            if k in {"id", "class", "name", "action", "value", "aria-label", "title"}
            or k.startswith("data-")
        )
        compact = _COMPACT.sub("", attrs.lower())
        hit = any(token in compact for token in ADD_TO_CART_TOKENS)
        if not hit and el.tag != "form":
            label = el.get("value") or el.get("aria-label") or el.text_content()
            label = _SPACES.sub(" ", label or "").strip().lower()
            hit = bool(label) and len(label) <= _MAX_CONTROL_TEXT
            hit = hit and any(p in label for p in ADD_TO_CART_PHRASES)
        if hit:
            count += 1
            if count >= limit:
                break
    return count


def _visible_text_nodes(doc: HtmlElement) -> Iterable[tuple[HtmlElement, str]]:
    """(element, its own text) for text outside scripts, styles and templates."""
    for el in doc.iter():
        if not isinstance(el.tag, str) or el.tag in _SKIP_TEXT:
            continue
        if el.text and el.text.strip():
            yield el, el.text
        parent = el.getparent()
        if el.tail and el.tail.strip() and parent is not None and parent.tag not in _SKIP_TEXT:
            yield parent, el.tail


def _amount(match: re.Match[str]) -> str:
    raw = match.group("a") or match.group("b") or ""
    return re.sub(r"[\s\u00a0']", "", raw)


def _has_price(text: str) -> bool:
    return _PRICE_RE.search(text) is not None


def _card_groups(doc: HtmlElement) -> tuple[int, int]:
    """The largest group of alike sibling blocks (same tag and class) where each holds a link
    and a price, and where each holds a link and an image: a product grid's cards."""
    best_price = best_image = 0
    for parent in doc.iter():
        if not isinstance(parent.tag, str) or parent.tag in _SKIP_TEXT:
            continue
        children = [c for c in parent if isinstance(c.tag, str)]
        if len(children) < 3:
            continue
        groups: Counter[tuple[str, str]] = Counter(
            (c.tag, (c.get("class") or "").strip()) for c in children
        )
        for signature, size in groups.items():
            if size < 3:
                continue
            members = [c for c in children if (c.tag, (c.get("class") or "").strip()) == signature]
            with_link = [m for m in members if m.tag == "a" or m.find(".//a") is not None]
            if len(with_link) < 3:
                continue
            priced = sum(1 for m in with_link if _has_price(m.text_content()[:2000]))
            imaged = sum(1 for m in with_link if m.find(".//img") is not None)
            if priced >= 3:
                best_price = max(best_price, priced)
            if imaged >= 3:
                best_image = max(best_image, imaged)
    return best_price, best_image


def html_features(doc: HtmlElement) -> dict[str, float]:
    """The page features of one parsed page (see :data:`FEATURE_NAMES`)."""
    out: dict[str, float] = {}
    out.update(_jsonld_features(doc))
    out.update(_microdata_features(doc))

    amounts: list[str] = []
    text_chars = paragraph_chars = 0
    for el, text in _visible_text_nodes(doc):
        text_chars += len(text.strip())
        if el.tag == "p":
            paragraph_chars += len(text.strip())
        if text_chars > _MAX_TEXT_CHARS:
            break
        amounts.extend(_amount(m) for m in _PRICE_RE.finditer(text))
    out["distinct_prices"] = _log(len(set(amounts)))
    out["price_mentions"] = _log(len(amounts))
    card_price, card_image = _card_groups(doc)
    out["card_repeat"] = _log(card_price)
    out["card_repeat_any"] = _log(card_image)

    names = " ".join(
        (el.get("name") or "") + " " + (el.get("id") or "") + " " + (el.get("class") or "")
        for el in doc.xpath("//input | //select")
    ).lower()
    out["quantity_input"] = 1.0 if ("qty" in names or "quantity" in names) else 0.0
    sort_attrs = " ".join(
        " ".join(el.attrib.values()) for el in doc.xpath("//select | //*[@role='listbox']")
    ).lower()
    out["sort_control"] = 1.0 if any(w in sort_attrs for w in _SORT_WORDS) else 0.0
    pager = doc.xpath(
        "//link[@rel='next' or @rel='prev'] | //a[@rel='next' or @rel='prev']"
        " | //*[contains(@class, 'pagination') or contains(@class, 'pager')]"
    )
    out["pagination"] = 1.0 if pager else 0.0
    out["text_chars"] = _log(text_chars) / 10
    out["links"] = _log(len(doc.xpath("//a[@href]"))) / 5
    out["paragraph_chars"] = _log(paragraph_chars) / 10
    carts = count_add_to_cart(doc)
    out["add_to_cart"] = _log(carts)
    out["one_product"] = float(
        0 < out["ld_product"] <= math.log1p(1) and out["ld_list"] == 0 and out["card_repeat"] == 0
    )
    out["one_cart"] = float(1 <= carts <= 2)
    out["few_prices"] = float(1 <= len(set(amounts)) <= 4)
    out.update(script_features(doc))
    return out


def feature_dict(url: str, doc: HtmlElement | None) -> dict[str, float]:
    """Every feature by name; the page features are absent (0) without HTML."""
    values = url_features(url)
    if doc is not None:
        values.update(html_features(doc))
        values["has_html"] = 1.0
    return {name: float(values.get(name, 0.0)) for name in FEATURE_NAMES}


def page_features(url: str, doc: HtmlElement | None) -> list[float]:
    """The feature vector in :data:`FEATURE_NAMES` order."""
    return list(feature_dict(url, doc).values())


URL_FEATURE_NAMES: tuple[str, ...] = tuple(n for n in FEATURE_NAMES if n.startswith("url_"))


def page_title(doc: HtmlElement) -> str | None:
    """The page's ``<title>``, or its ``og:title`` when the title is empty.

    A ``<title>`` inside an inline ``<svg>`` names the icon ("LinkedIn", "Search"), not the
    page: on a page without a head title it would otherwise stand in for the page's own."""
    titles = doc.xpath("//title[not(ancestor::svg)]")
    title = titles[0].text_content() if titles else None
    if not title or not title.strip():
        og = doc.xpath('//meta[@property="og:title"]/@content')
        title = str(og[0]) if og else None
    return " ".join(title.split()) if title and title.strip() else None


def page_input(url: str, doc: HtmlElement, title: str | None = None) -> PageInput:
    """What the page layer embeds of a parsed page: its own title (``title`` when it has
    none), heading, description, lead and button labels. Serving, training and the bench
    build it here, so the head is trained on exactly what it is served."""
    return PageInput.from_url(
        url,
        page_title(doc) or title,
        heading=page_heading(doc),
        description=page_description(doc),
        lead=page_lead(doc),
        controls=page_controls(doc),
    )


def page_heading(doc: HtmlElement) -> str | None:
    """The page's first ``<h1>`` (or two), as the encoder reads it."""
    texts = [" ".join(h.text_content().split()) for h in doc.xpath("//h1")[:2]]
    text = " ".join(t for t in texts if t)[:200]
    return text or None


def page_description(doc: HtmlElement) -> str | None:
    """The page's meta description (or ``og:description``)."""
    found = doc.xpath(
        '//meta[@name="description"]/@content | //meta[@property="og:description"]/@content'
    )
    text = " ".join(str(found[0]).split())[:300] if found else ""
    return text or None


_LEAD_CHARS = 300
_LEAD_LEVELS = 6
_MAX_CONTROLS = 12
_MAX_CONTROL_LABEL = 40


def _visible_text(el: HtmlElement, limit: int) -> str:
    """The visible text of ``el`` (scripts, styles and templates skipped), about ``limit``
    characters at most, whitespace collapsed."""
    parts: list[str] = []
    total = 0
    for node in el.iter():
        if not isinstance(node.tag, str) or node.tag in _SKIP_TEXT:
            continue
        if node.text and node.text.strip():
            parts.append(node.text.strip())
            total += len(node.text)
        if total > limit:
            break
    return _SPACES.sub(" ", " ".join(parts))


def page_lead(doc: HtmlElement) -> str | None:
    """The opening text of the block around the first ``<h1>``: the smallest ancestor (up to
    six levels) with 300 characters of visible text. On a product page it holds the price, the
    options and the buy button; on a grid the sort and filter controls and the first cards; on
    an article the byline."""
    headings = doc.xpath("//h1")
    if not headings:
        return None
    block = headings[0]
    for _ in range(_LEAD_LEVELS):
        parent = block.getparent()
        if parent is None or parent.tag in ("body", "html"):
            break
        block = parent
        if len(_visible_text(block, 2 * _LEAD_CHARS)) >= _LEAD_CHARS:
            break
    text = _visible_text(block, 2 * _LEAD_CHARS)[:_LEAD_CHARS]
    return text or None


def page_controls(doc: HtmlElement) -> str | None:
    """The first distinct button labels of the page (lower case, comma-separated): "add to
    cart", "size guide" on a product page, "sort by", "load more" on a grid."""
    seen: list[str] = []
    for el in doc.xpath("//button | //input[@type='submit'] | //*[@role='button']"):
        label = el.get("value") or el.get("aria-label") or el.text_content() or ""
        label = _SPACES.sub(" ", label).strip().lower()
        if label and len(label) <= _MAX_CONTROL_LABEL and label not in seen:
            seen.append(label)
            if len(seen) >= _MAX_CONTROLS:
                break
    return ", ".join(seen) or None
