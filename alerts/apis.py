"""Alerts and notifications API: thin DRF views over ``alerts.selectors`` and ``alerts.services``.

The item comes from ``carts.selectors.item_get`` (scoped to the user): an unknown or another
user's item is a 404 on every verb.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts import selectors, services
from alerts.models import KIND_CHOICES
from buyhive.exceptions import ValidationFailed
from buyhive.pagination import LimitOffsetPagination
from buyhive.product.money import amount_to_api
from carts import selectors as cart_selectors
from carts.serializers import ErrorSerializer

E400 = OpenApiResponse(response=ErrorSerializer, description="validation_error (with `fields`)")
E401 = OpenApiResponse(response=ErrorSerializer, description="not_authenticated / token_invalid")
E404 = OpenApiResponse(
    response=ErrorSerializer, description="not_found: unknown, or another user's"
)
ITEM_ID = OpenApiParameter("item_id", OpenApiTypes.STR, OpenApiParameter.PATH)


@extend_schema_field(OpenApiTypes.STR)
class PriceField(serializers.Field):
    """A price as the API writes it: a decimal string at its currency's exponent (``"1500"``
    JPY, ``"19.99"`` EUR), in the alert's currency."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(source="*", **kwargs)

    def to_representation(self, alert: Any) -> str | None:
        return amount_to_api(getattr(alert, self.field_name or ""), currency=alert.base_currency)


@extend_schema_serializer(component_name="Alert")
class AlertSerializer(serializers.Serializer):
    target_price = PriceField(
        allow_null=True, help_text="Notify when the price is at or below this."
    )
    drop_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, allow_null=True, required=False
    )
    back_in_stock = serializers.BooleanField(required=False)
    base_price = PriceField(
        allow_null=True,
        help_text="The item's price when the alert was set: what drop_percent is measured from.",
    )
    currency = serializers.CharField(
        source="base_currency", allow_null=True, read_only=True, help_text="Of the prices."
    )


class ItemAlertApi(APIView):
    @extend_schema(
        operation_id="items_alert_retrieve",
        summary="The item's alert",
        tags=["alerts"],
        parameters=[ITEM_ID],
        responses={200: AlertSerializer, 401: E401, 404: E404},
    )
    def get(self, request: Request, item_id: str) -> Response:
        item = cart_selectors.item_get(user=request.user, item_id=item_id)
        return Response(AlertSerializer(selectors.alert_get(user=request.user, item=item)).data)

    @extend_schema(
        operation_id="items_alert_set",
        summary="Set (or replace) the item's alert",
        description=(
            "At least one of `target_price`, `drop_percent` (from `base_price`, the item's "
            "price now) and `back_in_stock`. Each fires once when it becomes true and re-arms "
            "when it stops being true; a currency change is never a drop."
        ),
        tags=["alerts"],
        parameters=[ITEM_ID],
        request=AlertSerializer,
        responses={200: AlertSerializer, 400: E400, 401: E401, 404: E404},
    )
    def put(self, request: Request, item_id: str) -> Response:
        item = cart_selectors.item_get(user=request.user, item_id=item_id)
        if not isinstance(request.data, dict):
            raise ValidationFailed("Send a JSON object.")
        unknown = sorted(set(request.data) - {"target_price", "drop_percent", "back_in_stock"})
        if unknown:
            raise ValidationFailed(
                "Unknown field.", fields={key: ["This field cannot be set."] for key in unknown}
            )
        alert = services.alert_set(item=item, data=dict(request.data))
        return Response(AlertSerializer(alert).data)

    @extend_schema(
        operation_id="items_alert_delete",
        summary="Remove the item's alert",
        tags=["alerts"],
        parameters=[ITEM_ID],
        responses={204: None, 401: E401, 404: E404},
    )
    def delete(self, request: Request, item_id: str) -> Response:
        item = cart_selectors.item_get(user=request.user, item_id=item_id)
        services.alert_delete(alert=selectors.alert_get(user=request.user, item=item))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SeenSerializer(serializers.Serializer):
    price = serializers.CharField(allow_null=True)
    currency = serializers.CharField(allow_null=True)
    availability = serializers.CharField(allow_null=True)


@extend_schema_serializer(component_name="Notification")
class NotificationSerializer(serializers.Serializer):
    id = serializers.CharField(read_only=True)
    kind = serializers.ChoiceField(choices=KIND_CHOICES)
    item_id = serializers.CharField()
    title = serializers.CharField()
    url = serializers.CharField()
    old = SeenSerializer()
    new = SeenSerializer()
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)


class NotificationListApi(APIView):
    pagination_class = LimitOffsetPagination

    @extend_schema(
        operation_id="notifications_list",
        summary="The user's notifications, newest first",
        tags=["alerts"],
        parameters=[
            OpenApiParameter("unread", OpenApiTypes.BOOL, description="Only the unread ones")
        ],
        responses={200: NotificationSerializer(many=True), 400: E400, 401: E401},
    )
    def get(self, request: Request) -> Response:
        unread_param = (request.query_params.get("unread") or "").lower()
        if unread_param not in ("", "true", "false", "1", "0"):
            raise ValidationFailed("Use true or false.", fields={"unread": ["Use true or false."]})
        queryset = selectors.notification_list(
            user=request.user, unread=unread_param in ("true", "1")
        )
        paginator = self.pagination_class()
        page = list(paginator.paginate_queryset(queryset, request, self) or [])
        return paginator.get_paginated_response(NotificationSerializer(page, many=True).data)


@extend_schema_serializer(component_name="NotificationsReadInput")
class NotificationsReadInputSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=1000
    )
    all = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("ids")) == bool(attrs.get("all")):
            message = 'Give either "ids" or "all": true.'
            raise serializers.ValidationError({"ids": [message]})
        return attrs


class NotificationsReadApi(APIView):
    @extend_schema(
        operation_id="notifications_read",
        summary="Mark notifications read",
        description="`ids` (unknown or another user's: 400, nothing marked) or `all: true`.",
        tags=["alerts"],
        request=NotificationsReadInputSerializer,
        responses={204: None, 400: E400, 401: E401},
    )
    def post(self, request: Request) -> Response:
        data = NotificationsReadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.notifications_mark_read(
            user=request.user,
            ids=data.validated_data.get("ids"),
            all_=bool(data.validated_data.get("all")),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
