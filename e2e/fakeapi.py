"""A stand-in for the BuyHive API on loopback, for what the real backend cannot be made to do
on demand: answer 413, 429 or a 5xx, or (until the price watch lands) serve ``watch/urls/``,
take observations and count notifications. It speaks the real contract (architecture.md):
paths under ``/api/v1/``, the error envelope, ``ETag``/``If-None-Match``, ``Retry-After``.
Every request is recorded so a test can check what the extension sent.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def envelope(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}, "request_id": "fake-request"}


class FakeApi:
    """Routes: ``(method, path with query)`` -> :class:`Answer`, or a callable of the request."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Any] = {}
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                path = self.path.removeprefix("/api/v1/")
                request = Recorded(self.command, path, dict(self.headers.items()), body)
                with fake._lock:
                    fake.requests.append(request)
                    route = fake.routes.get((self.command, path))
                answer = route(request) if callable(route) else route
                if answer is None:
                    answer = Answer(404, envelope("not_found", "Not found."))
                payload = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def route(self, method: str, path: str, answer: Any) -> None:
        with self._lock:
            self.routes[(method, path)] = answer

    def sent(self, method: str, path_prefix: str) -> list[Recorded]:
        with self._lock:
            return [
                r for r in self.requests if r.method == method and r.path.startswith(path_prefix)
            ]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


FAKE_USER = {"id": "fake-user", "email": "fake@example.com", "name": "", "avatar_url": ""}
FAKE_CART = {
    "id": "fake-cart",
    "name": "Fake cart",
    "description": "",
    "item_count": 0,
    "totals": [],
    "share_url": None,
}


def signed_in_auth() -> dict[str, Any]:
    """What the service worker keeps after a sign-in (tokens the fake does not check)."""
    return {
        "access": "fake-access",
        "refresh": "fake-refresh",
        "accessExpiresAt": 4102444800000,  # 2100: never refreshed ahead of time
        "user": FAKE_USER,
    }


def with_a_cart(api: FakeApi) -> None:
    """The calls a popup makes on opening: one cart, a product page check, no watch."""
    api.route(
        "GET",
        "carts/?limit=200",
        Answer(200, {"count": 1, "next": None, "previous": None, "results": [FAKE_CART]}),
    )
    api.route(
        "POST",
        "classify/url/",
        Answer(
            200,
            {
                "status": "ok",
                "is_product": True,
                "score": 0.9,
                "threshold": 0.5,
                "method": "model",
                "model": "fake",
                "reason": None,
            },
        ),
    )
