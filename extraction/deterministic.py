"""The deterministic extractor: page -> product, with no network and no model.

:func:`extract_deterministic` parses the HTML once with lxml, reads the structured data
(:mod:`extraction.structured`), walks the visible page once (:mod:`extraction.heuristics`)
and merges the two, field by field (:mod:`extraction.field_merge`), in this order of trust:

========================  ==========  ================================================
source                    confidence  used for
========================  ==========  ================================================
JSON-LD Product           0.95        every field it has
microdata Product         0.9         every field it has
OpenGraph / product meta  0.7-0.8     title, description, image, price, currency,
                                      availability, brand, identifiers
loose ``itemprop``        0.7         price, currency, availability, identifiers
visible page heuristics   0.35-0.7    what is still missing (extraction.heuristics)
========================  ==========  ================================================

Deliberate rules beyond "first source wins":

* When the page prints an SKU under a label ("Article no.") in the product's region and the
  markup's SKU appears nowhere in the visible text, the printed one wins: the buyer sees it,
  the hidden one is often an internal id.
* Availability is "in stock" when any variant of the product is (a shoe with one size left
  is in stock). When nothing says anything about stock but the page shows a current price
  and no out-of-stock message near the product, the product is reported in stock with
  confidence 0.4: the page offers it for sale (the public benchmark's convention too), and
  the low confidence sends the field to the LLM step when one is configured.
* A retailer id (``product:retailer_item_id``) that is a valid GTIN is the GTIN, not the SKU.
* With several offers (one per variant), the price is the offer's the page address selects
  (``?variant=``, ``?sku=``: the offer's own URL parameters or sku/gtin), else the first.
* A price only the page's inline scripts hold is used when nothing else gave one (0.3-0.35).
* The canonical URL is ``<link rel=canonical>``, else ``og:url``, when on the same site
  (host, ignoring ``www.``), else the page address; always through
  :func:`buyhive.product.urls.canonicalize_url` (tracking parameters dropped).

Currency comes from the structured data, the price's own symbol or code, or the page's
locale (``<html lang>``, ``og:locale``, the content-language meta; the country-code TLD only
as a weak hint, confidence 0.25). It is never assumed: a page with none of these has no
currency. How shared symbols resolve (``$``, ``kr``, ``¥``) is documented in
:mod:`extraction.normalize`.

Any input returns a result: garbage, binary junk, NUL bytes, a 2 MB page, JSON-LD nested
10,000 levels deep. The worst case is an all-null product with ``diagnostics`` saying why.
"""

from __future__ import annotations

import re
from typing import Any

import structlog
from lxml import etree

from buyhive.product.text import clean_text
from buyhive.product.urls import CanonicalUrl
from extraction.field_merge import (
    fill_availability,
    fill_description,
    fill_from_text,
    fill_identifiers,
    fill_images,
    fill_price,
    fill_price_from_scripts,
    fill_title,
    fill_variant,
    set_canonical,
)
from extraction.heuristics import (
    Anchor,
    build_page_text,
    find_buy_buttons,
    find_title_anchor,
    place_streamed_segments,
    title_hints,
)
from extraction.heuristics.page_text import fold_for_match, site_folds
from extraction.normalize import PageLocale, absolute_url, parse_locale
from extraction.structured import StructuredData, extract_structured, select_product
from extraction.types import ExtractionResult

logger = structlog.get_logger(__name__)

__all__ = [
    "MAX_HTML_CHARS",
    "MAX_TEXT_CHARS",
    "MAX_TITLE_CHARS",
    "document_title",
    "extract_deterministic",
]

#: Longer HTML is cut (the API refuses more than 2 MB before it gets here).
MAX_HTML_CHARS = 4_000_000
#: Longer text is cut (the API refuses more than 200,000 characters).
MAX_TEXT_CHARS = 400_000
#: A document title is read up to this many characters (the API refuses more than 1,000).
MAX_TITLE_CHARS = 300
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
# lxml's plain HTML parser: its elements need no Python-level class lookup (lxml.html's do),
# which makes walking a large page noticeably faster. libxml2 drops NUL bytes and control
# characters, survives binary junk, and stops nesting at 256 levels.
_PARSER = etree.HTMLParser(
    recover=True, no_network=True, remove_comments=True, remove_pis=True, default_doctype=False
)


