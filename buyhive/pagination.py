"""One pagination for every list: ``?limit=`` (default 50, at most 200) and ``&offset=``."""

from __future__ import annotations

from collections.abc import Sequence

from django.http import HttpResponse
from rest_framework.pagination import LimitOffsetPagination as _DRFLimitOffset
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request


class LimitOffsetPagination(_DRFLimitOffset):
    """Answers ``{"count", "next", "previous", "results"}``.

    A non-numeric or negative ``limit``/``offset`` falls back to the default rather than
    failing, as DRF does; ``limit`` above 200 is capped at 200.
    """

    default_limit = 50
    max_limit = 200

    def start_page(self, request: Request) -> tuple[int, int]:
        """``(offset, limit)`` of the page asked for, for a view that reads the page itself.

        Such a view reads the page and its count itself (issue 16's command budgets), then
        answers with :meth:`paginated_rendered`.
        """
        self.request = request
        self.limit = self.get_limit(request) or self.default_limit
        self.offset = self.get_offset(request)
        return self.offset, self.limit

    def paginated_rendered(self, results: Sequence[bytes], *, count: int) -> HttpResponse:
        """The list answer for a page read by the view (after :meth:`start_page`) whose
        results are rendered already, each the bytes DRF's ``JSONRenderer`` makes of it:
        the bytes ``get_paginated_response`` would render, without rendering the results
        again (``carts.cart_view`` keeps them rendered)."""
        self.count = count
        head = JSONRenderer().render(
            {"count": count, "next": self.get_next_link(), "previous": self.get_previous_link()}
        )
        body = b"".join((head[:-1], b',"results":[', b",".join(results), b"]}"))
        return HttpResponse(body, content_type="application/json")
