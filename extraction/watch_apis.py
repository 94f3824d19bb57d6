"""``POST /api/v1/watch/observations/``: the extension reports a saved product's page."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from extraction.apis import PageInputSerializer, page_input
from extraction.watch import observation_report


class ChangeSerializer(serializers.Serializer):
    # "from" is a keyword: the field is declared through get_fields.
    to = serializers.CharField(allow_null=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = serializers.CharField(allow_null=True)
        return fields


class ChangedSerializer(serializers.Serializer):
    price = ChangeSerializer(required=False)
    availability = ChangeSerializer(required=False)


class ObservationApi(APIView):
    @extend_schema_serializer(component_name="ObservationInput")
    class InputSerializer(PageInputSerializer):
        pass

    @extend_schema_serializer(component_name="ObservationResult")
    class OutputSerializer(serializers.Serializer):
        matched = serializers.BooleanField()
        item_id = serializers.CharField(allow_null=True)
        price = serializers.CharField(allow_null=True)
        currency = serializers.CharField(allow_null=True)
        availability = serializers.CharField(allow_null=True)
        changed = ChangedSerializer()
        counted = serializers.BooleanField(
            help_text="False for a second report of the product within the hour (not recorded)."
        )

    @extend_schema(
        operation_id="watch_observe",
        summary="Report what a saved product's page shows",
        description=(
            "The backend matches the address to the user's items first: `matched: false` when "
            "it is none of them (nothing is extracted, recorded or kept). Otherwise the "
            "deterministic extractor reads the page and the observation is recorded (one "
            "counted report per user, product and hour)."
        ),
        tags=["watch"],
        request=InputSerializer,
        responses={
            202: OutputSerializer,
            400: OpenApiResponse(description="validation_error"),
            401: OpenApiResponse(description="not_authenticated / token_invalid"),
            413: OpenApiResponse(description="payload_too_large (over 4 MB)"),
            429: OpenApiResponse(description="rate_limited (with Retry-After)"),
        },
    )
    def post(self, request: Request) -> Response:
        params = page_input(request, self.InputSerializer, group="watch-observe")
        body = observation_report(
            user=request.user,
            url=params["url"],
            html=params.get("html") or None,
            text=params.get("text") or None,
            title=params.get("title") or None,
        )
        return Response(self.OutputSerializer(body).data, status=status.HTTP_202_ACCEPTED)
