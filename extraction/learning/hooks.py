"""The three calls the extraction pipeline makes into learning (:mod:`extraction.services`).

Learning is an optional improvement: each hook logs and steps aside on any failure (a
database hiccup, a page lxml cannot read), so extraction answers exactly as it would
without it.
"""

from __future__ import annotations

from typing import Any

import structlog

from carts.models import Item, store_domain_of
from extraction.learning.apply import apply_learned
from extraction.learning.page import page_view
from extraction.learning.selectors import Learned, learned_locations_for
from extraction.learning.services import candidate_record_save
from extraction.types import ExtractionResult

logger = structlog.get_logger(__name__)

__all__ = ["learned_apply", "learned_for_extraction", "learned_record"]


def learned_for_extraction(*, url: str, owner: Any | None) -> Learned:
    """What this user's extraction of ``url`` may try (empty on any failure)."""
    try:
        return learned_locations_for(domain=store_domain_of(url), user_id=owner)
    except Exception as exc:  # noqa: BLE001 - optional step, never fails extraction
        logger.warning("learning_lookup_failed", error=type(exc).__name__)
        return Learned()


def learned_apply(
    result: ExtractionResult, *, learned: Learned, html: str | None, url: str
) -> list[str]:
    """Set the fields whose learned locations validate on this page; their names."""
    if not learned:
        return []
    try:
        page = page_view(html=html, url=url)
        applied = apply_learned(result, page, learned.locations) if page is not None else []
    except Exception as exc:  # noqa: BLE001 - optional step, never fails extraction
        logger.warning("learning_apply_failed", error=type(exc).__name__)
        return []
    if applied:
        logger.info("learned_locations_used", fields=applied)
    return applied


def learned_record(*, item: Item, html: str | None, url: str) -> None:
    """Keep the candidates of the page ``item`` was just saved from."""
    try:
        page = page_view(html=html, url=url)
        if page is not None:
            candidate_record_save(item=item, page=page)
    except Exception as exc:  # noqa: BLE001 - optional step, never fails the save
        logger.warning("learning_record_failed", error=type(exc).__name__)
