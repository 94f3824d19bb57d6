"""An OpenAI-compatible chat-completions server on loopback, scriptable per test.

The real ``groq`` and ``openai`` SDKs are pointed at it with ``base_url``, so tests exercise the
SDKs' own request building, error mapping and response parsing, with no network and no mocks:

- the openai SDK posts to ``{base_url}/chat/completions``; with ``base_url=server.openai_base_url``
  (``http://127.0.0.1:<port>/v1``) that is ``/v1/chat/completions``;
- the groq SDK posts to ``{base_url}/openai/v1/chat/completions``; with
  ``base_url=server.groq_base_url`` (``http://127.0.0.1:<port>``) that is
  ``/openai/v1/chat/completions``.

Each test queues :class:`FakeReply` objects (consumed in order, one per request; the ``default``
reply answers when the queue is empty) and asserts on :attr:`FakeLLMServer.requests`, which
records every request's path, headers and JSON body.

Usage::

    with FakeLLMServer() as server:
        server.queue(FakeReply.json({"title": None}), FakeReply.error(500))
        ...
        assert server.request_count == 2
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHAT_PATHS = ("/v1/chat/completions", "/openai/v1/chat/completions")


@dataclass(frozen=True)
class FakeReply:
    """What the server answers to one request.

    ``content`` is the assistant message's content (any string, valid JSON or not);
    ``raw_body`` replaces the whole HTTP body; ``delay`` is slept before answering (to
    trigger client timeouts); ``status`` other than 200 answers an OpenAI-style error body.
    """

    status: int = 200
    content: str | None = None
    raw_body: bytes | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    finish_reason: str = "stop"
    refusal: str | None = None

    @classmethod
    def json(cls, data: dict[str, Any], **kwargs: Any) -> FakeReply:
        """A successful completion whose message content is ``data`` serialised as JSON."""
        return cls(content=json.dumps(data), **kwargs)

    @classmethod
    def text(cls, content: str, **kwargs: Any) -> FakeReply:
        """A successful completion whose message content is ``content`` verbatim."""
        return cls(content=content, **kwargs)

    @classmethod
    def error(cls, status: int, *, headers: dict[str, str] | None = None) -> FakeReply:
        """An error answer with an OpenAI-style error body."""
        return cls(status=status, headers=dict(headers or {}))

    @classmethod
    def rate_limited(cls, *, retry_after: int = 1) -> FakeReply:
        """A 429 with ``Retry-After`` (seconds)."""
        return cls(status=429, headers={"Retry-After": str(retry_after)})

    @classmethod
    def slow(cls, seconds: float, data: dict[str, Any] | None = None) -> FakeReply:
        """A valid answer sent only after ``seconds``: long enough to trip a client timeout."""
        return cls(content=json.dumps(data or {}), delay=seconds)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received (recorded before any scripted delay)."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    raw: bytes
    received_at: float

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.body or {}).get("messages") or [])

    def message(self, role: str) -> str:
        """The content of the first message with ``role`` ("" when absent)."""
        for msg in self.messages:
            if msg.get("role") == role:
                content = msg.get("content")
                return content if isinstance(content, str) else json.dumps(content)
        return ""

    @property
    def system(self) -> str:
        return self.message("system")

    @property
    def user(self) -> str:
        return self.message("user")

    @property
    def max_output_tokens(self) -> int | None:
        """``max_completion_tokens`` or the older ``max_tokens``, whichever the SDK sent."""
        body = self.body or {}
        value = body.get("max_completion_tokens", body.get("max_tokens"))
        return int(value) if value is not None else None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_api_key",
    404: "not_found_error",
    429: "rate_limit_exceeded",
}


class _Handler(BaseHTTPRequestHandler):
    server: _Server  # narrowed for type checkers
    protocol_version = "HTTP/1.0"  # one request per connection: simple and deterministic

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def do_GET(self) -> None:
        self._send_json(404, {"error": {"message": "not found", "type": "not_found_error"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        fake = self.server.fake
        recorded = RecordedRequest(
            method="POST",
            path=self.path,
            headers=dict(self.headers.items()),
            body=body if isinstance(body, dict) else None,
            raw=raw,
            received_at=time.monotonic(),
        )
        reply = fake._record_and_pick(recorded)
        if self.path.split("?", 1)[0] not in CHAT_PATHS:
            self._send_json(404, {"error": {"message": "unknown path", "type": "not_found_error"}})
            return
        if reply.delay > 0 and fake._stopping.wait(reply.delay):
            return  # server shutting down: drop the connection
        # The client may have given up (timeout) before the scripted delay ended.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer(reply, recorded)

    def _answer(self, reply: FakeReply, recorded: RecordedRequest) -> None:
        if reply.raw_body is not None:
            self._send_raw(reply.status, reply.raw_body, reply.headers)
            return
        if reply.status != 200:
            payload = {
                "error": {
                    "message": f"fake error {reply.status}",
                    "type": _ERROR_TYPES.get(reply.status, "server_error"),
                    "code": None,
                }
            }
            self._send_json(reply.status, payload, reply.headers)
            return
        model = (recorded.body or {}).get("model") or "fake-model"
        content = reply.content if reply.content is not None else "{}"
        payload = {
            "id": f"chatcmpl-fake-{self.server.fake.request_count}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": reply.refusal},
                    "finish_reason": reply.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": len(recorded.raw) // 4,
                "completion_tokens": len(content) // 4,
                "total_tokens": len(recorded.raw) // 4 + len(content) // 4,
            },
        }
        self._send_json(200, payload, reply.headers)

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(payload).encode(), headers, "application/json")

    def _send_raw(
        self,
        status: int,
        data: bytes,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeLLMServer


class FakeLLMServer:
    """A threaded chat-completions server on ``127.0.0.1:<free port>``."""

    def __init__(self, *, default: FakeReply | None = None) -> None:
        self.default = default or FakeReply.json({})
        self._queue: list[FakeReply] = []
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> FakeLLMServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeLLMServer is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_base_url(self) -> str:
        """``base_url`` for the openai SDK (it appends ``/chat/completions``)."""
        return f"{self.url}/v1"

    @property
    def groq_base_url(self) -> str:
        """``base_url`` for the groq SDK (it appends ``/openai/v1/chat/completions``)."""
        return self.url

    # -- scripting and assertions ---------------------------------------------------------
    def queue(self, *replies: FakeReply) -> None:
        """Answer the next requests with ``replies``, in order."""
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._requests.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    def _record_and_pick(self, recorded: RecordedRequest) -> FakeReply:
        with self._lock:
            self._requests.append(recorded)
            return self._queue.pop(0) if self._queue else self.default


@contextlib.contextmanager
def configured_fake_llm(settings: Any, *, openai: bool) -> Iterator[FakeLLMServer]:
    """A fake the project's LLM clients are configured for (pytest-django's ``settings``):
    groq always, and openai as its fallback when ``openai`` (else no openai key)."""
    with FakeLLMServer() as server:
        settings.GROQ_API_KEY = "test-groq-key"
        settings.GROQ_BASE_URL = server.groq_base_url
        settings.OPENAI_API_KEY = "test-openai-key" if openai else ""
        if openai:
            settings.OPENAI_BASE_URL = server.openai_base_url
        yield server
