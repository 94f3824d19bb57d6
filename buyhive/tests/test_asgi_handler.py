"""The ASGI application (uvicorn workers) answers as the WSGI one does; a request blocked in its
sync code, or abandoned by its client, holds up no other request (buyhive.asgi_handler)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import Client
from django.urls import include, path

from accounts.tokens import issue_tokens
from buyhive.tests.asgi_scope import http_scope

EXTENSION_ORIGIN = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"

_release = threading.Event()


def _blocked(request: HttpRequest) -> HttpResponse:
    """A sync view that waits until another request has been answered (at most 10 s)."""
    released = _release.wait(timeout=10)
    return JsonResponse({"released": released})


urlpatterns = [
    path("blocked/", _blocked),
    path("", include("buyhive.urls")),
]


async def _asgi_get(
    path: str, headers: dict[str, str], finished: list[str], *, leave: asyncio.Event | None = None
) -> dict[str, Any]:
    """GET through ``buyhive.asgi.application`` as uvicorn would: the client disconnects once
    the response is sent, or when ``leave`` is set."""
    from buyhive.asgi import application

    done = asyncio.Event()
    answer: dict[str, Any] = {"headers": {}, "body": b""}
    state = {"received": False}

    async def receive() -> dict[str, Any]:
        if not state["received"]:
            state["received"] = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await (leave or done).wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            for name, value in message["headers"]:
                answer["headers"][name.decode().lower()] = value.decode()
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")
            if not message.get("more_body", False):
                finished.append(path)
                done.set()

    await application(http_scope("GET", path, headers), receive, send)
    return answer


def test_asgi_answers_an_api_request_with_the_same_body_and_headers_as_wsgi(user: Any) -> None:
    token = issue_tokens(user)["access"]
    headers = {"authorization": f"Bearer {token}", "origin": EXTENSION_ORIGIN}
    asgi = asyncio.run(_asgi_get("/api/v1/auth/me/", headers, []))
    wsgi = Client().get(
        "/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ORIGIN=EXTENSION_ORIGIN
    )
    assert asgi["status"] == wsgi.status_code == 200
    assert json.loads(asgi["body"]) == wsgi.json()
    assert json.loads(asgi["body"])["email"] == user.email
    assert set(asgi["headers"]) == {name.lower() for name in wsgi.headers}
    for name in (
        "x-frame-options",
        "x-content-type-options",
        "referrer-policy",
        "cross-origin-opener-policy",
        "access-control-allow-origin",
        "vary",
    ):
        assert asgi["headers"][name] == wsgi.headers[name], name
    assert len(asgi["headers"]["x-request-id"]) == 36


def test_asgi_api_error_is_the_envelope_with_the_request_id(db: Any) -> None:
    answer = asyncio.run(_asgi_get("/api/v1/auth/me/", {"authorization": "Bearer x.y.z"}, []))
    assert answer["status"] == 401
    payload = json.loads(answer["body"])
    assert payload["error"]["code"] == "token_invalid"
    assert payload["request_id"] == answer["headers"]["x-request-id"]


@pytest.mark.urls(__name__)
def test_a_request_blocked_in_its_sync_code_holds_up_no_other(db: Any) -> None:
    """Each request's sync code runs on a thread of its own: /health is answered while the
    blocked request waits, and only then is the blocked one released."""
    _release.clear()
    finished: list[str] = []

    async def both() -> tuple[dict[str, Any], dict[str, Any], float]:
        blocked = asyncio.ensure_future(_asgi_get("/blocked/", {}, finished))
        await asyncio.sleep(0.2)  # the blocked request is in its view by now
        started = time.monotonic()
        health = await _asgi_get("/health", {}, finished)
        waited = time.monotonic() - started
        _release.set()
        return await blocked, health, waited

    # asyncio.run, as a server runs the app (async_to_sync would pin sync code to this thread).
    blocked, health, waited = asyncio.run(both())
    assert health["status"] == 200
    assert waited < 5
    assert blocked["status"] == 200
    assert json.loads(blocked["body"]) == {"released": True}
    assert finished == ["/health", "/blocked/"]


@pytest.mark.urls(__name__)
def test_a_request_abandoned_by_its_client_holds_up_no_later_request(db: Any) -> None:
    """The client leaves while the view is blocked: Django stops waiting for the view, whose
    thread goes on. The next request is served on another thread meanwhile."""
    _release.clear()
    finished: list[str] = []

    async def scenario() -> tuple[dict[str, Any], float]:
        gone = asyncio.Event()
        abandoned = asyncio.ensure_future(_asgi_get("/blocked/", {}, finished, leave=gone))
        await asyncio.sleep(0.2)  # the view is blocked by now
        gone.set()
        await asyncio.sleep(0.1)
        started = time.monotonic()
        health = await _asgi_get("/health", {}, finished)
        waited = time.monotonic() - started
        _release.set()
        await asyncio.wait_for(abandoned, timeout=15)
        return health, waited

    try:
        health, waited = asyncio.run(scenario())
    finally:
        _release.set()
    assert health["status"] == 200
    assert waited < 5
    assert finished == ["/health"]  # nothing is sent to a client that left


def test_the_served_handler_runs_the_middleware_in_sync_mode() -> None:
    """What saves the hand-offs: ``buyhive.asgi`` serves our handler, whose middleware chain
    is the sync one (Django's own ``ASGIHandler`` builds a coroutine chain and adapts each
    sync middleware to it); every answer above would be the same without it."""
    import asyncio

    from buyhive import asgi
    from buyhive.asgi_handler import SyncStackASGIHandler

    handler = asgi.django_application
    assert isinstance(handler, SyncStackASGIHandler)
    assert not asyncio.iscoroutinefunction(handler._middleware_chain)
