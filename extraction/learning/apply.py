"""Trying learned locations on a new page of the shop, before anything else decides.

A learned location wins over what the extractor found, structured data included: it exists
because a user saw the extractor's choice was wrong on this shop's pages. It is used only
when it validates on this page (:meth:`.page.PageView.read`: a parseable price, a known
currency, an availability term, a non-empty title, an http(s) image), so a shop that
changes its template falls back to the extractor's own rules, never to nothing.

The provenance of a learned value names the kind of place it was read from (``json-ld``,
``opengraph`` for meta tags, ``heuristic`` for the visible page), with
:data:`LEARNED_CONFIDENCE`: the API's provenance vocabulary is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from extraction.learning.page import PageView
from extraction.types import ExtractionResult

__all__ = ["LEARNED_CONFIDENCE", "apply_learned", "learned_values"]

#: High enough that the LLM step leaves the field alone, below JSON-LD's 0.95 in meaning
#: only: it is a single shop's lesson, not the page's own statement.
LEARNED_CONFIDENCE = 0.9
_SOURCE_OF_KIND = {"ld": "json-ld", "meta": "opengraph", "dom": "heuristic"}


def learned_values(
    page: PageView, locations: Mapping[str, Sequence[str]]
) -> dict[str, tuple[Any, str]]:
    """``{field: (value, location)}``: for each field, the first location (in the order
    given) whose value validates on ``page``."""
    found: dict[str, tuple[Any, str]] = {}
    for field_name, places in locations.items():
        for location in places:
            value = page.read(field_name, location)
            if value is not None:
                found[field_name] = (value, location)
                break
    return found


def apply_learned(
    result: ExtractionResult, page: PageView, locations: Mapping[str, Sequence[str]]
) -> list[str]:
    """Set the fields whose learned locations validate on ``page``; answer their names."""
    applied: list[str] = []
    for field_name, (value, location) in learned_values(page, locations).items():
        product_key = field_name
        if field_name == "price" and not isinstance(value, Decimal):
            continue
        result.product[product_key] = value
        if field_name == "image":
            images = [u for u in result.product.get("images") or [] if u != value]
            result.product["images"] = [value, *images]
        source = _SOURCE_OF_KIND.get(location.partition(":")[0], "heuristic")
        result.provenance[product_key] = {"source": source, "confidence": LEARNED_CONFIDENCE}
        applied.append(field_name)
    return applied
