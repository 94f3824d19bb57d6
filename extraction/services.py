"""Page -> product: the whole extraction pipeline behind ``POST extract/`` and the command.

Order of work, cheapest and most trustworthy first:

1. the deterministic extractor (structured data, then visible-page heuristics);
2. the LLM, only for the fields still missing or unsure, only when a key is configured;
3. the page check (is this a product page: the MiniLM model plus page signals);
4. the image check (which candidate image shows the named product: CLIP, or alt-text
   similarity when CLIP is unavailable).

The result (without the saved item) is cached by (canonical URL, hash of what was sent),
so the extension re-opening a page costs one cache read. Every optional step degrades to a
reported status; none of them can fail the request.

:func:`product_extract_and_save` is the whole of ``POST extract/``: the carts are checked
before any work, the page is extracted, and the product is saved through the carts services.
The page's address is canonicalised once (:class:`~buyhive.product.urls.CanonicalUrl`) and that
pair is handed to each step that keys on it: the cache, the extractor's fallback canonical URL
and the item's uniqueness key.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog
from django.conf import settings

from buyhive import metrics
from buyhive.cache import cache_get, cache_set
from buyhive.exceptions import ValidationFailed
from buyhive.product.text import clean_text
from buyhive.product.urls import CanonicalUrl
from carts import models as item_limits
from carts.models import Item
from carts.services import item_upsert, resolve_carts
from extraction.deterministic import MAX_TITLE_CHARS, extract_deterministic
from extraction.learning.hooks import learned_apply, learned_for_extraction, learned_record
from extraction.llm import LLMOutcome, llm_fill
from extraction.stats import extraction_count
from extraction.types import ExtractionResult
from mlverify.clip.service import best_image
from mlverify.page_check.services import classify_page
from mlverify.results import CheckResult
from mlverify.services import SampleOutcome, page_sample_keep

logger = structlog.get_logger(__name__)

CACHE_VERSION = "v3"  # v2: page_check carries page_type; v3: the text is read with its title
#: Images fetched and scored by CLIP per extraction (each is a network fetch + encode).
MAX_IMAGE_CANDIDATES = 4


@dataclass
class Extraction:
    """The answer of one extraction, before the optional save into carts."""

    body: dict[str, Any]
    cached: bool


def _cache_key(
    *, canonical_url: str, html: str | None, text: str | None, title: str | None, images: list[str]
) -> str:
    digest = hashlib.sha256()
    parts = (canonical_url, html or "", "\x00", text or "", "\x00", title or "", "\x00", *images)
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
    return f"extract:{CACHE_VERSION}:{digest.hexdigest()}"


def _merge_llm(result: ExtractionResult, outcome: LLMOutcome) -> None:
    """Fill the fields the LLM answered (already checked against the page)."""
    provenance = outcome.provenance()
    for name, value in outcome.fields.items():
        final: Any = value
        if name == "price":
            try:
                final = Decimal(str(value))
            except (InvalidOperation, ValueError):
                continue
        if result.confidence(name) >= provenance[name]["confidence"]:
            continue  # the page's own value is at least as trustworthy
        result.product[name] = final
        result.provenance[name] = provenance[name]


def _page_check(*, url: str, title: str | None, html: str | None) -> CheckResult:
    try:
        return classify_page(url=url, title=title, html=html)
    except Exception as exc:  # noqa: BLE001 - an optional check never fails extraction
        logger.exception("page_check_failed")
        return CheckResult.unavailable(f"page check failed: {type(exc).__name__}")


def _image_candidates(result: ExtractionResult, image_urls: list[str]) -> list[dict[str, Any]]:
    """The page's own product images first (with alt text), then what the extension saw."""
    seen: set[str] = set()
    candidates: list[dict[str, Any]] = []
    alts = {c.get("url"): c.get("alt") for c in result.image_candidates if c.get("url")}
    ordered = [result.product.get("image"), *(result.product.get("images") or []), *alts]
    for url in [*ordered, *image_urls]:
        if isinstance(url, str) and url and url not in seen:
            seen.add(url)
            candidates.append({"url": url, "alt": alts.get(url)})
    return candidates[:MAX_IMAGE_CANDIDATES]