def extract_deterministic(
    *,
    url: str | CanonicalUrl,
    html: str | bytes | None = None,
    text: str | None = None,
    title: str | None = None,
) -> ExtractionResult:
    """Extract the product from a page's HTML and/or its visible text. Never raises.

    ``url`` is the page's address, or a :class:`~buyhive.product.urls.CanonicalUrl` when the
    caller has canonicalised it already (the page address's canonical form is then reused).
    ``title`` is the page's document title as the browser shows it: the extension sends it
    beside the body's text, which does not hold it. The text is read with it, and with the
    HTML's own ``<title>`` when there is HTML.
    """
    address, page_url = (url, url.url) if isinstance(url, CanonicalUrl) else (None, url)
    try:
        return _extract(page_url, html, text, address, title)
    except Exception:  # noqa: BLE001 - the contract is "any input gives a result"
        logger.warning("extraction_failed", url=str(page_url)[:300], exc_info=True)
        result = ExtractionResult()
        result.diagnostics.append("internal_error")
        set_canonical(
            result, page_url if isinstance(page_url, str) else "", None, None, address=address
        )
        return result


# --------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------


def _decode(html: str | bytes | None) -> str | None:
    if isinstance(html, (bytes, bytearray)):
        from w3lib.encoding import html_to_unicode

        raw = bytes(html[: MAX_HTML_CHARS * 2])
        try:
            _, html = html_to_unicode(None, raw)
        except (LookupError, ValueError):
            html = raw.decode("utf-8", errors="replace")
    if not isinstance(html, str):
        return None
    html = html[:MAX_HTML_CHARS]
    return html if html.strip() else None


def _parse(html: str) -> Any | None:
    """The page's root element, or None when there is nothing to parse."""
    # A str with an XML encoding declaration is refused by lxml; the declaration is moot here.
    html = _XML_DECL_RE.sub("", html, count=1)
    for attempt in (html, None):
        if attempt is None:
            # Last resort for input libxml2 refuses outright: strip what it cannot take.
            attempt = _CONTROL_RE.sub(" ", html)
            attempt = attempt.encode("utf-8", errors="replace").decode("utf-8")
        try:
            root = etree.fromstring(attempt, _PARSER)
        except (etree.ParserError, etree.XMLSyntaxError, ValueError, TypeError):
            continue
        if root is not None:
            return root
    return None


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def _extract(
    url: str,
    html: str | bytes | None,
    text: str | None,
    address: CanonicalUrl | None,
    title: str | None,
) -> ExtractionResult:
    url = url.strip() if isinstance(url, str) else ""
    result = ExtractionResult()
    source = _decode(html)
    tree = _parse(source) if source else None
    if source and tree is None:
        result.diagnostics.append("html_unparsable")
    plain = text if isinstance(text, str) and text.strip() else None
    if plain is not None:
        plain = _CONTROL_RE.sub(" ", plain[:MAX_TEXT_CHARS])
    given_title = clean_text(title, max_length=MAX_TITLE_CHARS) if isinstance(title, str) else None

    if tree is None:
        locale = parse_locale(None, url=url)
        result.locale = locale.tag
        if plain is not None:
            fill_from_text(result, plain, url=url, locale=locale, title=given_title)
        set_canonical(result, url, None, None, address=address)
        return result

    base_url = _base_url(tree, url)
    data = extract_structured(tree, base_url=base_url)
    if data.jsonld_invalid:
        result.diagnostics.append("jsonld_invalid")
    locale = _page_locale(tree, data, url)
    result.locale = locale.tag

    doc_title = document_title(tree)
    hints = title_hints(
        data.meta.first("og:title"),
        doc_title,
        data.meta.first("twitter:title"),
        site_name=data.meta.first("og:site_name"),
    )
    product = select_product(
        data.nodes,
        base_url=base_url,
        page_url=url,
        page_urls=_page_urls(tree, data, url, base_url),
        page_titles=hints,
    )
    if product is not None and product.values.get("title"):
        hints = title_hints(product.values["title"]) + hints
    place_streamed_segments(tree)
    page = build_page_text(tree, title_hints=hints)
    anchor = find_title_anchor(tree, page, hints, site_names=_site_names(url, data))
    if anchor is not None:
        page.title_path = frozenset([anchor.element, *anchor.element.iterancestors()])
        page.title_folded = fold_for_match(anchor.text)
    window = (anchor.index - 300, anchor.index + 3000) if anchor is not None else None
    buttons = find_buy_buttons(page, window=window)
    buy_index = _first_button_after(buttons, anchor)
    region = _product_region(anchor, buy_index, len(page.order))

    fill_title(result, product, data, anchor, doc_title)
    fill_price(result, product, data, page, locale, anchor, buy_index, page_url=url)
    if result.product["price"] is None and plain is None:
        fill_price_from_scripts(result, tree, data, locale, page)
    fill_availability(result, product, data, page, buttons, region)
    fill_identifiers(result, product, data, page, region, url, source, tree=tree,
                     anchor=anchor, buttons=buttons, buy_index=buy_index)  # fmt: skip
    fill_description(result, product, data)
    fill_images(result, product, data, tree, page, base_url, anchor)
    fill_variant(result, product)
    set_canonical(result, url, data, base_url, tree, address=address)

    if result.product["price"] is None and plain is not None:
        # The HTML gave no price (a shell page rendered by scripts): try the visible text.
        text_title = doc_title or given_title
        fill_from_text(result, plain, url=url, locale=locale, title=text_title, only_missing=True)
    return result


