"""One pagination for every list: ``?limit=`` (default 50, at most 200) and ``&offset=``."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import LimitOffsetPagination as _DRFLimitOffset
from rest_framework.request import Request
from rest_framework.response import Response


class LimitOffsetPagination(_DRFLimitOffset):
    """Answers ``{"count", "next", "previous", "results"}``.

    A non-numeric or negative ``limit``/``offset`` falls back to the default rather than
    failing, as DRF does; ``limit`` above 200 is capped at 200.
    """

    default_limit = 50
    max_limit = 200

    def start_page(self, request: Request) -> tuple[int, int]:
        """``(offset, limit)`` of the page asked for, for a view that reads the page itself.

        Such a view reads ``limit + 1`` rows from ``offset`` and learns the count without a
        count command whenever the rest fits in the page (issue 16's command budgets); it
        then calls :meth:`paginated` with the count.
        """
        self.request = request
        self.limit = self.get_limit(request) or self.default_limit
        self.offset = self.get_offset(request)
        return self.offset, self.limit

    def paginated(self, results: list[Any], *, count: int) -> Response:
        """The list answer for a page read by the view (after :meth:`start_page`)."""
        self.count = count
        return self.get_paginated_response(results)
