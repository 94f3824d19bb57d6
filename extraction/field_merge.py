"""Each product field from the page's sources, in the order of trust that
:mod:`extraction.deterministic` documents (structured data, meta tags, loose itemprops, then
the visible page), with the deliberate exceptions listed there.

Every ``fill_*`` function sets one field (or a few related ones) on an
:class:`~extraction.types.ExtractionResult` and leaves a field a more trusted source already
filled alone.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from buyhive.product.text import clean_text
from buyhive.product.urls import CanonicalUrl, canonicalize_url
from extraction.heuristics import (
    Anchor,
    Button,
    Guess,
    PageText,
    address_product_id,
    buy_form_sku,
    currency_of_sign,
    detect_availability,
    extract_from_text,
    find_labelled,
    has_out_of_stock_message,
    hash_labelled_sku,
    marked_brand,
    marked_sku,
    pick_price,
    price_from_scripts,
    printed_url_identifier,
    script_sku,
    title_hints,
    url_identifier,
)
from extraction.normalize import (
    PageLocale,
    absolute_url,
    clean_identifier,
    currency_for_country,
    find_prices,
    normalize_availability,
    normalize_gtin,
    parse_price_value,
    resolve_currency,
)
from extraction.structured import OfferInfo, ProductNode, StructuredData
from extraction.types import Candidate, ExtractionResult, Source

#: At most this many product images are kept.
MAX_IMAGES = 20

#: How much a field read from the main product's structured data is trusted, by source.
_CONFIDENCE = {"json-ld": 0.95, "microdata": 0.9}


def _source_conf(product: ProductNode) -> tuple[Source, float]:
    base = _CONFIDENCE.get(product.source, 0.85)
    if not product.is_product_type:
        base -= 0.15
    return product.source, base


def fill_title(
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


def _offer_choice(product: ProductNode, page_url: str | None = None) -> OfferInfo | None:
    """The offer whose price the page shows: on a page with several offers (one per
    variant), the one the address selects (``?variant=123``, ``?sku=AB-1``: the offer's own
    address, or its sku/gtin among the address's parameters); else the first one, which is
    the variant shops show first (and select) when the address names none."""
    offers = [o for o in product.offers if o.price is not None]
    if not offers:
        return None
    if len(offers) > 1 and page_url:
        selected = _offer_for_address(offers, page_url)
        if selected is not None:
            return selected
    return offers[0]


def _offer_for_address(offers: list[OfferInfo], page_url: str) -> OfferInfo | None:
    try:
        parts = urlsplit(page_url)
    except ValueError:
        return None
    query = {v for _, v in parse_qsl(parts.query) if v}
    if not query:
        return None
    for offer in offers:
        if offer.url:
            try:
                offer_query = {v for _, v in parse_qsl(urlsplit(offer.url).query) if v}
            except ValueError:
                offer_query = set()
            if offer_query and offer_query <= query:
                return offer
        if any(ident in query for ident in offer.ids):
            return offer
    return None


def fill_price(
    result: ExtractionResult,
    product: ProductNode | None,
    data: StructuredData,
    page: PageText,
    locale: PageLocale,
    anchor: Anchor | None,
    buy_index: int | None,
    page_url: str | None = None,
) -> None:
    meta = data.meta
    price: Candidate | None = None
    currency: Candidate | None = None

    offer = _offer_choice(product, page_url) if product is not None else None
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
            iso = currency_of_sign(guess.symbol, locale, page.text)
            if iso:
                currency = Candidate(iso, "heuristic", min(0.7, guess.confidence + 0.05))

    if price is not None and currency is None:
        currency = _currency_fallback(data, locale)

    result.set("price", price)
    result.set("currency", currency if price is not None else None)


def fill_price_from_scripts(
    result: ExtractionResult,
    tree: Any,
    data: StructuredData,
    locale: PageLocale,
    page: PageText | None = None,
) -> None:
    """A price the page's inline scripts hold, when nothing else gave one (a page whose
    price appears only after JavaScript runs); low confidence. A script amount has no sign:
    the page's text printing the same amount with one ("$1,099.99") gives it."""
    if result.product["price"] is not None:
        return
    guess = price_from_scripts(tree, result.product.get("title"))
    if guess is None:
        return
    result.set("price", Candidate(guess.value, "heuristic", guess.confidence))
    symbol = guess.symbol or (_printed_sign(page, guess.value) if page is not None else None)
    iso = currency_of_sign(symbol, locale, page.text if page is not None else "")
    currency = Candidate(iso, "heuristic", 0.35) if iso else _currency_fallback(data, locale)
    result.set("currency", currency)


