"""The deterministic extractor: page -> product, with no network and no model.

:func:`extract_deterministic` parses the HTML once with lxml, reads the structured data
(:mod:`extraction.structured`), walks the visible page once (:mod:`extraction.heuristics`)
and merges the two, field by field, in this order of trust:

========================  ==========  ================================================
source                    confidence  used for
========================  ==========  ================================================
JSON-LD Product           0.95        every field it has
microdata Product         0.9         every field it has
OpenGraph / product meta  0.7-0.8     title, description, image, price, currency,
                                      availability, brand, identifiers
loose ``itemprop``        0.7         price, currency, availability, identifiers
visible page heuristics   0.35-0.7    what is still missing (see heuristics.py)
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
from urllib.parse import urlsplit

import structlog
from lxml import etree

from buyhive.product.text import clean_text
from buyhive.product.urls import CanonicalUrl, canonicalize_url
from extraction.heuristics import (
    Anchor,
    Guess,
    PageText,
    build_page_text,
    detect_availability,
    extract_from_text,
    find_buy_buttons,
    find_labelled,
    find_title_anchor,
    has_out_of_stock_message,
    pick_price,
    title_hints,
    url_identifier,
)
from extraction.normalize import (
    PageLocale,
    absolute_url,
    clean_identifier,
    currency_for_country,
    normalize_availability,
    normalize_gtin,
    parse_locale,
    parse_price_value,
    resolve_currency,
)
from extraction.structured import (
    OfferInfo,
    ProductNode,
    StructuredData,
    extract_structured,
    select_product,
)
from extraction.types import Candidate, ExtractionResult, Source

logger = structlog.get_logger(__name__)

__all__ = ["MAX_HTML_CHARS", "MAX_TEXT_CHARS", "extract_deterministic"]

#: Longer HTML is cut (the API refuses more than 2 MB before it gets here).
MAX_HTML_CHARS = 4_000_000
#: Longer text is cut (the API refuses more than 200,000 characters).
MAX_TEXT_CHARS = 400_000
MAX_IMAGES = 20

_CONFIDENCE = {"json-ld": 0.95, "microdata": 0.9}
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
# lxml's plain HTML parser: its elements need no Python-level class lookup (lxml.html's do),
# which makes walking a large page noticeably faster. libxml2 drops NUL bytes and control
# characters, survives binary junk, and stops nesting at 256 levels.
_PARSER = etree.HTMLParser(
    recover=True, no_network=True, remove_comments=True, remove_pis=True, default_doctype=False
)


def extract_deterministic(
    *, url: str | CanonicalUrl, html: str | bytes | None = None, text: str | None = None
) -> ExtractionResult:
    """Extract the product from a page's HTML and/or its visible text. Never raises.

    ``url`` is the page's address, or a :class:`~buyhive.product.urls.CanonicalUrl` when the
    caller has canonicalised it already (the page address's canonical form is then reused).
    """
    address, page_url = (url, url.url) if isinstance(url, CanonicalUrl) else (None, url)
    try:
        return _extract(page_url, html, text, address)
    except Exception:  # noqa: BLE001 - the contract is "any input gives a result"
        logger.warning("extraction_failed", url=str(page_url)[:300], exc_info=True)
        result = ExtractionResult()
        result.diagnostics.append("internal_error")
        _set_canonical(
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
    url: str, html: str | bytes | None, text: str | None, address: CanonicalUrl | None
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

    if tree is None:
        locale = parse_locale(None, url=url)
        result.locale = locale.tag
        if plain is not None:
            _fill_from_text(result, plain, url=url, locale=locale)
        _set_canonical(result, url, None, None, address=address)
        return result

    base_url = _base_url(tree, url)
    data = extract_structured(tree, base_url=base_url)
    if data.jsonld_invalid:
        result.diagnostics.append("jsonld_invalid")
    locale = _page_locale(tree, data, url)
    result.locale = locale.tag

    doc_title = _document_title(tree)
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
    page = build_page_text(tree, title_hints=hints)
    anchor = find_title_anchor(tree, page, hints)
    window = (anchor.index - 300, anchor.index + 3000) if anchor is not None else None
    buttons = find_buy_buttons(page, window=window)
    buy_index = _first_button_after(buttons, anchor)
    region = _product_region(anchor, buy_index, len(page.order))

    _fill_title(result, product, data, anchor, doc_title)
    _fill_price(result, product, data, page, locale, anchor, buy_index)
    _fill_availability(result, product, data, page, buttons, region)
    _fill_identifiers(result, product, data, page, region, url, source)
    _fill_description(result, product, data)
    _fill_images(result, product, data, tree, page, base_url, anchor)
    if product is not None and product.values.get("variant"):
        result.set(
            "variant",
            Candidate(product.values["variant"], product.source, _CONFIDENCE[product.source]),
        )
    _set_canonical(result, url, data, base_url, tree, address=address)

    if result.product["price"] is None and plain is not None:
        # The HTML gave no price (a shell page rendered by scripts): try the visible text.
        _fill_from_text(result, plain, url=url, locale=locale, only_missing=True)
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


def _document_title(tree: Any) -> str | None:
    for title in tree.iter("title"):
        parent = title.getparent()
        if parent is not None and parent.tag in ("svg", "symbol", "g"):
            continue
        text = clean_text("".join(title.itertext()), max_length=300)
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


# --------------------------------------------------------------------------------------------
# Fields
# --------------------------------------------------------------------------------------------


def _source_conf(product: ProductNode) -> tuple[Source, float]:
    base = _CONFIDENCE.get(product.source, 0.85)
    if not product.is_product_type:
        base -= 0.15
    return product.source, base


def _fill_title(
    result: ExtractionResult,
    product: ProductNode | None,
    data: StructuredData,
    anchor: Anchor | None,
    doc_title: str | None,
) -> None:
    if product is not None and product.values.get("title"):
        source, conf = _source_conf(product)
        result.set("title", Candidate(product.values["title"], source, conf))
        return
    og_title = clean_text(data.meta.first("og:title"), max_length=300)
    if anchor is not None and anchor.score >= 0.55:
        result.set("title", Candidate(clean_text(anchor.text, max_length=300), "heuristic", 0.75))
    elif og_title:
        result.set("title", Candidate(og_title, "opengraph", 0.7))
    elif anchor is not None:
        result.set("title", Candidate(clean_text(anchor.text, max_length=300), "heuristic", 0.6))
    elif doc_title:
        first = title_hints(doc_title)
        result.set("title", Candidate(first[1] if len(first) > 1 else doc_title, "heuristic", 0.4))


def _offer_choice(product: ProductNode) -> OfferInfo | None:
    offers = [o for o in product.offers if o.price is not None]
    if not offers:
        return None
    return offers[0]


def _fill_price(
    result: ExtractionResult,
    product: ProductNode | None,
    data: StructuredData,
    page: PageText,
    locale: PageLocale,
    anchor: Anchor | None,
    buy_index: int | None,
) -> None:
    meta = data.meta
    price: Candidate | None = None
    currency: Candidate | None = None

    offer = _offer_choice(product) if product is not None else None
    if product is not None and offer is not None:
        source, conf = _source_conf(product)
        if offer.aggregate:
            conf -= 0.1
        price = Candidate(offer.price, source, conf)
        iso = resolve_currency(offer.currency_raw, locale)
        if iso is None:
            iso = next(
                (
                    resolve_currency(o.currency_raw, locale)
                    for o in product.offers
                    if resolve_currency(o.currency_raw, locale)
                ),
                None,
            )
        if iso:
            currency = Candidate(iso, source, conf)

    if price is None:
        for amount_key, currency_key in (
            ("product:sale_price:amount", "product:sale_price:currency"),
            ("product:price:amount", "product:price:currency"),
            ("og:price:amount", "og:price:currency"),
            ("product:price", "product:price:currency"),
        ):
            amount = parse_price_value(meta.first(amount_key))
            if amount:
                price = Candidate(amount, "opengraph", 0.8)
                iso = resolve_currency(meta.first(currency_key), locale)
                if iso:
                    currency = Candidate(iso, "opengraph", 0.8)
                break

    if price is None and data.loose.get("price"):
        raw = data.loose.get("price") or data.loose.get("lowprice")
        iso = resolve_currency(data.loose.get("pricecurrency"), locale)
        amount = parse_price_value(raw, currency=iso)
        if amount:
            price = Candidate(amount, "microdata", 0.7)
            if iso:
                currency = Candidate(iso, "microdata", 0.7)

    if price is None:
        guess = pick_price(
            page,
            locale=locale,
            title_index=anchor.index if anchor else None,
            buy_index=buy_index,
        )
        if guess is not None:
            price = Candidate(guess.value, "heuristic", guess.confidence)
            iso = resolve_currency(guess.symbol, locale) if guess.symbol else None
            if iso:
                currency = Candidate(iso, "heuristic", min(0.7, guess.confidence + 0.05))

    if price is not None and currency is None:
        currency = _currency_fallback(data, locale)

    result.set("price", price)
    result.set("currency", currency if price is not None else None)


def _currency_fallback(data: StructuredData, locale: PageLocale) -> Candidate | None:
    """A currency when the price came without one: other markup, then the page locale."""
    for key in ("product:price:currency", "og:price:currency", "product:sale_price:currency"):
        iso = resolve_currency(data.meta.first(key), locale)
        if iso:
            return Candidate(iso, "opengraph", 0.7)
    iso = resolve_currency(data.loose.get("pricecurrency"), locale)
    if iso:
        return Candidate(iso, "microdata", 0.65)
    if locale.country:
        iso = currency_for_country(locale.country)
        if iso:
            return Candidate(iso, "heuristic", 0.4)
    if locale.tld_country:
        iso = currency_for_country(locale.tld_country)
        if iso:
            return Candidate(iso, "heuristic", 0.25)
    return None


def _fill_availability(
    result: ExtractionResult,
    product: ProductNode | None,
    data: StructuredData,
    page: PageText,
    buttons: list[Any],
    region: tuple[int, int] | None,
) -> None:
    if product is not None:
        terms = [o.availability for o in product.offers if o.availability]
        for sibling in product.siblings:
            terms.extend(o.availability for o in sibling.get("offers", ()) if o.availability)
        if terms:
            source, conf = _source_conf(product)
            best = "InStock" if "InStock" in terms else terms[0]
            result.set("availability", Candidate(best, source, conf))
            return
    term = normalize_availability(
        data.meta.first("product:availability", "og:availability", "availability")
    )
    if term:
        result.set("availability", Candidate(term, "opengraph", 0.75))
        return
    term = normalize_availability(data.loose.get("availability"))
    if term:
        result.set("availability", Candidate(term, "microdata", 0.7))
        return
    guess = detect_availability(page, buttons=buttons, region=region)
    if guess is not None:
        result.set("availability", Candidate(guess.value, "heuristic", guess.confidence))
        return
    if result.product["price"] is not None and not has_out_of_stock_message(page, region):
        # A current price and no out-of-stock message: the page offers the product for sale.
        # Low confidence, so the LLM step is asked when it is configured.
        result.set("availability", Candidate("InStock", "heuristic", 0.4))


def _visible(value: str, page: PageText) -> bool:
    return value in page.text


def _fill_identifiers(
    result: ExtractionResult,
    product: ProductNode | None,
    data: StructuredData,
    page: PageText,
    region: tuple[int, int] | None,
    url: str,
    html: str | None,
) -> None:
    meta = data.meta
    values = product.values if product is not None else {}
    source, conf = _source_conf(product) if product is not None else ("heuristic", 0.0)

    # GTIN
    gtin: Candidate | None = None
    if values.get("gtin"):
        gtin = Candidate(values["gtin"], source, conf)
    if gtin is None:
        for key in ("product:ean", "product:gtin", "product:upc", "product:isbn", "og:upc",
                    "og:ean", "product:retailer_item_id", "og:sku"):  # fmt: skip
            value = normalize_gtin(meta.first(key))
            if value:
                gtin = Candidate(value, "opengraph", 0.75)
                break
    if gtin is None:
        value = normalize_gtin(data.loose.get("gtin13") or data.loose.get("gtin"))
        if value:
            gtin = Candidate(value, "microdata", 0.7)
    if gtin is None:
        found = find_labelled(page, "gtin", region=region, limit=1)
        if found:
            gtin = Candidate(found[0].value, "heuristic", 0.6)
    result.set("gtin", gtin)

    # SKU
    sku: Candidate | None = None
    labelled = find_labelled(page, "sku", region=region, limit=3)
    if values.get("sku"):
        structured_sku = values["sku"]
        sku = Candidate(structured_sku, source, conf)
        if labelled and not _visible(structured_sku, page):
            printed = labelled[0]
            in_region = region is None or (
                printed.index is not None and region[0] <= printed.index <= region[1]
            )
            if in_region and printed.value != structured_sku:
                sku = Candidate(printed.value, "heuristic", 0.6)
    if sku is None:
        for key in (
            "product:retailer_item_id",
            "product:sku",
            "og:sku",
            "product:retailer_part_no",
        ):
            value = clean_identifier(meta.first(key))
            if value and not normalize_gtin(value):
                sku = Candidate(value, "opengraph", 0.75)
                break
    if sku is None and data.loose.get("sku"):
        value = clean_identifier(data.loose["sku"])
        if value:
            sku = Candidate(value, "microdata", 0.7)
    if sku is None and labelled:
        sku = Candidate(labelled[0].value, "heuristic", 0.6)
    if sku is None:
        value = url_identifier(url, html)
        if value:
            sku = Candidate(value, "heuristic", 0.35)
    result.set("sku", sku)

    # MPN
    mpn: Candidate | None = None
    if values.get("mpn"):
        mpn = Candidate(values["mpn"], source, conf)
    elif meta.first("product:mfr_part_no"):
        mpn = Candidate(clean_identifier(meta.first("product:mfr_part_no")), "opengraph", 0.75)
    elif data.loose.get("mpn"):
        mpn = Candidate(clean_identifier(data.loose["mpn"]), "microdata", 0.7)
    else:
        found = find_labelled(page, "mpn", region=region, limit=1)
        if found:
            mpn = Candidate(found[0].value, "heuristic", 0.5)
    result.set("mpn", mpn)

    # Brand
    brand: Candidate | None = None
    if values.get("brand"):
        brand = Candidate(values["brand"], source, conf)
    else:
        value = clean_text(meta.first("product:brand", "og:brand", "brand"), max_length=120)
        if value:
            brand = Candidate(value, "opengraph", 0.75)
        elif data.loose.get("brand"):
            brand = Candidate(clean_text(data.loose["brand"], max_length=120), "microdata", 0.7)
        else:
            found = find_labelled(page, "brand", region=region, limit=1)
            if found:
                brand = Candidate(found[0].value, "heuristic", 0.55)
    result.set("brand", brand)


def _fill_description(
    result: ExtractionResult, product: ProductNode | None, data: StructuredData
) -> None:
    if product is not None and product.values.get("description"):
        source, conf = _source_conf(product)
        result.set("description", Candidate(product.values["description"], source, conf))
        return
    value = clean_text(data.meta.first("og:description"))
    if value:
        result.set("description", Candidate(value, "opengraph", 0.75))
        return
    value = clean_text(data.meta.first("description", "twitter:description"))
    if value:
        result.set("description", Candidate(value, "heuristic", 0.5))


_IMG_SKIP_RE = re.compile(
    r"(?i)logo|icon|sprite|pixel|spacer|blank|placeholder|loader|loading|badge|flag|avatar|"
    r"rating|star|payment|banner|\.svg(?:$|\?)|\.gif(?:$|\?)"
)


def _basename(url: str) -> str:
    path = url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    return path.rsplit("/", 1)[-1]


def _img_src(img: Any) -> str | None:
    for attr in ("src", "data-src", "data-original", "data-lazy-src", "data-zoom-image"):
        value = img.get(attr)
        if value and not value.strip().startswith("data:"):
            return value
    srcset = img.get("srcset") or img.get("data-srcset")
    if srcset:
        return srcset.split(",")[0].strip().split(" ")[0]
    return None


def _fill_images(
    result: ExtractionResult,
    product: ProductNode | None,
    data: StructuredData,
    tree: Any,
    page: PageText,
    base_url: str | None,
    anchor: Anchor | None,
) -> None:
    images: list[str] = []
    source: Source | None = None
    conf = 0.0
    if product is not None and product.values.get("images"):
        images = list(product.values["images"])
        source, conf = _source_conf(product)
    for key in ("og:image:secure_url", "og:image", "og:image:url", "twitter:image"):
        for value in data.meta.all(key):
            resolved = absolute_url(value, base_url)
            if resolved and resolved not in images:
                if source is None:
                    source, conf = "opengraph", 0.8
                images.append(resolved)

    # Alt text for the chosen images, and the images shown next to the title. Only those
    # <img> are resolved (a page can have thousands).
    wanted = {_basename(url) for url in images}
    alts: dict[str, str | None] = {}
    near: list[tuple[str, str | None]] = []
    low = anchor.index - 200 if anchor is not None else -1
    high = anchor.index + 300 if anchor is not None else -1
    for index, img in page.images:
        src = _img_src(img)
        if not src:
            continue
        is_near = low <= index <= high
        if not is_near and _basename(src) not in wanted:
            continue
        resolved = absolute_url(src, base_url)
        if not resolved:
            continue
        alt = clean_text(img.get("alt"), max_length=300)
        alts.setdefault(resolved, alt)
        if is_near and len(near) < MAX_IMAGES:
            width = img.get("width") or ""
            if width.isdigit() and int(width) < 60:
                continue
            if _IMG_SKIP_RE.search(resolved) or _IMG_SKIP_RE.search(img.get("class") or ""):
                continue
            near.append((resolved, alt))

    if not images and near:
        images = [url for url, _ in near[:5]]
        source, conf = "heuristic", 0.45
    images = images[:MAX_IMAGES]
    if images and source is not None:
        result.set("image", Candidate(images[0], source, conf))
        result.set("images", Candidate(images, source, conf))

    candidates: list[dict[str, str | None]] = []
    seen: set[str] = set()
    for url in images:
        if url not in seen:
            seen.add(url)
            candidates.append({"url": url, "alt": alts.get(url)})
    for url, alt in near:
        if url not in seen and len(candidates) < MAX_IMAGES:
            seen.add(url)
            candidates.append({"url": url, "alt": alt})
    result.image_candidates = candidates[:MAX_IMAGES]


def _same_site(a: str, b: str) -> bool:
    try:
        host_a = (urlsplit(a).hostname or "").lower()
        host_b = (urlsplit(b).hostname or "").lower()
    except ValueError:
        return False
    if not host_a or not host_b:
        return False
    strip = lambda h: h[4:] if h.startswith("www.") else h  # noqa: E731
    host_a, host_b = strip(host_a), strip(host_b)
    return host_a == host_b or host_a.endswith("." + host_b) or host_b.endswith("." + host_a)


def _set_canonical(
    result: ExtractionResult,
    url: str,
    data: StructuredData | None,
    base_url: str | None,
    tree: Any = None,
    *,
    address: CanonicalUrl | None = None,
) -> None:
    """``<link rel=canonical>`` or ``og:url`` when on the same site, else the page address;
    canonicalised (tracking parameters dropped, see buyhive.product.urls). The page address's
    canonical form comes from ``address`` when the caller computed it."""
    candidates: list[Candidate] = []
    if tree is not None:
        for link in tree.iter("link"):
            rels = (link.get("rel") or "").lower().split()
            if "canonical" in rels:
                resolved = absolute_url(link.get("href"), base_url)
                if resolved:
                    candidates.append(Candidate(resolved, "heuristic", 0.9))
                break
    if data is not None:
        og_url = absolute_url(data.meta.first("og:url"), base_url)
        if og_url:
            candidates.append(Candidate(og_url, "opengraph", 0.8))
    page_url = absolute_url(url, None) if url else None
    for candidate in candidates:
        if page_url is None or _same_site(candidate.value, page_url):
            result.set(
                "canonical_url",
                Candidate(
                    canonicalize_url(candidate.value), candidate.source, candidate.confidence
                ),
            )
            return
    if page_url:
        canonical = address.canonical_for(page_url) if address else canonicalize_url(page_url)
        result.set("canonical_url", Candidate(canonical, "heuristic", 0.6))


def _fill_from_text(
    result: ExtractionResult,
    text: str,
    *,
    url: str,
    locale: PageLocale,
    only_missing: bool = False,
) -> None:
    guesses: dict[str, Guess] = extract_from_text(text, url=url, locale=locale)
    price = guesses.get("price")
    if price is not None and not (only_missing and result.product["price"] is not None):
        result.set("price", Candidate(price.value, "heuristic", price.confidence))
        iso = resolve_currency(price.symbol, locale) if price.symbol else None
        if iso:
            result.set("currency", Candidate(iso, "heuristic", min(0.65, price.confidence + 0.05)))
        elif locale.country or locale.tld_country:
            fallback = currency_for_country(locale.country) or currency_for_country(
                locale.tld_country
            )
            conf = 0.4 if locale.country else 0.25
            result.set("currency", Candidate(fallback, "heuristic", conf) if fallback else None)
    for name in ("availability", "sku", "gtin", "mpn", "brand"):
        guess = guesses.get(name)
        if guess is not None and result.product[name] is None:
            result.set(name, Candidate(guess.value, "heuristic", guess.confidence))
    if result.product["sku"] is None:
        value = url_identifier(url, text)
        if value:
            result.set("sku", Candidate(value, "heuristic", 0.3))
