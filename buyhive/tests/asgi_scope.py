"""The HTTP scope an ASGI server (uvicorn) hands ``buyhive.asgi.application``, for tests that
call the application directly."""

from __future__ import annotations

from typing import Any


def http_scope(
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    *,
    host: str = "testserver",
    client: str = "127.0.0.1",
) -> dict[str, Any]:
    """One HTTP/1.1 request's scope: ``headers`` after ``Host``, names lower-cased."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", host.encode())]
        + [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": (client, 50000),
        "server": ("127.0.0.1", 8000),
    }