def _image_check(
    *, result: ExtractionResult, image_urls: list[str], owner: str | None = None
) -> CheckResult:
    """The CLIP check of the candidates; ``owner`` (the user id) bounds the user's concurrent
    fetches, and the check's own deadline (``CLIP_IMAGE_STEP_TIMEOUT``) bounds its time."""
    title = result.product.get("title")
    candidates = _image_candidates(result, image_urls)
    if not title:
        return CheckResult.unavailable("no product name to compare images with")
    if not candidates:
        return CheckResult.unavailable("no candidate images")
    try:
        best, check = best_image(candidates=candidates, product_name=title, owner=owner)
    except Exception as exc:  # noqa: BLE001 - an optional check never fails extraction
        logger.warning("image_check_failed", error=type(exc).__name__)
        return CheckResult.unavailable(f"image check failed: {type(exc).__name__}")
    if best and check.status == "ok" and check.value and best != result.product.get("image"):
        result.product["image"] = best
        result.provenance["image"] = {
            "source": "heuristic",
            "confidence": round(float(check.score or 0.0), 3),
        }
    return check


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _outcome(product: dict[str, Any]) -> str:
    """``ok`` with a title and a price, ``partial`` with anything, ``failed`` with nothing."""
    if product.get("title") and product.get("price"):
        return "ok"
    return "partial" if any(v for k, v in product.items() if k != "canonical_url") else "failed"


def _main_source(provenance: dict[str, dict[str, Any]], outcome: LLMOutcome) -> str:
    """Where the product mostly came from, as a bounded metric dimension."""
    if outcome.status == "used" and outcome.fields:
        return "llm"
    sources = {entry["source"] for entry in provenance.values()}
    if sources & {"json-ld", "microdata", "opengraph"}:
        return "structured"
    return "heuristics" if sources else "none"


def extract(
    *,
    url: str | CanonicalUrl,
    html: str | None = None,
    text: str | None = None,
    title: str | None = None,
    image_urls: Sequence[str] | None = None,
    use_cache: bool = True,
    owner: str | None = None,
) -> Extraction:
    """Extract the product on one page. Never raises for any page content.

    ``url`` is the page's address, or its :class:`CanonicalUrl` when the caller has one;
    ``title`` the page's document title, sent beside its text; ``owner``, the requesting
    user's id, is who the image fetches count against.
    """
    started = time.perf_counter()
    image_urls = list(image_urls or [])
    title = clean_text(title, max_length=MAX_TITLE_CHARS)
    address = url if isinstance(url, CanonicalUrl) else CanonicalUrl.of(url)
    url = address.url
    key = _cache_key(
        canonical_url=address.canonical, html=html, text=text, title=title, images=image_urls
    )
    # What this user's extraction may learn from the shop's corrections (extraction.learning):
    # part of the cache key, since one user's own lessons must not reach another's answer.
    learned = learned_for_extraction(url=address.canonical, owner=owner)
    if learned:
        key = f"{key}:{learned.digest}"
    if use_cache:
        hit = cache_get(key, event="extraction_cache_unavailable")
        if hit is not None:
            metrics.record_extraction(
                source="cache", outcome=_outcome(hit["product"]), duration_ms=_ms(started)
            )
            from_llm = any(p.get("source") == "llm" for p in hit.get("provenance", {}).values())
            extraction_count(outcome=_outcome(hit["product"]), llm=from_llm, cached=True)
            return Extraction(body=hit, cached=True)

    result = extract_deterministic(url=address, html=html, text=text, title=title)
    learned_apply(result, learned=learned, html=html, url=url)
    outcome = llm_fill(
        url=url, html=html, text=text, title=title, missing=set(result.missing_fields())
    )
    if outcome.status == "used":
        _merge_llm(result, outcome)
    # Without HTML the URL layer answers, and it was trained on the document title: the
    # product's name stands in only when no title came with the text.
    page_check = _page_check(url=url, title=title or result.product.get("title"), html=html)
    image_check = _image_check(result=result, image_urls=image_urls, owner=owner)

    data = result.to_dict()
    body: dict[str, Any] = {
        "product": data["product"],
        "provenance": data["provenance"],
        "page_check": page_check.as_dict("is_product"),
        "image_check": image_check.as_dict("match"),
        "llm": outcome.as_response(),
    }
    metrics.record_extraction(
        source=_main_source(data["provenance"], outcome),
        outcome=_outcome(data["product"]),
        duration_ms=_ms(started),
    )
    extraction_count(
        outcome=_outcome(data["product"]),
        llm=outcome.status == "used" and bool(outcome.fields),
        cached=False,
    )
    logger.info(
        "product_extracted",
        sources=sorted({p["source"] for p in data["provenance"].values()}),
        llm=outcome.status,
        empty=result.is_empty,
    )
    # One JSON-ready form for the answer and the cache (what a cache hit returns later).
    body = json.loads(json.dumps(body, default=str))
    # An LLM outage must not freeze a worse answer in the cache for a day.
    if use_cache and outcome.status != "unavailable":
        cache_set(
            key, body, settings.EXTRACTION_CACHE_TIMEOUT, event="extraction_cache_unavailable"
        )
    return Extraction(body=body, cached=False)


