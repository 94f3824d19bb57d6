"""The check endpoints (image verification, page classification) and the pages users shared
for the page check's labelling (``page-samples/``)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from buyhive.pagination import LimitOffsetPagination
from buyhive.ratelimit import enforce
from buyhive.serializers import (
    HttpUrlField,
    ImageCheckSerializer,
    PageCheckSerializer,
    StrictCharField,
)
from mlverify import selectors, services
from mlverify.clip.service import verify_image
from mlverify.models import PageSample
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


# --------------------------------------------------------------------- pages shared for labelling


@extend_schema_serializer(component_name="PageSample")
class PageSampleSerializer(serializers.Serializer):
    id = serializers.CharField(read_only=True)
    url = serializers.CharField()
    title = serializers.CharField()
    page_type = serializers.CharField(
        source="verdict", allow_blank=True, help_text="What the page check said of the page."
    )
    reviewed = serializers.SerializerMethodField(
        help_text="Whether a person has labelled it (it is then kept for training)."
    )
    reviewed_as = serializers.CharField(
        source="label",
        read_only=True,
        help_text=(
            "The kind of page a person labelled it (the page-types kinds: product, collection, "
            "listing, service, forum, documentation, article); empty until reviewed."
        ),
    )
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(
        allow_null=True, help_text="When it is deleted unless reviewed first; null once reviewed."
    )

    def get_reviewed(self, sample: PageSample) -> bool:
        return bool(sample.label)


class PageSampleListApi(APIView):
    pagination_class = LimitOffsetPagination

    @extend_schema(
        operation_id="page_samples_list",
        summary="The pages the user shared for review, newest first",
        tags=["page samples"],
        responses={200: PageSampleSerializer(many=True), **_ERRORS},
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        queryset = selectors.page_sample_list(user=request.user)
        page = list(paginator.paginate_queryset(queryset, request, self) or [])
        return paginator.get_paginated_response(PageSampleSerializer(page, many=True).data)


class PageSampleDetailApi(APIView):
    @extend_schema(
        operation_id="page_samples_delete",
        summary="Delete a page the user shared (reviewed or not)",
        tags=["page samples"],
        responses={
            204: None,
            401: _ERRORS[401],
            404: OpenApiResponse(description="not_found: unknown, or another user's"),
        },
    )
    def delete(self, request: Request, sample_id: str) -> Response:
        sample = selectors.page_sample_get(user=request.user, sample_id=sample_id)
        services.page_sample_delete(sample=sample)
        return Response(status=status.HTTP_204_NO_CONTENT)
