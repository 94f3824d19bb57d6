"""The check endpoints: image verification and page classification."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from buyhive.ratelimit import enforce
from buyhive.serializers import (
    HttpUrlField,
    ImageCheckSerializer,
    PageCheckSerializer,
    StrictCharField,
)
from mlverify.clip.service import verify_image
from mlverify.page_check.services import classify_url

MAX_HTML_CHARS = 2 * 1024 * 1024  # as extract/ takes

_ERRORS = {
    400: OpenApiResponse(description="validation_error"),
    401: OpenApiResponse(description="not_authenticated / token_invalid"),
    429: OpenApiResponse(description="rate_limited (with Retry-After)"),
}


class VerifyImageApi(APIView):
    @extend_schema_serializer(component_name="VerifyImageInput")
    class InputSerializer(serializers.Serializer):
        image_url = HttpUrlField()
        product_name = serializers.CharField(max_length=300, trim_whitespace=True)

    @extend_schema(
        operation_id="verify_image",
        request=InputSerializer,
        responses={
            200: ImageCheckSerializer,
            422: OpenApiResponse(description="image_fetch_failed"),
            **_ERRORS,
        },
        summary="Does the image show the named product? (CLIP)",
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        enforce(
            request,
            group="verify_image",
            rate=settings.RATE_VERIFY_IMAGE_USER,
            key=f"user:{request.user.pk}",
            fail_open=True,
        )
        result = verify_image(
            image_url=data.validated_data["image_url"],
            product_name=data.validated_data["product_name"],
            owner=str(request.user.pk),
        )
        return Response(ImageCheckSerializer(result.as_dict("match")).data)


class ClassifyUrlApi(APIView):
    @extend_schema_serializer(component_name="ClassifyUrlInput")
    class InputSerializer(serializers.Serializer):
        url = HttpUrlField()
        title = serializers.CharField(
            max_length=500, required=False, allow_blank=True, allow_null=True
        )
        html = StrictCharField(
            strip_nul=True,
            required=False,
            allow_blank=True,
            allow_null=True,
            max_length=MAX_HTML_CHARS,
            trim_whitespace=False,
            help_text=(
                "The page's HTML, when the client can read it: the check then also reads the "
                "page's structure (method model+page) and tells a grid of products apart."
            ),
        )

    @extend_schema(
        operation_id="classify_url",
        request=InputSerializer,
        responses={200: PageCheckSerializer, **_ERRORS},
        summary="Is this page one product, a grid of products, or something else?",
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        enforce(
            request,
            group="classify_url",
            rate=settings.RATE_CLASSIFY_USER,
            key=f"user:{request.user.pk}",
            fail_open=True,
        )
        result = classify_url(
            url=data.validated_data["url"],
            title=data.validated_data.get("title") or None,
            html=data.validated_data.get("html") or None,
        )
        return Response(PageCheckSerializer(result.as_dict("is_product")).data)
