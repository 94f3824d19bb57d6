"""Error views outside DRF: the same JSON envelope as the API."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from buyhive.errors import envelope_response


def api_not_found(request: HttpRequest) -> JsonResponse:
    return envelope_response(request, status=404, code="not_found", message="Not found.")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return envelope_response(request, status=400, code="bad_request", message="Bad request.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return envelope_response(
        request, status=403, code="permission_denied", message="Permission denied."
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return envelope_response(request, status=404, code="not_found", message="Not found.")


def server_error(request: HttpRequest) -> JsonResponse:
    return envelope_response(
        request, status=500, code="server_error", message="An unexpected error occurred."
    )
