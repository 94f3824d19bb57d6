"""The carts API: thin DRF views over ``carts.selectors`` (reads) and ``carts.services`` (writes).

Every view finds the user's objects through a selector scoped to ``request.user``: another
user's cart or item is a 404 on every verb, exactly like an unknown id. Input serializers list
the fields a client may send; nothing else (``owner``...) is read. Writes count against
``RATE_WRITE_USER`` per user (failing open: a counter outage must not stop users saving);
sharing by email counts against ``RATE_SHARE_USER`` and fails closed (it sends mail).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from buyhive.client_ip import client_rate_key
from buyhive.exceptions import ValidationFailed
from buyhive.pagination import LimitOffsetPagination
from buyhive.product.availability import AVAILABILITY_TERMS
from buyhive.ratelimit import enforce
from buyhive.serializers import HttpUrlStringField
from carts import models as m
from carts import selectors, services
from carts.models import Cart, Item
from carts.serializers import (
    CartItemOutputSerializer,
    CartOutputSerializer,
    ErrorSerializer,
    ItemFieldsInputSerializer,
    ItemOutputSerializer,
    SharedCartSerializer,
)
from carts.validation import MAX_SEARCH_LENGTH
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


# ------------------------------------------------------------------------------------ carts


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
        # The carts are few (MAX_CARTS_PER_USER): one read of all of them, paged in memory,
        # instead of a count command and a page read (issue 16's budget for this list).
        carts = list(selectors.cart_list(user=request.user))
        page: list[Cart] | None = paginator.paginate_queryset(carts, request, self)  # type: ignore[arg-type]
        body = _render_carts(request.user, list(page or []), request)
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


# ------------------------------------------------------------------------------- cart items


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
    def get(self, request: Request, cart_id: str) -> Response:
        paginator = self.pagination_class()
        offset, limit = paginator.start_page(request)
        count, page = selectors.cart_membership_page(
            user=request.user, cart_id=cart_id, offset=offset, limit=limit
        )
        items = selectors.items_by_id(user=request.user, item_ids=[ms.item_id for ms in page])
        pairs = [(ms, items[ms.item_id]) for ms in page if ms.item_id in items]
        return paginator.paginated(_render_cart_items(request.user, pairs), count=count)

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
        item, membership, created, item_created = services.cart_add_item(
            cart=cart,
            item_id=item_id,
            data=None if item_id is not None else fields,
            quantity=quantity,
            note=note,
        )
        known = {item.pk: [str(cart.pk)]} if item_created else None
        body = _render_cart_items(request.user, [(membership, item)], known)[0]
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


# ------------------------------------------------------------------------------------ items


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


# ---------------------------------------------------------------------------------- sharing


@extend_schema_serializer(component_name="CartShareInput")
class CartShareInputSerializer(serializers.Serializer):
    emails = serializers.ListField(
        child=serializers.EmailField(max_length=254),
        min_length=1,
        max_length=settings.MAX_SHARE_RECIPIENTS,
    )
    message = serializers.CharField(
        max_length=m.NOTE_MAX, required=False, allow_blank=True, default=""
    )


@extend_schema_serializer(component_name="CartShareResult")
class CartShareOutputSerializer(serializers.Serializer):
    recipients = serializers.IntegerField()
    share_url = serializers.URLField()


@extend_schema_serializer(component_name="ShareLink")
class ShareLinkOutputSerializer(serializers.Serializer):
    token = serializers.CharField()
    url = serializers.URLField()


class CartShareApi(APIView):
    @extend_schema(
        operation_id="carts_share",
        summary="Email a read-only view of the cart",
        description=(
            f"Up to {settings.MAX_SHARE_RECIPIENTS} addresses. The mail (text + HTML) lists the "
            "items with prices, images and links, and carries the cart's public link (created "
            "when missing) and a one-click unsubscribe. The mail is queued and sent by the "
            "worker: the answer does not wait for it. Only a confirmed email address may share "
            "by mail: otherwise 403 `email_unverified` (the first refusal mails a confirmation "
            "link). The subject carries only the cart name; Reply-To is the sender's confirmed "
            "address. Rate-limited per user (RATE_SHARE_USER), and capped per UTC day per "
            "recipient from all senders, per account and in all (SHARE_MAILS_*): 429 with "
            "`Retry-After`."
        ),
        tags=["sharing"],
        parameters=[CART_ID],
        request=CartShareInputSerializer,
        responses={
            202: CartShareOutputSerializer,
            400: E400,
            403: _error("email_unverified: confirm the account's email address first"),
            503: E503,
            **COMMON,
        },
    )
    def post(self, request: Request, cart_id: str) -> Response:
        cart = selectors.cart_get(user=request.user, cart_id=cart_id)
        data = CartShareInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        enforce(
            request,
            group="carts-share",
            rate=settings.RATE_SHARE_USER,
            key=f"user:{request.user.pk}",
            fail_open=False,
        )
        queued = services.cart_share_by_email(
            cart=cart,
            sender=request.user,
            emails=data.validated_data["emails"],
            message=data.validated_data["message"],
        )
        body = {"recipients": queued, "share_url": services.share_url(cart.share_token or "")}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class CartShareLinkApi(APIView):
    @extend_schema(
        operation_id="carts_share_link_create",
        summary="Create (or return) the cart's public read-only link",
        tags=["sharing"],
        parameters=[CART_ID],
        request=None,
        responses={200: ShareLinkOutputSerializer, 201: ShareLinkOutputSerializer, **COMMON},
    )
    def post(self, request: Request, cart_id: str) -> Response:
        cart = selectors.cart_get(user=request.user, cart_id=cart_id)
        _limit_writes(request)
        token, created = services.cart_share_link_create(cart=cart)
        return Response(
            {"token": token, "url": services.share_url(token)},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="carts_share_link_revoke",
        summary="Revoke the cart's public link",
        tags=["sharing"],
        parameters=[CART_ID],
        responses={204: None, **COMMON},
    )
    def delete(self, request: Request, cart_id: str) -> Response:
        cart = selectors.cart_get(user=request.user, cart_id=cart_id)
        _limit_writes(request)
        services.cart_share_link_revoke(cart=cart)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SharedCartApi(APIView):
    """The public read-only view of a shared cart: JSON, or an HTML page for a browser.

    No owner data: not the owner's name or email, not the items' ids, notes or extraction
    details. Counted per client IP (``RATE_SHARED_VIEW_IP``, failing open).
    """

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    renderer_classes = [JSONRenderer, TemplateHTMLRenderer]
    template_name = "carts/shared_cart.html"

    @extend_schema(
        operation_id="shared_cart_retrieve",
        summary="A shared cart (public)",
        description="The cart's name and items; no owner data. 404 once the link is revoked.",
        tags=["sharing"],
        auth=[],
        parameters=[OpenApiParameter("token", OpenApiTypes.STR, OpenApiParameter.PATH)],
        responses={200: SharedCartSerializer, 404: E404, 429: E429},
    )
    def get(self, request: Request, token: str) -> Response:
        enforce(
            request,
            group="carts-shared-view",
            rate=settings.RATE_SHARED_VIEW_IP,
            key=client_rate_key(request),
            fail_open=True,
        )
        cart = selectors.shared_cart_get(token=token)
        rows = selectors.membership_rows(user=cart.owner_id, cart=cart)
        summary = selectors.cart_summaries(user=cart.owner_id, carts=[cart])[cart.pk]
        items = []
        for membership, item in rows:
            item.membership = membership  # type: ignore[attr-defined]
            items.append(item)
        body = SharedCartSerializer(
            {
                "name": cart.name,
                "description": cart.description,
                "item_count": summary.item_count,
                "totals": summary.totals_list(),
                "items": items,
            }
        ).data
        response = Response(body)
        response["Cache-Control"] = "private, no-store"
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response
