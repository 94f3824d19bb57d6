"""One pagination for every list: ``?limit=`` (default 50, at most 200) and ``&offset=``."""

from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination as _DRFLimitOffset


class LimitOffsetPagination(_DRFLimitOffset):
    """Answers ``{"count", "next", "previous", "results"}``.

    A non-numeric or negative ``limit``/``offset`` falls back to the default rather than
    failing, as DRF does; ``limit`` above 200 is capped at 200.
    """

    default_limit = 50
    max_limit = 200
