"""Project-wide middleware: request ids, client IP, body limits, and API errors outside DRF."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from buyhive.client_ip import resolve_client_ip
from buyhive.errors import envelope_response, is_database_error

logger = structlog.get_logger(__name__)

Handler = Callable[[HttpRequest], HttpResponse]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class RequestIdMiddleware:
    """Give every request an id and echo it as ``X-Request-ID`` on every response.

    A well-formed id sent by the client (or by the load balancer) is kept, so one id
    follows a request through the extension, the ALB and our logs; anything else is
    replaced by a fresh UUID. It runs before django-structlog, which binds the id it
    finds in the header to every log line of the request.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.started_at = time.perf_counter()  # type: ignore[attr-defined]
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = given if _REQUEST_ID.match(given) else str(uuid.uuid4())
        request.META["HTTP_X_REQUEST_ID"] = request_id
        request.request_id = request_id  # type: ignore[attr-defined]
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class ClientIpMiddleware:
    """Set ``request.client_ip`` from ``X-Forwarded-For`` behind trusted proxies."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.client_ip = resolve_client_ip(request)  # type: ignore[attr-defined]
        return self.get_response(request)


def body_limit_for(path: str) -> int:
    """The body size limit for a path: the longest matching prefix, else the default."""
    best = ("", settings.BODY_SIZE_LIMIT_DEFAULT)
    for prefix, limit in settings.BODY_SIZE_LIMITS.items():
        if path.startswith(prefix) and len(prefix) > len(best[0]):
            best = (prefix, limit)
    return best[1]


class BodySizeLimitMiddleware:
    """Answer 413 before a body over the path's limit is parsed.

    A declared ``Content-Length`` over the limit is refused without reading. A body sent
    without a length (chunked) is read up to the limit plus one byte and refused past it,
    so memory stays bounded either way.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in _BODY_METHODS:
            limit = body_limit_for(request.path)
            too_large = envelope_response(
                request,
                status=413,
                code="payload_too_large",
                message=f"The request body is larger than {limit} bytes.",
            )
            declared = request.META.get("CONTENT_LENGTH") or ""
            if declared:
                try:
                    length = int(declared)
                except ValueError:
                    return envelope_response(
                        request, status=400, code="bad_request", message="Bad Content-Length."
                    )
                if length > limit:
                    return too_large
            else:
                data = request.read(limit + 1)
                if len(data) > limit:
                    return too_large
                request._body = data  # type: ignore[attr-defined]
                request._read_started = False  # type: ignore[attr-defined]
        return self.get_response(request)


class ApiErrorMiddleware:
    """Answer with the error envelope for anything that escapes a view under ``/api/``.

    DRF's exception handler covers its views; this covers the rest (Django views, errors
    raised by middleware below this one), in every environment, so an API client never
    sees an HTML page or a traceback, even with ``DEBUG`` on.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not request.path.startswith("/api/"):
            return None
        if is_database_error(exc):
            logger.error("database_unavailable", error=type(exc).__name__)
            return envelope_response(
                request,
                status=503,
                code="service_unavailable",
                message="The database is unavailable. Try again shortly.",
                headers={"Retry-After": "5"},
            )
        logger.exception("unhandled_exception")
        return envelope_response(
            request, status=500, code="server_error", message="An unexpected error occurred."
        )
