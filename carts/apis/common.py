"""What every carts endpoint shares: the documented error answers and path parameters, the
per-user write limit, and the rendering of carts, items and cart items."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.request import Request

from buyhive.ratelimit import enforce
from carts import selectors
from carts.models import Cart, Item
from carts.serializers import (
    CartItemOutputSerializer,
    CartOutputSerializer,
    ErrorSerializer,
    ItemOutputSerializer,
)
from carts.watch import rates as watch_rates


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=description)


E400 = _error("validation_error: bad input (with `fields`)")
E401 = _error("not_authenticated / token_invalid")
E404 = _error("not_found: unknown, or another user's")
E409 = _error("limit_exceeded: a configured cap was reached")
E429 = _error("rate_limited, with a `Retry-After` header (seconds)")
E503 = _error("service_unavailable")
COMMON = {401: E401, 404: E404, 429: E429}

CART_ID = OpenApiParameter("cart_id", OpenApiTypes.STR, OpenApiParameter.PATH)
CURRENCY = OpenApiParameter(
    "currency",
    OpenApiTypes.STR,
    description="ISO 4217 code: adds `total_converted` (ECB reference rates) to each cart",
)
ITEM_ID = OpenApiParameter("item_id", OpenApiTypes.STR, OpenApiParameter.PATH)


def _limit_writes(request: Request) -> None:
    enforce(
        request,
        group="carts-write",
        rate=settings.RATE_WRITE_USER,
        key=f"user:{request.user.pk}",
        fail_open=True,
    )


def _render_carts(
    user: Any, carts: list[Cart], request: Request | None = None
) -> list[dict[str, Any]]:
    summaries = selectors.cart_summaries(user=user, carts=carts)
    converted = watch_rates.totals_converted_param(request.query_params if request else {})
    for cart in carts:
        cart.summary = summaries[cart.pk]  # type: ignore[attr-defined]
        cart.total_converted = converted(cart.summary.totals)  # type: ignore[attr-defined]
    return list(CartOutputSerializer(carts, many=True).data)


def _render_items(user: Any, items: list[Item]) -> list[dict[str, Any]]:
    cart_ids = selectors.item_cart_ids(user=user, items=items)
    for item in items:
        item.cart_ids = cart_ids.get(item.pk, [])  # type: ignore[attr-defined]
    return list(ItemOutputSerializer(items, many=True).data)


def _render_cart_items(
    user: Any, pairs: list[tuple[Any, Item]], cart_ids: dict[Any, list[str]] | None = None
) -> list[dict[str, Any]]:
    """The cart-item answers; ``cart_ids`` when the caller knows each item's carts already
    (an item just created in one cart), else they are read."""
    items = [item for _membership, item in pairs]
    if cart_ids is None:
        cart_ids = selectors.item_cart_ids(user=user, items=items)
    for membership, item in pairs:
        item.membership = membership  # type: ignore[attr-defined]
        item.cart_ids = cart_ids.get(item.pk, [])  # type: ignore[attr-defined]
    return list(CartItemOutputSerializer(items, many=True).data)
