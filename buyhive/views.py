"""Views outside DRF: the root page, and errors in the same JSON envelope as the API."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from buyhive.errors import envelope_response

#: What ``GET /`` points to: (name, URL name, what it is).
_ROOT_LINKS = (
    ("docs", "swagger-ui", "the API documentation (Swagger UI)"),
    ("schema", "schema", "the OpenAPI schema"),
    ("admin", "admin:index", "the staff admin"),
    ("health", "health", "liveness"),
    ("ready", "ready", "readiness"),
)


def root(request: HttpRequest) -> HttpResponse:
    """``GET /``: where things are, instead of a 404 for whoever opens the bare address.

    JSON by default (``{"name", "api", "links": {name: absolute URL}}``); a browser that
    prefers HTML gets the same links as a small page.
    """
    if request.method not in ("GET", "HEAD"):
        return envelope_response(
            request,
            status=405,
            code="method_not_allowed",
            message=f'Method "{request.method}" not allowed.',
            headers={"Allow": "GET, HEAD"},
        )
    links = {name: request.build_absolute_uri(reverse(url)) for name, url, _ in _ROOT_LINKS}
    if _prefers_html(request):
        rows = format_html_join(
            "\n",
            '<li><a href="{}">{}</a>: {}</li>',
            ((links[name], name, about) for name, _url, about in _ROOT_LINKS),
        )
        page = format_html(
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            "<title>BuyHive API</title></head><body><h1>BuyHive API</h1>"
            "<p>The API lives under <code>/api/v1/</code>.</p><ul>\n{}\n</ul></body></html>",
            rows,
        )
        return HttpResponse(page, content_type="text/html; charset=utf-8")
    body = {"name": "BuyHive API", "api": request.build_absolute_uri("/api/v1/"), "links": links}
    return JsonResponse(body)


def _prefers_html(request: HttpRequest) -> bool:
    """Whether the client ranks ``text/html`` above JSON in its ``Accept`` (a browser)."""
    for media in request.accepted_types:
        if media.match("application/json"):
            return False
        if media.match("text/html") and media.main_type != "*":
            return True
    return False


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
