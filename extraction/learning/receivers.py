"""Learning's receivers of what carts announces (connected in ExtractionConfig.ready)."""

from __future__ import annotations

from typing import Any

import structlog

from extraction.learning.services import correction_learn

logger = structlog.get_logger(__name__)


def on_item_corrected(sender: Any, *, item: Any, fields: dict[str, Any], **kwargs: Any) -> None:
    """``carts.signals.item_corrected``: learn where the owner's value was on the page.

    Never raises: the user's edit is saved already, and a lesson lost is only a lesson.
    """
    try:
        correction_learn(item=item, fields=fields)
    except Exception as exc:  # noqa: BLE001 - learning must not fail the user's edit
        logger.warning("learning_correction_failed", error=type(exc).__name__)
