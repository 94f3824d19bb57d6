"""``carts/{cart_id}/items/``: a cart's items, adding one, taking one out."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from buyhive.pagination import LimitOffsetPagination
from buyhive.serializers import HttpUrlStringField
from carts import cart_view, selectors, services
from carts import models as m
from carts.apis.common import (
    CART_ID,
    COMMON,
    E400,
    E401,
    E404,
    E409,
    ITEM_ID,
    _limit_writes,
    _render_cart_items,
)
from carts.serializers import (
    CartItemOutputSerializer,
    ItemFieldsInputSerializer,
)


@extend_schema_serializer(component_name="CartItemAddInput")
class CartItemAddInputSerializer(ItemFieldsInputSerializer):
    """Either ``item_id`` (an item the user already saved) or a new item's fields."""

    item_id = serializers.CharField(required=False, max_length=64)
    url = HttpUrlStringField(max_length=m.URL_MAX, required=False, help_text="http(s) only")
    quantity = serializers.IntegerField(min_value=1, max_value=m.QUANTITY_MAX, required=False)
    note = serializers.CharField(
        max_length=m.NOTE_MAX, required=False, allow_blank=True, allow_null=True
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        item_fields = set(attrs) - {"item_id", "quantity", "note"}
        if "item_id" in attrs and item_fields:
            raise serializers.ValidationError(
                {"item_id": ["Give either item_id or the new item's fields, not both."]}
            )
        if "item_id" not in attrs and "url" not in attrs:
            raise serializers.ValidationError(
                {"item_id": ["Give item_id, or a new item with at least its url."]}
            )
        return attrs


class CartItemsApi(APIView):
    pagination_class = LimitOffsetPagination

    @extend_schema(
        operation_id="carts_items_list",
        summary="A cart's items, in the order they were added",
        tags=["carts"],
        parameters=[CART_ID],
        responses={200: CartItemOutputSerializer(many=True), 401: E401, 404: E404},
    )
    def get(self, request: Request, cart_id: str) -> HttpResponse:
        # The hot read of issue 16: the cart's view, its items already rendered
        # (``carts.cart_view``): one command, and only the envelope is rendered here.
        paginator = self.pagination_class()
        offset, limit = paginator.start_page(request)
        count, entries = cart_view.cart_entries_page(
            user=request.user, cart_id=cart_id, offset=offset, limit=limit
        )
        return paginator.paginated_rendered(entries, count=count)

    @extend_schema(
        operation_id="carts_items_add",
        summary="Add an item to a cart",
        description=(
            "Either `item_id` of an item the user saved, or a new item's fields (`url` "
            "required; saving the same product again updates it). 201 when the item joins the "
            "cart, 200 when it was already in it (`quantity`/`note` then updated). An unknown "
            "or foreign `item_id` is a 400. At most MAX_ITEMS_PER_CART items (409)."
        ),
        tags=["carts"],
        parameters=[CART_ID],
        request=CartItemAddInputSerializer,
        responses={
            200: CartItemOutputSerializer,
            201: CartItemOutputSerializer,
            400: E400,
            409: E409,
            **COMMON,
        },
    )
    def post(self, request: Request, cart_id: str) -> Response:
        cart = selectors.cart_get(user=request.user, cart_id=cart_id)
        _limit_writes(request)
        data = CartItemAddInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        item_id = fields.pop("item_id", None)
        quantity = fields.pop("quantity", None)
        note = fields.pop("note", None)
        item, membership, created, _item_created = services.cart_add_item(
            cart=cart,
            item_id=item_id,
            data=None if item_id is not None else fields,
            quantity=quantity,
            note=note,
        )
        body = _render_cart_items(request.user, [(membership, item)])[0]
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class CartItemDetailApi(APIView):
    @extend_schema(
        operation_id="carts_items_remove",
        summary="Take an item out of a cart",
        description="The item stays in the user's other carts and in `items/`.",
        tags=["carts"],
        parameters=[CART_ID, ITEM_ID],
        responses={204: None, **COMMON},
    )
    def delete(self, request: Request, cart_id: str, item_id: str) -> Response:
        cart = selectors.cart_get(user=request.user, cart_id=cart_id)
        item = selectors.item_get(user=request.user, item_id=item_id)
        _limit_writes(request)
        services.item_remove_from_cart(cart=cart, item=item)
        return Response(status=status.HTTP_204_NO_CONTENT)
