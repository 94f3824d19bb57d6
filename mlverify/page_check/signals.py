"""Page signals: cheap structural hints in the HTML that a page sells one product, or is an
article (schema.org types in JSON-LD, microdata or RDFa; Open Graph; prices; add-to-cart)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import lxml.html
from lxml import etree
from lxml.html import HtmlElement
from w3lib.encoding import html_to_unicode

from buyhive.product.jsonld import (
    OFFER_TYPES,
    PRODUCT_TYPES,
    has_offers,
    read_jsonld_scripts,
    top_level_nodes,
    type_name,
)
from mlverify.page_check.features import count_add_to_cart

# Editorial content: the schema.org types and Open Graph types of articles, and the meta tags
# that state a price. The product and offer types are the shared vocabulary's.
# fmt: off
_ARTICLE_TYPES = frozenset({
    "analysisnewsarticle", "article", "backgroundnewsarticle", "blog", "blogposting",
    "liveblogposting", "newsarticle", "opinionnewsarticle", "report", "reportagenewsarticle",
    "reviewnewsarticle", "scholarlyarticle", "socialmediaposting", "techarticle",
})
# fmt: on
_OG_PRODUCT = frozenset({"product", "product.item", "product.group", "og:product", "product.sku"})
_OG_ARTICLE = frozenset({"article", "blog", "news", "article.news"})
# fmt: off
_PRICE_META = frozenset({
    "og:price:amount", "product:price", "product:price:amount", "product:sale_price:amount",
})
# fmt: on


@dataclass(frozen=True)
class PageSignals:
    """Cheap structural hints that a page sells one product (or is an article)."""

    product_structured: bool = False  # schema.org Product in JSON-LD, microdata or RDFa
    og_product: bool = False  # <meta property="og:type" content="product">
    offers: bool = False  # an Offer, a price itemprop or product:price meta
    add_to_cart: bool = False  # a button/form that puts the item in a cart
    article_structured: bool = False  # Article/NewsArticle/BlogPosting, or og:type article

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PageSignals:
        """Accept a signals dict (e.g. from extraction, which parsed the page already)."""
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: bool(data.get(k)) for k in names})

    def as_dict(self) -> dict[str, bool]:
        return {k: bool(getattr(self, k)) for k in self.__dataclass_fields__}

    @property
    def any(self) -> bool:
        return any(self.as_dict().values())


def parse_html(html: str | bytes) -> HtmlElement | None:
    """Parse HTML once (bytes decoded by their declared charset); None when it is not HTML."""
    if isinstance(html, bytes):
        _, html = html_to_unicode(None, html)
    if not html or not html.strip():
        return None
    try:
        return lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return None


def extract_page_signals(html: str | bytes | HtmlElement) -> PageSignals:
    """Find the product/article signals in one lxml parse of the page."""
    doc = parse_html(html) if isinstance(html, str | bytes) else html
    if doc is None:
        return PageSignals()
    product = og_product = offers = add_to_cart = article = False

    values, _invalid = read_jsonld_scripts(doc)
    for kind, obj in top_level_nodes(values):
        if kind in PRODUCT_TYPES:
            product = True
            offers = offers or has_offers(obj)
        elif kind in _ARTICLE_TYPES:
            article = True
        elif kind in OFFER_TYPES:
            offers = True
        elif has_offers(obj) and kind not in {"event", "organization", "website"}:
            offers = True  # a Service, a Course... sold with an Offer

    for node in doc.xpath("//*[@itemtype or @typeof]"):
        for value in (node.get("itemtype") or "", node.get("typeof") or ""):
            for token in value.split():
                kind = type_name(token.rstrip("/"))
                if kind in PRODUCT_TYPES:
                    product = True
                elif kind in OFFER_TYPES:
                    offers = True
                elif kind in _ARTICLE_TYPES:
                    article = True
    if doc.xpath(
        '//*[@itemprop="price" or @itemprop="lowPrice" or @property="product:price:amount"]'
    ):
        offers = True

    for meta in doc.xpath("//meta[@property or @name]"):
        key = (meta.get("property") or meta.get("name") or "").strip().lower()
        content = (meta.get("content") or "").strip().lower()
        if key == "og:type":
            og_product = og_product or content in _OG_PRODUCT
            article = article or content in _OG_ARTICLE
        elif key in _PRICE_META and content:
            offers = True

    add_to_cart = count_add_to_cart(doc, limit=1) > 0
    return PageSignals(
        product_structured=product,
        og_product=og_product,
        offers=offers,
        add_to_cart=add_to_cart,
        article_structured=article,
    )
