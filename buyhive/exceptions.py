"""Domain exceptions shared by every app.

Services and clients raise these; the DRF exception handler in
:mod:`buyhive.errors` maps each one to the error envelope of architecture.md::

    {"error": {"code": "...", "message": "...", "fields": {...}?}, "request_id": "..."}

Views never build error responses by hand.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the API answers on purpose (never a 500)."""

    status_code: int = 400
    code: str = "bad_request"
    default_message: str = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.fields = fields
        self.headers = headers or {}
        super().__init__(self.message)


class ValidationFailed(DomainError):
    """Bad input that passed the serializer but breaks a domain rule (400, with ``fields``)."""

    status_code = 400
    code = "validation_error"
    default_message = "Invalid input."


class NotFound(DomainError):
    """Unknown object, or one that belongs to another user (never a 403)."""

    status_code = 404
    code = "not_found"
    default_message = "Not found."


class LimitExceeded(DomainError):
    """A configured cap was reached (carts per user, items per cart, ...)."""

    status_code = 409
    code = "limit_exceeded"
    default_message = "A limit was reached."


class Conflict(DomainError):
    """A write that conflicts with the current state."""

    status_code = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class ImageFetchFailed(DomainError):
    """An image address that cannot be fetched, or that the safe HTTP client refused."""

    status_code = 422
    code = "image_fetch_failed"
    default_message = "The image could not be fetched."


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"
    default_message = "Too many requests. Try again later."

    def __init__(self, message: str | None = None, *, retry_after: int = 60) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message, headers={"Retry-After": str(self.retry_after)})


class ServiceUnavailable(DomainError):
    """A required dependency (the database, the rate-limit store) is down.

    Answers with ``Retry-After`` (5 s unless given), like the database outage's 503.
    """

    status_code = 503
    code = "service_unavailable"
    default_message = "The service is temporarily unavailable."

    def __init__(
        self,
        message: str | None = None,
        *,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, fields=fields, headers={"Retry-After": "5", **(headers or {})})
