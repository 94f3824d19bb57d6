"""Project-wide middleware: request ids, client IP, rate-limit fields, body limits, and API
errors outside DRF."""

from __future__ import annotations

import asyncio
import io
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from buyhive.client_ip import resolve_client_ip
from buyhive.errors import envelope_response, is_database_error
from buyhive.ratelimit import ratelimit_headers, usages_of

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


class RateLimitHeadersMiddleware:
    """Announce the limits a request was counted against (``RateLimit-Policy``, ``RateLimit``).

    :func:`buyhive.ratelimit.enforce` leaves its counts on the request; this writes them on
    whatever response comes back, a success or the 429 itself, so a client can slow down
    before it is refused. Requests that no limit counted carry no fields.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        for name, value in ratelimit_headers(usages_of(request)).items():
            response[name] = value
        return response


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
    so memory stays bounded either way. Under ASGI (production), Django's handler would read
    the whole body before any middleware runs, so :class:`AsgiBodySizeLimit` enforces the
    same limits in front of it and flags an over-limit body for this middleware to answer.
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
            scope = getattr(request, "scope", None)
            if isinstance(scope, dict) and scope.get(ASGI_BODY_TOO_LARGE):
                return too_large
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
                data = _read_undeclared(request, limit + 1)
                if len(data) > limit:
                    return too_large
                request._body = data  # type: ignore[attr-defined]
                request._stream = io.BytesIO(data)  # type: ignore[attr-defined]
                request._read_started = False  # type: ignore[attr-defined]
                # DRF reads a body only when it declares a length.
                request.META["CONTENT_LENGTH"] = str(len(data))
        return self.get_response(request)


def _read_undeclared(request: HttpRequest, size: int) -> bytes:
    """Up to ``size`` bytes of a body sent without ``Content-Length``.

    Under WSGI (gunicorn's gthread workers, production) Django limits ``wsgi.input`` to the
    declared length, 0 here, so a chunked body would read as empty; gunicorn marks the stream
    it de-chunks as complete (``wsgi.input_terminated``), so it is read from there, never
    past ``size``.
    """
    stream = request.META.get("wsgi.input")
    if stream is not None and request.META.get("wsgi.input_terminated"):
        chunks: list[bytes] = []
        remaining = size
        while remaining > 0:
            chunk = stream.read(min(remaining, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    return request.read(size)


ASGI_BODY_TOO_LARGE = "buyhive.body_too_large"

AsgiApp = Callable[[dict[str, Any], Callable[[], Awaitable[dict[str, Any]]], Any], Awaitable[None]]


class AsgiBodySizeLimit:
    """ASGI wrapper enforcing the body limits before Django's ASGI handler reads the body.

    ``django.core.handlers.asgi.ASGIHandler`` reads the *whole* request body (spilling to a
    temporary file past ``FILE_UPLOAD_MAX_MEMORY_SIZE``) before any middleware runs, so on its
    own a 1 GB upload, declared or chunked, would be received in full before the 413. This
    wrapper reads at most the path's limit plus one chunk:

    * a declared ``Content-Length`` over the limit: nothing of the body is read;
    * a body without a length (chunked) that grows past the limit: reading stops there.

    Either way Django is then called with an empty body (and, for the chunked case, the
    scope flag :data:`ASGI_BODY_TOO_LARGE`), so :class:`BodySizeLimitMiddleware` answers the
    413 envelope through the whole middleware stack (request id, CORS headers, request log).
    Bodies within the limit are buffered (at most the limit: 4 MB) and handed to Django as
    one message; a chunked one gets the ``Content-Length`` header it lacked, so DRF parses it.
    """

    def __init__(self, app: AsgiApp) -> None:
        self.app = app

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]], send: Any
    ) -> None:
        if scope.get("type") != "http" or scope.get("method") not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit = body_limit_for(scope.get("path", ""))
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await self.app(scope, _body_then_disconnect(b"", receive, drain=False), send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away before its body was complete
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                flagged = {**scope, ASGI_BODY_TOO_LARGE: True}
                await self.app(flagged, _body_then_disconnect(b"", receive, drain=False), send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if declared is None:
            # A chunked body, now complete: give it its length, or DRF would read it as empty
            # (DRF's parsers only read a body that declares a Content-Length).
            headers = [
                (k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"
            ]
            scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        await self.app(scope, _body_then_disconnect(body, receive, drain=True), send)


def _declared_length(scope: dict[str, Any]) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # Django's middleware answers 400 for a malformed length
    return None


def _body_then_disconnect(
    body: bytes, receive: Callable[[], Awaitable[dict[str, Any]]], *, drain: bool
) -> Callable[[], Awaitable[dict[str, Any]]]:
    """A ``receive`` that gives ``body`` once, then only waits for the client to disconnect.

    ``drain=False`` (the rest of an over-limit body is still on the wire): never read it;
    Django cancels this wait once its 413 is sent, and the server drops the connection.
    """
    state = {"sent": False}

    async def replay() -> dict[str, Any]:
        if not state["sent"]:
            state["sent"] = True
            return {"type": "http.request", "body": body, "more_body": False}
        if not drain:
            await asyncio.Event().wait()  # cancelled by Django when the response is done
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return message

    return replay


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
