"""What every carts endpoint shares: the documented error answers and path parameters, the
per-user write limit, and the rendering of carts, items and cart items."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.request import Request

from buyhive.exceptions import NotFound
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
    """The item answers; each item's ``cart_ids`` are its own field (the read model of its
    memberships, ``carts.models.Item``), the user's carts only: no read."""
    return list(ItemOutputSerializer(_owned(user, items), many=True).data)


def _render_cart_items(user: Any, pairs: list[tuple[Any, Item]]) -> list[dict[str, Any]]:
    """The cart-item answers (each item's ``cart_ids`` are its own: no read)."""
    items = _owned(user, [item for _membership, item in pairs])
    for membership, item in pairs:
        item.membership = membership  # type: ignore[attr-defined]
    return list(CartItemOutputSerializer(items, many=True).data)


def _owned(user: Any, items: list[Item]) -> list[Item]:
    """``items``, each checked to be ``user``'s (the selectors gave them so: a guard)."""
    owner = getattr(user, "pk", user)
    if any(item.owner_id != owner for item in items):
        raise NotFound("Item not found.")
    return items
