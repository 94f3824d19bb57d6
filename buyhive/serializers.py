"""Serializer pieces shared by every app: safe URLs and the check result shape."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.validators import ProhibitNullCharactersValidator
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from rest_framework import serializers

MAX_URL_LENGTH = 2048

#: What the schema promises for an http(s) URL: the scheme (any case), a host name with at
#: least one dot, an optional port, then printable ASCII. Narrower than what some fields accept
#: (``localhost``, IPv6 literals), never wider, so a client (or a fuzzer) that follows the
#: schema sends addresses every URL field accepts.
HTTP_URL_PATTERN = (
    r"[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:[0-9]{1,4})?([/?#][!-~]*)?"
)


class HttpUrlStringField(serializers.CharField):
    """A CharField documented in the OpenAPI schema as an http(s) URL.

    Validation is the caller's (a ``validate_<field>`` method); :class:`HttpUrlField`
    validates by itself.
    """


class HttpUrlStringFieldSchema(OpenApiSerializerFieldExtension):
    """drf-spectacular: :data:`HTTP_URL_PATTERN` for http(s) URL fields.

    ``allow_blank`` needs nothing here: drf-spectacular adds the empty string itself.
    """

    target_class = HttpUrlStringField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = build_basic_type(OpenApiTypes.STR) or {"type": "string"}
        schema["pattern"] = f"^({HTTP_URL_PATTERN})$"
        return schema


class HttpUrlField(HttpUrlStringField):
    """An absolute http(s) URL of at most 2,048 characters (no javascript:, data:, file:)."""

    default_error_messages = {
        "invalid": "Enter an absolute http or https URL.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_URL_LENGTH)
        kwargs.setdefault("trim_whitespace", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not value:
            return value
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            self.fail("invalid")
        if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
            self.fail("invalid")
        if any(ch.isspace() or ord(ch) < 32 for ch in value):
            self.fail("invalid")
        return value


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers, booleans and other non-strings instead of coercing.

    With ``strip_nul=True`` (page HTML and text, which may carry stray NUL bytes) NULs are
    removed instead of refusing the whole page.
    """

    default_error_messages = {"invalid": "Not a valid string."}

    def __init__(self, *, strip_nul: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.strip_nul = strip_nul
        if strip_nul:
            self.validators = [
                v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)
            ]

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if self.strip_nul:
            data = data.replace("\x00", "")
        return super().to_internal_value(data)


class CheckSerializer(serializers.Serializer):
    """The shape both checks answer (image and page); see architecture.md."""

    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    score = serializers.FloatField(allow_null=True)
    threshold = serializers.FloatField(allow_null=True)
    method = serializers.CharField(allow_null=True)
    model = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_null=True)


class ImageCheckSerializer(CheckSerializer):
    match = serializers.BooleanField(allow_null=True)
    calibrated = serializers.BooleanField(required=False, allow_null=True)


class PageCheckSerializer(CheckSerializer):
    is_product = serializers.BooleanField(allow_null=True)
    # "collection": a grid of several products (the extension asks the user to open one)
    page_type = serializers.ChoiceField(choices=["product", "collection", "other"], allow_null=True)