#: The item's text limits (carts.models); a longer page value is cut, not refused.
_ITEM_TEXT_LIMITS = {
    "title": item_limits.TITLE_MAX,
    "brand": item_limits.BRAND_MAX,
    "description": item_limits.DESCRIPTION_MAX,
    "sku": item_limits.IDENTIFIER_MAX,
    "gtin": item_limits.IDENTIFIER_MAX,
    "mpn": item_limits.IDENTIFIER_MAX,
}


def item_data_from_product(product: dict[str, Any], *, url: str) -> dict[str, Any]:
    """The carts item fields for an extracted product (nulls left out)."""
    mapping = {
        "title": product.get("title"),
        "brand": product.get("brand"),
        "description": product.get("description"),
        "price": product.get("price"),
        "currency": product.get("currency"),
        "image_url": product.get("image"),
        "availability": product.get("availability"),
        "sku": product.get("sku"),
        "gtin": product.get("gtin"),
        "mpn": product.get("mpn"),
        "variant": product.get("variant"),
    }
    data = {key: value for key, value in mapping.items() if value not in (None, "", {}, [])}
    for key, limit in _ITEM_TEXT_LIMITS.items():
        value = data.get(key)
        if isinstance(value, str):
            data[key] = value[:limit]
    data["url"] = url
    if "price" not in data:
        data.pop("currency", None)
    return data


def save_extraction(
    *, owner: Any, url: str | CanonicalUrl, body: dict[str, Any], cart_ids: Sequence[Any]
) -> Item:
    """Save the extracted product into ``cart_ids`` through the carts services.

    A value the page gave that the item's validation refuses (an over-long description, an
    image on a non-http scheme) is dropped rather than failing the save: the user asked to
    save this page, and the rest of the product is still right.
    """
    address = url if isinstance(url, CanonicalUrl) else CanonicalUrl.of(url)
    data = item_data_from_product(body["product"], url=address.url)
    details = {k: body[k] for k in ("provenance", "page_check", "image_check", "llm")}
    for _attempt in range(3):
        try:
            item, _created = item_upsert(
                owner=owner, data=data, extraction=details, cart_ids=cart_ids, address=address
            )
            return item
        except ValidationFailed as exc:
            bad = set(exc.fields or {}) - {"url", "cart_ids"}
            if not bad:
                raise
            logger.info("extraction_field_dropped", fields=sorted(bad))
            data = {k: v for k, v in data.items() if k not in bad}
            if "price" not in data:
                data.pop("currency", None)
    raise ValidationFailed("The extracted product could not be saved.")


@dataclass(frozen=True)
class ExtractionOutcome:
    """What ``POST extract/`` answers: the extraction and, when carts were given, the item.

    ``body`` is JSON-ready (``product``, ``provenance``, ``page_check``, ``image_check``,
    ``llm``), exactly what the cache holds; ``cached`` says whether it came from there.
    """

    body: dict[str, Any]
    cached: bool
    item: Item | None
    page_sample: SampleOutcome | None = None


def product_extract_and_save(
    *,
    user: Any,
    url: str,
    html: str | None,
    text: str | None,
    title: str | None = None,
    image_urls: Sequence[str] = (),
    cart_ids: Sequence[Any] = (),
    share_page: bool = False,
) -> ExtractionOutcome:
    """Extract the product on ``url``'s page and, when ``cart_ids`` are given, save it there.

    Unknown, malformed or other users' ``cart_ids`` are a 400 before any extraction work (the
    carts service's rule); a full cart is a 409 from the save. The address is canonicalised
    here, once, and the pair passed to the extraction and to the save.

    ``share_page``: the user agreed to send the page for labelling (the extension asks on a
    page the check took for a grid or for no product page); it is kept after the save, with
    the check's verdict (:func:`mlverify.services.page_sample_keep`). The save comes first:
    should keeping the page then fail, the request fails and the client's retry saves the same
    item again (the save is an upsert by address) and keeps the page.
    """
    if cart_ids:
        resolve_carts(owner=user, cart_ids=cart_ids)
    address = CanonicalUrl.of(url)
    extraction = extract(
        url=address, html=html, text=text, title=title, image_urls=image_urls, owner=str(user.pk)
    )
    item = None
    if cart_ids:
        item = save_extraction(owner=user, url=address, body=extraction.body, cart_ids=cart_ids)
        learned_record(item=item, html=html, url=address.url)
    sample = None
    if share_page and html:
        sample = page_sample_keep(
            owner=user,
            url=address.url,
            html=html,
            title=extraction.body["product"].get("title"),
            page_check=extraction.body["page_check"],
        )
    return ExtractionOutcome(
        body=extraction.body, cached=extraction.cached, item=item, page_sample=sample
    )
