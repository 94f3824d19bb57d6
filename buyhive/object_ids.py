"""Ids from the outside world as MongoDB ObjectIds."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from bson.errors import InvalidId


def parse_object_id(value: Any) -> ObjectId | None:
    """``value`` as an ObjectId, or None when it is not one (never raises)."""
    if isinstance(value, ObjectId):
        return value
    if not isinstance(value, str) or len(value) != 24:
        return None
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None
