"""``GET carts/{id}/export.csv``: one of the user's carts as a spreadsheet.

The data-rights half of the carts API (the whole account exports as JSON from
``GET auth/me/export/``, see :mod:`carts.user_data`). Success is ``text/csv``; every error is
the JSON error envelope, whatever the client's ``Accept`` says, so a failed download still
tells the extension why.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from buyhive.ratelimit import enforce
from carts import selectors
from carts.serializers import ErrorSerializer
from carts.user_data import cart_csv_rows

_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def _filename(name: str) -> str:
    """An ASCII file name from the cart's name (``"Gifts 2026!"`` -> ``gifts-2026.csv``)."""
    stem = _UNSAFE_FILENAME.sub("-", name).strip("-.").lower()[:60] or "cart"
    return f"{stem}.csv"


class CartExportCsvApi(APIView):
    renderer_classes = [JSONRenderer]  # for errors: the envelope, always JSON

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # A client asking for text/csv still gets its error as JSON rather than a 406.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="cart_export_csv",
        summary="One cart as CSV",
        description=(
            "The cart's items in the order they were added, one row each, with the header "
            "`title,url,price,currency,availability,quantity,note,price_at_add,"
            "currency_at_add,added_at,brand,sku,gtin,mpn,store_domain,image_url,item_id`. "
            "Prices are plain decimals at their currency's exponent. A cell that a "
            "spreadsheet would run as a formula starts with an apostrophe. Counted against "
            "`RATE_EXPORT_USER` per user."
        ),
        tags=["carts"],
        parameters=[OpenApiParameter("cart_id", OpenApiTypes.STR, OpenApiParameter.PATH)],
        responses={
            (200, "text/csv"): OpenApiResponse(response=OpenApiTypes.STR, description="CSV"),
            401: OpenApiResponse(ErrorSerializer, description="not_authenticated"),
            404: OpenApiResponse(ErrorSerializer, description="not_found"),
            429: OpenApiResponse(ErrorSerializer, description="rate_limited"),
        },
    )
    def get(self, request: Request, cart_id: str) -> HttpResponse:
        enforce(
            request,
            group="carts-export",
            rate=settings.RATE_EXPORT_USER,
            key=f"user:{request.user.pk}",
            fail_open=True,
        )
        cart = selectors.cart_get(user=request.user, cart_id=cart_id)
        rows = selectors.membership_rows(user=request.user, cart=cart)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
        writer.writerows(cart_csv_rows(memberships=rows))
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{_filename(cart.name)}"'
        response["Cache-Control"] = "no-store"
        return response