def _printed_sign(page: PageText, amount: Any) -> str | None:
    """The currency sign the page's text prints with ``amount``, if it prints it."""
    wanted = parse_price_value(amount)
    for match in find_prices(page.text, limit=300, end=300_000):
        if match.symbol and wanted is not None and match.amount == wanted:
            return match.symbol
    return None


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


def fill_availability(
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


def fill_identifiers(
    result: ExtractionResult,
    product: ProductNode | None,
    data: StructuredData,
    page: PageText,
    region: tuple[int, int] | None,
    url: str,
    html: str | None,
    *,
    tree: Any = None,
    anchor: Anchor | None = None,
    buttons: list[Button] | None = None,
    buy_index: int | None = None,
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
        if sku.source != "heuristic" and not _visible(structured_sku, page):
            # The markup's SKU is nowhere on the page, the address's article number is,
            # printed for buyers ("7901/312"): that is the one a buyer sees.
            printed_id = printed_url_identifier(url, page.text)
            if printed_id and printed_id != structured_sku:
                sku = Candidate(printed_id, "heuristic", 0.55)
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
        title_offset = page.offset_of(anchor.index) if anchor is not None else None
        value = hash_labelled_sku(page.text, title_offset)
        if value:
            sku = Candidate(value, "heuristic", 0.5)
    if sku is None:
        value = marked_sku(page, region)
        if value:
            sku = Candidate(value, "heuristic", 0.5)
    if sku is None:
        value = printed_url_identifier(url, page.text)
        if value:
            sku = Candidate(value, "heuristic", 0.45)
    if sku is None:
        value = url_identifier(url, html)
        if value:
            sku = Candidate(value, "heuristic", 0.35)
    if sku is None and tree is not None:
        value = script_sku(tree)
        if value:
            sku = Candidate(value, "heuristic", 0.35)
    if sku is None and buttons:
        value = buy_form_sku(buttons, buy_index)
        if value:
            sku = Candidate(value, "heuristic", 0.3)
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
            else:
                value = marked_brand(page, anchor)
                if value:
                    brand = Candidate(value, "heuristic", 0.5)
    result.set("brand", brand)


def fill_description(
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


def fill_images(
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


def fill_variant(result: ExtractionResult, product: ProductNode | None) -> None:
    """The variant (size, colour...) the structured data describes, if any."""
    if product is not None and product.values.get("variant"):
        result.set(
            "variant",
            Candidate(product.values["variant"], product.source, _CONFIDENCE[product.source]),
        )


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


def set_canonical(
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


def fill_from_text(
    result: ExtractionResult,
    text: str,
    *,
    url: str,
    locale: PageLocale,
    title: str | None = None,
    only_missing: bool = False,
) -> None:
    """Fill the result from the page's visible text (``title``: its document title, which
    the text does not hold when it is the body's, as the extension sends it)."""
    guesses: dict[str, Guess] = extract_from_text(text, url=url, locale=locale, title=title)
    price = guesses.get("price")
    if price is not None and not (only_missing and result.product["price"] is not None):
        result.set("price", Candidate(price.value, "heuristic", price.confidence))
        iso = currency_of_sign(price.symbol, locale, text)
        if iso:
            result.set("currency", Candidate(iso, "heuristic", min(0.65, price.confidence + 0.05)))
        elif locale.country or locale.tld_country:
            fallback = currency_for_country(locale.country) or currency_for_country(
                locale.tld_country
            )
            conf = 0.4 if locale.country else 0.25
            result.set("currency", Candidate(fallback, "heuristic", conf) if fallback else None)
    if result.product["sku"] is None:
        # The address's own id as the text prints it for buyers ("s99277508" and
        # "992.775.08") names this product; a labelled number may be a part's or a package's
        # further down the page.
        value = printed_url_identifier(url, text)
        if value:
            result.set("sku", Candidate(value, "heuristic", 0.5))
    for name in ("title", "availability", "sku", "gtin", "mpn", "brand"):
        guess = guesses.get(name)
        if guess is not None and result.product[name] is None:
            result.set(name, Candidate(guess.value, "heuristic", guess.confidence))
    if result.product["sku"] is None:
        value = url_identifier(url, text)
        if value:
            result.set("sku", Candidate(value, "heuristic", 0.3))
    if result.product["sku"] is None and result.product["price"] is not None:
        # Text has no markup to repeat the address's id: on a page offered for sale, the
        # all-digit id ending its address, or following a "/listing/"-like segment, is the
        # product's (low confidence).
        value = address_product_id(url)
        if value:
            result.set("sku", Candidate(value, "heuristic", 0.25))
