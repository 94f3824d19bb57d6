"""The price watch's reads on the carts side: ``GET watch/urls/`` and ``GET items/{id}/history/``.

Thin views over ``carts.watch.selectors``; another user's item is a 404 like an unknown one.
(``POST watch/observations/`` needs the extractor, so it lives in ``extraction``.)
"""

from __future__ import annotations

from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from carts import selectors
from carts.serializers import ErrorSerializer
from carts.watch import selectors as watch_selectors

E400 = OpenApiResponse(response=ErrorSerializer, description="validation_error (with `fields`)")
E401 = OpenApiResponse(response=ErrorSerializer, description="not_authenticated / token_invalid")
E404 = OpenApiResponse(
    response=ErrorSerializer, description="not_found: unknown, or another user's"
)


class WatchItemSerializer(serializers.Serializer):
    item_id = serializers.CharField()
    match = serializers.CharField(help_text='host + path + kept query, e.g. "shop.example.com/p/1"')


class WatchUrlsSerializer(serializers.Serializer):
    drop_params = serializers.ListField(child=serializers.CharField())
    items = WatchItemSerializer(many=True)


class WatchUrlsApi(APIView):
    @extend_schema(
        operation_id="watch_urls",
        summary="What the extension needs to recognise a saved product's page locally",
        description=(
            "`match` is the host (lower case, no `www.`) + the path (no trailing slash) + the "
            "query parameters left after removing those in `drop_params` and any starting "
            "`utm_`, sorted, as `?a=1&b=2`. Send `If-None-Match` with the last `ETag`: 304 "
            "when nothing changed."
        ),
        tags=["watch"],
        parameters=[OpenApiParameter("If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER)],
        responses={200: WatchUrlsSerializer, 304: None, 401: E401},
    )
    def get(self, request: Request) -> Response:
        body, etag = watch_selectors.watch_urls(user=request.user)
        # RFC 9110 13.1.2: weak comparison, and "*" matches any current representation.
        candidates = {
            tag.removeprefix("W/") for tag in parse_etags(request.headers.get("If-None-Match", ""))
        }
        if "*" in candidates or etag.removeprefix("W/") in candidates:
            response = Response(status=304)
        else:
            response = Response(WatchUrlsSerializer(body).data)
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
        return response


class HistoryPointSerializer(serializers.Serializer):
    date = serializers.DateField()
    price = serializers.CharField(allow_null=True)
    currency = serializers.CharField(allow_null=True)
    availability = serializers.CharField(allow_null=True)


class PriceAtSerializer(serializers.Serializer):
    price = serializers.CharField()
    date = serializers.DateField()


class CurrentSerializer(serializers.Serializer):
    price = serializers.CharField(allow_null=True)
    currency = serializers.CharField(allow_null=True)
    availability = serializers.CharField(allow_null=True)
    observed_at = serializers.DateTimeField()


class HistorySerializer(serializers.Serializer):
    item_id = serializers.CharField()
    currency = serializers.CharField(allow_null=True)
    points = HistoryPointSerializer(many=True)
    lowest = PriceAtSerializer(allow_null=True)
    highest = PriceAtSerializer(allow_null=True)
    current = CurrentSerializer()


class ItemHistoryApi(APIView):
    @extend_schema(
        operation_id="items_history",
        summary="An item's price and stock history, one point per day",
        description=(
            "The day's last observation this user may see (their own reports and other "
            "users' confirmed ones). `lowest`/`highest` only compare prices in the item's "
            "current currency."
        ),
        tags=["watch"],
        parameters=[
            OpenApiParameter("item_id", OpenApiTypes.STR, OpenApiParameter.PATH),
            OpenApiParameter("days", OpenApiTypes.INT, description="1 to 365 (default 90)"),
        ],
        responses={200: HistorySerializer, 400: E400, 401: E401, 404: E404},
    )
    def get(self, request: Request, item_id: str) -> Response:
        item = selectors.item_get(user=request.user, item_id=item_id)
        days = watch_selectors.clean_history_days(request.query_params.get("days"))
        body = watch_selectors.item_history(user=request.user, item=item, days=days)
        return Response(HistorySerializer(body).data)
