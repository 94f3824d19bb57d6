"""Sharing: mail a cart, its public link, and the public read-only view of a shared cart."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from buyhive.client_ip import client_rate_key
from buyhive.ratelimit import enforce
from carts import models as m
from carts import selectors, services
from carts.apis.common import CART_ID, COMMON, E400, E404, E429, E503, _error, _limit_writes
from carts.serializers import SharedCartSerializer


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
