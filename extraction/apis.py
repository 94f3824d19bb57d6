"""``POST /api/v1/extract/``: a shop's page in, the product (and optionally the saved item) out."""

from __future__ import annotations

from typing import Any

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
from carts.selectors import item_cart_ids
from carts.serializers import ItemOutputSerializer
from extraction import services

MAX_HTML_CHARS = 2 * 1024 * 1024
MAX_TEXT_CHARS = 200_000
#: The document title sent beside the text (``document.title``; the extractor reads 300).
MAX_TITLE_CHARS = 1000
MAX_IMAGE_URLS = 50
MAX_CART_IDS = 50


class ProductSerializer(serializers.Serializer):
    title = serializers.CharField(allow_null=True)
    price = serializers.CharField(allow_null=True, help_text='Decimal string, e.g. "19.99".')
    currency = serializers.CharField(allow_null=True, help_text="ISO 4217 code.")
    availability = serializers.CharField(allow_null=True, help_text="schema.org term.")
    brand = serializers.CharField(allow_null=True)
    sku = serializers.CharField(allow_null=True)
    gtin = serializers.CharField(allow_null=True)
    mpn = serializers.CharField(allow_null=True)
    description = serializers.CharField(allow_null=True)
    image = serializers.CharField(allow_null=True)
    images = serializers.ListField(child=serializers.CharField())
    variant = serializers.DictField(child=serializers.CharField(), allow_null=True)
    canonical_url = serializers.CharField(allow_null=True)


class ProvenanceSerializer(serializers.Serializer):
    source = serializers.ChoiceField(  # type: ignore[assignment]  # a field named "source"
        choices=["json-ld", "microdata", "opengraph", "heuristic", "llm"]
    )
    confidence = serializers.FloatField(min_value=0, max_value=1)


class LlmSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["used", "not_needed", "not_configured", "unavailable"]
    )
    provider = serializers.CharField(allow_null=True)


def _render_item(user: Any, item: Any) -> dict[str, Any]:
    item.cart_ids = item_cart_ids(user=user, items=[item]).get(item.pk, [])
    return dict(ItemOutputSerializer(item).data)


@extend_schema_serializer(component_name="PageSampleOutcome")
class PageSampleOutcomeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["kept", "limit_reached"])
    id = serializers.CharField(allow_null=True)


# A page as the extension sends it: its address and its html, visible text or both. Shared by
# extract/ and watch/observations/ (a comment, not a docstring: drf-spectacular would publish it).
class PageInputSerializer(serializers.Serializer):
    url = HttpUrlField()
    html = StrictCharField(
        strip_nul=True,
        required=False,
        allow_blank=True,
        max_length=MAX_HTML_CHARS,
        trim_whitespace=False,
    )
    text = StrictCharField(
        strip_nul=True,
        required=False,
        allow_blank=True,
        max_length=MAX_TEXT_CHARS,
        trim_whitespace=False,
    )
    title = StrictCharField(
        strip_nul=True,
        required=False,
        allow_blank=True,
        max_length=MAX_TITLE_CHARS,
        help_text=(
            "The page's document title (document.title). The body's text does not hold it, "
            "and the text is read with it."
        ),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("html") and not attrs.get("text"):
            message = "Send the page's html, its visible text, or both."
            raise serializers.ValidationError({"html": [message], "text": [message]})
        return attrs


def page_input(
    request: Request, serializer_class: type[PageInputSerializer], *, group: str
) -> dict[str, Any]:
    """The validated body of a page-reading endpoint, once the user is within its limit.

    Every endpoint that reads a page the extension sent (extract/, watch/observations/) costs
    the same: per user, ``RATE_EXTRACT_USER``, failing open when the counter store is down.
    """
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    enforce(
        request,
        group=group,
        rate=settings.RATE_EXTRACT_USER,
        key=f"user:{request.user.pk}",
        fail_open=True,
    )
    return dict(data.validated_data)


class ExtractApi(APIView):
    @extend_schema_serializer(component_name="ExtractInput")
    class InputSerializer(PageInputSerializer):
        image_urls = serializers.ListField(
            child=HttpUrlField(), required=False, max_length=MAX_IMAGE_URLS
        )
        cart_ids = serializers.ListField(
            child=serializers.CharField(max_length=64),
            required=False,
            max_length=MAX_CART_IDS,
            allow_empty=True,
        )
        share_page = serializers.BooleanField(
            required=False,
            default=False,
            help_text=(
                "The user agrees to send this page (its html) for a person to review, so the "
                "page check learns from it (GET page-samples/ lists them)."
            ),
        )

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            attrs = super().validate(attrs)
            if attrs.get("share_page") and not attrs.get("html"):
                raise serializers.ValidationError(
                    {"share_page": ["Send the page's html to share it for review."]}
                )
            return attrs

    @extend_schema_serializer(component_name="ExtractOutput")
    class OutputSerializer(serializers.Serializer):
        product = ProductSerializer()
        provenance = serializers.DictField(child=ProvenanceSerializer())
        page_check = PageCheckSerializer()
        image_check = ImageCheckSerializer()
        llm = LlmSerializer()
        cached = serializers.BooleanField()
        item = ItemOutputSerializer(
            allow_null=True, help_text="The saved item (as items/{id}/ answers), or null."
        )
        page_sample = PageSampleOutcomeSerializer(
            allow_null=True,
            help_text="When share_page was asked: whether the page was kept for review.",
        )

    @extend_schema(
        operation_id="extract_product",
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: OpenApiResponse(description="validation_error"),
            401: OpenApiResponse(description="not_authenticated / token_invalid"),
            409: OpenApiResponse(description="limit_exceeded (a cart is full)"),
            413: OpenApiResponse(description="payload_too_large (over 4 MB)"),
            429: OpenApiResponse(description="rate_limited (with Retry-After)"),
        },
        summary="Extract the product on a page; save it into carts when cart_ids is given",
    )
    def post(self, request: Request) -> Response:
        params = page_input(request, self.InputSerializer, group="extract")
        outcome = services.product_extract_and_save(
            user=request.user,
            url=params["url"],
            html=params.get("html") or None,
            text=params.get("text") or None,
            title=params.get("title") or None,
            image_urls=params.get("image_urls") or [],
            cart_ids=params.get("cart_ids") or [],
            share_page=params.get("share_page", False),
        )
        item = _render_item(request.user, outcome.item) if outcome.item is not None else None
        body = {**outcome.body, "cached": outcome.cached, "item": item}
        body["page_sample"] = outcome.page_sample.as_dict() if outcome.page_sample else None
        return Response(self.OutputSerializer(body).data)
