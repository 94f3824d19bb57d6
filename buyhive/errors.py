"""The one error envelope of the API, and the DRF exception handler that produces it.

Every error answers::

    {"error": {"code": "not_found", "message": "...", "fields": {...}?}, "request_id": "..."}

with the status listed in architecture.md. Unexpected exceptions are logged with their
traceback and answered with a generic message; nothing internal reaches the client.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, HttpRequest, JsonResponse
from pymongo.errors import ConnectionFailure, PyMongoError
from rest_framework import exceptions as drf
from rest_framework.response import Response

from buyhive.exceptions import DomainError

logger = structlog.get_logger(__name__)

# DRF's default codes mapped to ours.
_AUTH_CODES = {"token_not_valid": "token_invalid", "user_inactive": "token_invalid"}


def request_id_of(request: Any) -> str | None:
    request = getattr(request, "_request", request)  # DRF Request wraps HttpRequest
    return getattr(request, "request_id", None)


def envelope(
    code: str, message: str, request: Any, fields: dict[str, Any] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error, "request_id": request_id_of(request)}


def envelope_response(
    request: HttpRequest,
    *,
    status: int,
    code: str,
    message: str,
    fields: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    """The envelope as a plain Django response, for middleware and non-DRF views."""
    response = JsonResponse(envelope(code, message, request, fields), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def is_database_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached (answered 503, not 500).

    django-mongodb-backend re-raises pymongo errors as Django's ``DatabaseError`` family, so
    the cause chain is walked: only a lost connection or a server-selection timeout counts;
    a duplicate key (``IntegrityError``) or a bad query does not.
    """
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        if isinstance(current, ConnectionFailure):  # includes ServerSelectionTimeoutError
            return True
        if isinstance(current, PyMongoError) and getattr(current, "timeout", False):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


def _flatten_detail(detail: Any) -> Any:
    """DRF's nested ErrorDetail structures as plain JSON (lists of strings per field)."""
    if isinstance(detail, dict):
        return {str(k): _flatten_detail(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_flatten_detail(v) for v in detail]
    return str(detail)


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_message(value)
        return "Invalid input."
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else "Invalid input."
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF ``EXCEPTION_HANDLER``: map every exception to the envelope."""
    request = context.get("request")
    headers: dict[str, str] = {}

    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = drf.ValidationError(
            detail=exc.message_dict
            if hasattr(exc, "error_dict")
            else {"non_field_errors": exc.messages}
        )

    if isinstance(exc, DomainError):
        body = envelope(exc.code, exc.message, request, exc.fields)
        return Response(body, status=exc.status_code, headers=exc.headers or None)

    if isinstance(exc, drf.ValidationError):
        raw: Any = exc.detail
        if not isinstance(raw, dict):
            raw = {"non_field_errors": raw if isinstance(raw, list) else [raw]}
        fields = _flatten_detail(raw)
        body = envelope("validation_error", _first_message(fields), request, fields)
        return Response(body, status=400)

    if isinstance(exc, drf.ParseError):
        return Response(envelope("validation_error", str(exc.detail), request), status=400)

    if isinstance(exc, drf.NotAuthenticated):
        body = envelope(
            "not_authenticated", "Authentication credentials were not provided.", request
        )
        return Response(body, status=401, headers={"WWW-Authenticate": 'Bearer realm="api"'})

    if isinstance(exc, drf.AuthenticationFailed):
        raw_code = exc.get_codes()
        code = raw_code if isinstance(raw_code, str) else "token_invalid"
        code = _AUTH_CODES.get(code, "token_invalid" if code != "not_authenticated" else code)
        detail = exc.detail.get("detail") if isinstance(exc.detail, dict) else exc.detail
        message = str(detail or "The token is invalid or expired.")
        body = envelope(code, message, request)
        return Response(body, status=401, headers={"WWW-Authenticate": 'Bearer realm="api"'})

    if isinstance(exc, drf.NotFound):
        return Response(envelope("not_found", "Not found.", request), status=404)

    if isinstance(exc, drf.PermissionDenied):
        # Another user's object is a 404 elsewhere; a permission refusal that is not about
        # ownership (staff-only) stays a 403.
        return Response(envelope("permission_denied", str(exc.detail), request), status=403)

    if isinstance(exc, drf.Throttled):
        wait = int(getattr(exc, "wait", None) or 60)
        headers["Retry-After"] = str(max(1, wait))
        return Response(
            envelope("rate_limited", "Too many requests. Try again later.", request),
            status=429,
            headers=headers,
        )

    if isinstance(exc, drf.MethodNotAllowed):
        return Response(envelope("method_not_allowed", str(exc.detail), request), status=405)

    if isinstance(exc, drf.NotAcceptable):
        return Response(envelope("not_acceptable", str(exc.detail), request), status=406)

    if isinstance(exc, drf.UnsupportedMediaType):
        return Response(envelope("unsupported_media_type", str(exc.detail), request), status=415)

    if isinstance(exc, drf.APIException):
        codes = exc.get_codes()
        api_code = codes if isinstance(codes, str) else "error"
        return Response(envelope(api_code, str(exc.detail), request), status=exc.status_code)

    if isinstance(exc, IntegrityError) and not is_database_error(exc):
        logger.info("write_conflict", error=str(exc)[:200])
        return Response(
            envelope("conflict", "The request conflicts with the current state.", request),
            status=409,
        )

    if is_database_error(exc):
        logger.error("database_unavailable", error=type(exc).__name__)
        return Response(
            envelope(
                "service_unavailable", "The database is unavailable. Try again shortly.", request
            ),
            status=503,
            headers={"Retry-After": "5"},
        )

    logger.exception("unhandled_exception", exc_info=exc)
    return Response(envelope("server_error", "An unexpected error occurred.", request), status=500)