def _base_url(tree: Any, url: str) -> str | None:
    for base in tree.iter("base"):
        href = base.get("href")
        if href:
            resolved = absolute_url(href, url or None)
            if resolved:
                return resolved
        break
    return url or None


def document_title(tree: Any) -> str | None:
    """The page's ``<title>`` as a browser shows it (``document.title``: an SVG's is a
    tooltip), its spaces folded, cut at :data:`MAX_TITLE_CHARS`; None when it has none."""
    for title in tree.iter("title"):
        parent = title.getparent()
        if parent is not None and parent.tag in ("svg", "symbol", "g"):
            continue
        text = clean_text("".join(title.itertext()), max_length=MAX_TITLE_CHARS)
        if text:
            return text
    return None


def _page_locale(tree: Any, data: StructuredData, url: str) -> PageLocale:
    meta = data.meta
    declared = (
        tree.get("lang")
        or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
        or tree.get("xml:lang")
    )
    locale = parse_locale(declared, url=url)
    for value in (
        meta.first("og:locale"),
        meta.http_equiv.get("content-language"),
        meta.first("language", "content-language", "dc.language"),
    ):
        if value:
            locale = locale.with_fallback(parse_locale(value.split(",")[0], url=url))
    return locale


def _site_names(url: str, data: StructuredData) -> frozenset[str]:
    """The site's names, folded: its host (whole and its name alone) and ``og:site_name``."""
    names = set(site_folds(url) or ())
    site_name = data.meta.first("og:site_name")
    if site_name:
        names.add(fold_for_match(site_name))
    return frozenset(n for n in names if len(n) >= 3)


def _page_urls(tree: Any, data: StructuredData, url: str, base_url: str | None) -> list[str]:
    urls = [url] if url else []
    for link in tree.iter("link"):
        if (link.get("rel") or "").strip().lower() == "canonical":
            resolved = absolute_url(link.get("href"), base_url)
            if resolved:
                urls.append(resolved)
            break
    og_url = absolute_url(data.meta.first("og:url"), base_url)
    if og_url:
        urls.append(og_url)
    return urls


def _first_button_after(buttons: list[Any], anchor: Anchor | None) -> int | None:
    active = [b for b in buttons if b.active] or buttons
    if not active:
        return None
    if anchor is None:
        return active[0].index
    after = [b.index for b in active if b.index >= anchor.index]
    if after:
        return after[0]
    return active[-1].index


def _product_region(
    anchor: Anchor | None, buy_index: int | None, size: int
) -> tuple[int, int] | None:
    """Element indexes around the title and buy button where the product's own data lives."""
    if anchor is None and buy_index is None:
        return None
    start = min(i for i in (anchor.index if anchor else None, buy_index) if i is not None)
    end = max(i for i in (anchor.index if anchor else None, buy_index) if i is not None)
    return (max(0, start - 150), min(size, end + 600))
