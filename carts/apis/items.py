"""``items/``: the user's items across carts, one item, and the carts it is in."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from buyhive.exceptions import ValidationFailed
from buyhive.pagination import LimitOffsetPagination
from buyhive.product.availability import AVAILABILITY_TERMS
from buyhive.serializers import HttpUrlStringField
from carts import models as m
from carts import selectors, services
from carts.apis.common import (
    COMMON,
    E400,
    E401,
    E404,
    E409,
    E429,
    ITEM_ID,
    _limit_writes,
    _render_items,
)
from carts.serializers import ItemFieldsInputSerializer, ItemOutputSerializer
from carts.validation import MAX_SEARCH_LENGTH


@extend_schema_serializer(component_name="ItemInput")
class ItemCreateInputSerializer(ItemFieldsInputSerializer):
    cart_ids = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        max_length=1000,
        help_text="Also add the item to these carts (it is never removed from others).",
    )


@extend_schema_serializer(component_name="ItemUpdateInput")
class ItemUpdateInputSerializer(ItemFieldsInputSerializer):
    url = HttpUrlStringField(max_length=m.URL_MAX, required=False, help_text="http(s) only")


class ItemListCreateApi(APIView):
    pagination_class = LimitOffsetPagination

    @extend_schema(
        operation_id="items_list",
        summary="All the user's items, across carts",
        tags=["items"],
        parameters=[
            OpenApiParameter("cart", OpenApiTypes.STR, description="Only the items in this cart"),
            OpenApiParameter("store", OpenApiTypes.STR, description="Store domain (shop.com)"),
            OpenApiParameter(
                "availability",
                OpenApiTypes.STR,
                enum=sorted(AVAILABILITY_TERMS),
                description="schema.org availability term",
            ),
            OpenApiParameter(
                "search",
                OpenApiTypes.STR,
                description=f"Text in the title or brand (at most {MAX_SEARCH_LENGTH} characters)",
            ),
            OpenApiParameter(
                "ordering",
                OpenApiTypes.STR,
                enum=list(selectors.ITEM_ORDERINGS),
                description="Added time (default newest first; with `cart`, when added to it), "
                "price or title",
            ),
        ],
        responses={200: ItemOutputSerializer(many=True), 400: E400, 401: E401},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        availability = params.get("availability") or None
        if availability is not None and availability not in AVAILABILITY_TERMS:
            raise ValidationFailed(
                "Unknown availability.", fields={"availability": ["Unknown availability term."]}
            )
        store = params.get("store") or None
        if store is not None and len(store) > m.STORE_DOMAIN_MAX:
            raise ValidationFailed("Store too long.", fields={"store": ["Too long."]})
        results = selectors.item_list(
            user=request.user,
            cart_id=params.get("cart") or None,
            store=store,
            availability=availability,
            search=params.get("search") or None,
            ordering=params.get("ordering") or "-added_at",
        )
        paginator = self.pagination_class()
        page = list(paginator.paginate_queryset(results, request, self) or [])  # type: ignore[arg-type]
        return paginator.get_paginated_response(_render_items(request.user, page))

    @extend_schema(
        operation_id="items_create",
        summary="Save a product (create, or update the same product)",
        description=(
            "An item is unique per user and canonical URL (tracking parameters dropped, "
            "variant kept): 201 when created, 200 when the same product was saved before and "
            "is updated. `cart_ids` also adds it to those carts (400 on `cart_ids` when one "
            "is unknown or another user's; 409 when a cart is full)."
        ),
        tags=["items"],
        request=ItemCreateInputSerializer,
        responses={
            200: ItemOutputSerializer,
            201: ItemOutputSerializer,
            400: E400,
            401: E401,
            409: E409,
            429: E429,
        },
    )
    def post(self, request: Request) -> Response:
        _limit_writes(request)
        data = ItemCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        cart_ids = fields.pop("cart_ids", None)
        item, created = services.item_upsert(owner=request.user, data=fields, cart_ids=cart_ids)
        body = _render_items(request.user, [item])[0]
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ItemDetailApi(APIView):
    @extend_schema(
        operation_id="items_retrieve",
        summary="One item",
        tags=["items"],
        parameters=[ITEM_ID],
        responses={200: ItemOutputSerializer, 401: E401, 404: E404},
    )
    def get(self, request: Request, item_id: str) -> Response:
        item = selectors.item_get(user=request.user, item_id=item_id)
        return Response(_render_items(request.user, [item])[0])

    @extend_schema(
        operation_id="items_partial_update",
        summary="Change an item's fields",
        tags=["items"],
        parameters=[ITEM_ID],
        request=ItemUpdateInputSerializer,
        responses={200: ItemOutputSerializer, 400: E400, **COMMON},
    )
    def patch(self, request: Request, item_id: str) -> Response:
        item = selectors.item_get(user=request.user, item_id=item_id)
        _limit_writes(request)
        data = ItemUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        item = services.item_update(item=item, data=dict(data.validated_data), by_owner=True)
        return Response(_render_items(request.user, [item])[0])

    @extend_schema(
        operation_id="items_destroy",
        summary="Delete an item (from every cart)",
        tags=["items"],
        parameters=[ITEM_ID],
        responses={204: None, **COMMON},
    )
    def delete(self, request: Request, item_id: str) -> Response:
        item = selectors.item_get(user=request.user, item_id=item_id)
        _limit_writes(request)
        services.item_delete(item=item)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_serializer(component_name="ItemCartsInput")
class ItemCartsInputSerializer(serializers.Serializer):
    cart_ids = serializers.ListField(
        child=serializers.CharField(max_length=64), allow_empty=True, max_length=1000
    )


@extend_schema_serializer(component_name="ItemCarts")
class ItemCartsOutputSerializer(serializers.Serializer):
    cart_ids = serializers.ListField(child=serializers.CharField())


class ItemCartsApi(APIView):
    @extend_schema(
        operation_id="items_carts_set",
        summary="Set the carts an item is in (move, copy), atomically",
        description=(
            "`cart_ids` becomes exactly the set of carts the item is in, in one transaction: "
            "a failure (a full cart: 409) leaves every membership as it was. An unknown or "
            "another user's cart id is a 400 on `cart_ids`. Memberships that stay keep their "
            "added time, quantity, note and price snapshot."
        ),
        tags=["items"],
        parameters=[ITEM_ID],
        request=ItemCartsInputSerializer,
        responses={200: ItemCartsOutputSerializer, 400: E400, 409: E409, **COMMON},
    )
    def put(self, request: Request, item_id: str) -> Response:
        item = selectors.item_get(user=request.user, item_id=item_id)
        _limit_writes(request)
        data = ItemCartsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        carts = services.item_set_carts(item=item, cart_ids=data.validated_data["cart_ids"])
        return Response({"cart_ids": [str(cart.pk) for cart in carts]})
