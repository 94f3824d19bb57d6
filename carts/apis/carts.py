"""``carts/`` and ``carts/{cart_id}/``: list, create, read, rename and delete carts."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from buyhive.pagination import LimitOffsetPagination
from carts import cart_list, selectors, services
from carts import models as m
from carts.apis.common import (
    CART_ID,
    COMMON,
    CURRENCY,
    E400,
    E401,
    E404,
    E409,
    E429,
    _limit_writes,
    _render_carts,
)
from carts.serializers import CartOutputSerializer
from carts.watch import rates as watch_rates


@extend_schema_serializer(component_name="CartInput")
class CartInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=m.CART_NAME_MAX)
    description = serializers.CharField(
        max_length=m.CART_DESCRIPTION_MAX, required=False, allow_blank=True
    )


class CartListCreateApi(APIView):
    pagination_class = LimitOffsetPagination

    @extend_schema(
        operation_id="carts_list",
        summary="The user's carts, each with its item count and totals",
        tags=["carts"],
        parameters=[CURRENCY],
        responses={200: CartOutputSerializer(many=True), 400: E400, 401: E401},
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        converted = watch_rates.totals_converted_param(request.query_params)
        # The carts are few (MAX_CARTS_PER_USER): one read of all of them, paged in memory,
        # instead of a count command and a page read; their counts and totals are kept on
        # them between writes (issue 16's budget for this list; carts.cart_list).
        carts = cart_list.cart_documents(user=request.user)
        paged: list[Any] | None = paginator.paginate_queryset(carts, request, self)  # type: ignore[arg-type]
        page: list[dict[str, Any]] = list(paged or [])
        summaries = cart_list.summaries(user=request.user, carts=page)
        body = [
            cart_list.cart_to_api(cart, summary, converted)
            for cart, summary in zip(page, summaries, strict=True)
        ]
        return paginator.get_paginated_response(body)

    @extend_schema(
        operation_id="carts_create",
        summary="Create a cart",
        description="The name is unique per user, case-insensitively (400 on `name`). "
        "At most MAX_CARTS_PER_USER carts (409 `limit_exceeded`).",
        tags=["carts"],
        request=CartInputSerializer,
        responses={201: CartOutputSerializer, 400: E400, 401: E401, 409: E409, 429: E429},
    )
    def post(self, request: Request) -> Response:
        _limit_writes(request)
        data = CartInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cart = services.cart_create(owner=request.user, **data.validated_data)
        return Response(_render_carts(request.user, [cart])[0], status=status.HTTP_201_CREATED)


@extend_schema_serializer(component_name="CartUpdateInput")
class CartUpdateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=m.CART_NAME_MAX, required=False)
    description = serializers.CharField(
        max_length=m.CART_DESCRIPTION_MAX, required=False, allow_blank=True
    )


class CartDetailApi(APIView):
    @extend_schema(
        operation_id="carts_retrieve",
        summary="One cart with its item count and totals",
        tags=["carts"],
        parameters=[CART_ID, CURRENCY],
        responses={200: CartOutputSerializer, 400: E400, 401: E401, 404: E404},
    )
    def get(self, request: Request, cart_id: str) -> Response:
        cart = selectors.cart_get(user=request.user, cart_id=cart_id)
        return Response(_render_carts(request.user, [cart], request)[0])

    @extend_schema(
        operation_id="carts_partial_update",
        summary="Rename a cart or change its description",
        tags=["carts"],
        parameters=[CART_ID],
        request=CartUpdateInputSerializer,
        responses={200: CartOutputSerializer, 400: E400, **COMMON},
    )
    def patch(self, request: Request, cart_id: str) -> Response:
        cart = selectors.cart_get(user=request.user, cart_id=cart_id)
        _limit_writes(request)
        data = CartUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        cart = services.cart_update(cart=cart, **data.validated_data)
        return Response(_render_carts(request.user, [cart])[0])

    @extend_schema(
        operation_id="carts_destroy",
        summary="Delete a cart",
        description="Removes the cart and its memberships; its items stay in the user's other "
        "carts and in `items/`.",
        tags=["carts"],
        parameters=[CART_ID],
        responses={204: None, **COMMON},
    )
    def delete(self, request: Request, cart_id: str) -> Response:
        cart = selectors.cart_get(user=request.user, cart_id=cart_id)
        _limit_writes(request)
        services.cart_delete(cart=cart)
        return Response(status=status.HTTP_204_NO_CONTENT)
