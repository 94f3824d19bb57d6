"""drf-spectacular post-processing: the rate-limit header fields on limited operations.

Every operation that documents a 429 is rate-limited (``buyhive.ratelimit.enforce``); its
answers then carry ``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers
11), and the 429 also ``Retry-After``. Stating that once here keeps each view's
``extend_schema`` about its own body.
"""

from __future__ import annotations

from typing import Any

_POLICY = {
    "description": (
        'The limits this request was counted against: `"<group>";q=<quota>;w=<window seconds>`, '
        "one list member per limit (draft-ietf-httpapi-ratelimit-headers)."
    ),
    "schema": {"type": "string"},
}
_STATE = {
    "description": (
        'What is left of each limit: `"<group>";r=<remaining>;t=<seconds until it resets>`.'
    ),
    "schema": {"type": "string"},
}
_RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer"},
}


def ratelimit_headers(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Add the header fields to the 2xx and 429 answers of every operation with a 429."""
    for methods in result.get("paths", {}).values():
        for operation in methods.values():
            responses = operation.get("responses") if isinstance(operation, dict) else None
            if not isinstance(responses, dict) or "429" not in responses:
                continue
            for code, response in responses.items():
                if not (code.startswith("2") or code == "429") or "$ref" in response:
                    continue
                headers = response.setdefault("headers", {})
                headers.setdefault("RateLimit-Policy", dict(_POLICY))
                headers.setdefault("RateLimit", dict(_STATE))
                if code == "429":
                    headers.setdefault("Retry-After", dict(_RETRY_AFTER))
    return result
