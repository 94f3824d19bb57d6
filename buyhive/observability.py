"""Sentry: errors (and, when sampled, traces) from production and staging, without PII.

Initialised by the production settings only when ``SENTRY_DSN`` is set. What is sent:

* the Django integration (request context, transaction names from URL patterns) and the
  logging integration (records at ERROR and above become events, INFO and above become
  breadcrumbs);
* ``environment`` (``production`` or ``staging``) and ``release`` (``SENTRY_RELEASE``, else the
  image's ``BUYHIVE_RELEASE``, the git commit it was built from) on every event;
* sample rates from the environment: ``SENTRY_SAMPLE_RATE`` (errors),
  ``SENTRY_TRACES_SAMPLE_RATE`` and ``SENTRY_PROFILES_SAMPLE_RATE``.

What is never sent: ``send_default_pii`` is off, request bodies are never attached (they
carry passwords, tokens and whole shop pages), and neither are stack-frame local variables.
:func:`scrub_event` then runs on every event, transaction and breadcrumb (``before_send``
and friends) and removes what the SDK could still pick up: cookies and credential headers,
the user's email and IP (only the id stays), values under sensitive keys (passwords, tokens,
secrets, sessions, emails, connection strings) at any depth, and, inside any string, email
addresses, JWTs, bearer tokens, ``key=value`` pairs with a sensitive key, passwords in URLs,
and the share-link token in ``/shared/<token>/`` paths.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from sentry_sdk._types import Event, Hint

FILTERED = "[Filtered]"

# A key is sensitive when its lower-cased name contains one of these.
SENSITIVE_KEY_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "session",
    "csrf",
    "api_key",
    "apikey",
    "private_key",
    "credential",
    "signature",
    "dsn",
    "email",
    "mongodb_uri",
    "redis_url",
    "refresh",
    "access",
    "x-forwarded-for",
    "x_forwarded_for",
    "x-real-ip",
    "remote_addr",
    "ip_address",
)
# Request headers kept (everything else is dropped): useful for debugging, never personal.
KEPT_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "accept-language",
        "content-length",
        "content-type",
        "host",
        "origin",
        "user-agent",
        "x-forwarded-proto",
        "x-request-id",
    }
)

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")
_SHARE_PATH = re.compile(r"(/shared/)[^/?#\s]+")
# "password": "hunter2", session_key='abc', token=xyz: a sensitive key and its value inside a
# string (a repr, a log message, a query).
_KEYED_SECRET = re.compile(
    r"(?i)(['\"]?[\w-]*(?:"
    + "|".join(re.escape(part) for part in SENSITIVE_KEY_PARTS)
    + r")[\w-]*['\"]?\s*[:=]\s*)(?:'[^']*'|\"[^\"]*\"|[^\s,;&}\])]+)"
)
_MAX_DEPTH = 12


def scrub_string(value: str) -> str:
    """Mask emails, JWTs, bearer tokens, URL passwords and share tokens inside a string."""
    value = _URL_CREDENTIALS.sub(rf"\1{FILTERED}@", value)
    value = _KEYED_SECRET.sub(rf"\1{FILTERED}", value)
    value = _JWT.sub(FILTERED, value)
    value = _BEARER.sub(rf"\1 {FILTERED}", value)
    value = _EMAIL.sub(FILTERED, value)
    return _SHARE_PATH.sub(rf"\1{FILTERED}", value)


def is_sensitive_key(key: Any) -> bool:
    name = str(key).lower()
    return any(part in name for part in SENSITIVE_KEY_PARTS)


def scrub_value(value: Any, depth: int = 0) -> Any:
    """Scrub a JSON-like value: sensitive keys filtered, strings masked, at any depth."""
    if depth > _MAX_DEPTH:
        return FILTERED
    if isinstance(value, dict):
        return {
            key: FILTERED if is_sensitive_key(key) else scrub_value(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub_value(item, depth + 1) for item in value]
    if isinstance(value, str):
        return scrub_string(value)
    return value


def _scrub_request(request: dict[str, Any]) -> dict[str, Any]:
    request = dict(request)
    request.pop("cookies", None)
    request.pop("env", None)
    if "data" in request:
        request["data"] = FILTERED
    headers = request.get("headers")
    if isinstance(headers, dict):
        request["headers"] = {
            name: scrub_string(str(value))
            for name, value in headers.items()
            if name.lower() in KEPT_HEADERS
        }
    for field in ("url", "query_string"):
        if isinstance(request.get(field), str):
            request[field] = scrub_string(request[field])
    if request.get("query_string") and any(
        is_sensitive_key(pair.split("=", 1)[0]) for pair in str(request["query_string"]).split("&")
    ):
        request["query_string"] = FILTERED
    return request


def scrub_event(event: dict[str, Any]) -> dict[str, Any]:
    """Remove personal data and credentials from a Sentry event (pure; returns a new dict)."""
    event = dict(event)
    if isinstance(event.get("request"), dict):
        event["request"] = _scrub_request(event["request"])
    user = event.get("user")
    if isinstance(user, dict):
        kept = {k: v for k, v in user.items() if k == "id"}
        if kept:
            event["user"] = kept
        else:
            event.pop("user")
    event.pop("server_name", None)
    for key in ("message", "transaction"):
        if isinstance(event.get(key), str):
            event[key] = scrub_string(event[key])
    for key in (
        "logentry",
        "extra",
        "contexts",
        "tags",
        "breadcrumbs",
        "exception",
        "threads",
        "spans",
    ):
        if key in event:
            event[key] = scrub_value(event[key])
    return event


def before_send(event: Event, hint: Hint) -> Event | None:
    return cast("Event", scrub_event(cast("dict[str, Any]", event)))


def before_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    return scrub_value(crumb)  # type: ignore[no-any-return]


def _check_rate(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value}")
    return value


def init_sentry(
    *,
    dsn: str,
    environment: str,
    release: str = "",
    sample_rate: float = 1.0,
    traces_sample_rate: float = 0.0,
    profiles_sample_rate: float = 0.0,
) -> bool:
    """Initialise Sentry; return whether it was turned on (only with a DSN).

    Sample rates are checked (0 to 1) first, so a bad value fails at start even without a DSN.
    """
    _check_rate("SENTRY_SAMPLE_RATE", sample_rate)
    _check_rate("SENTRY_TRACES_SAMPLE_RATE", traces_sample_rate)
    _check_rate("SENTRY_PROFILES_SAMPLE_RATE", profiles_sample_rate)
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        sample_rate=sample_rate,
        traces_sample_rate=traces_sample_rate,
        profiles_sample_rate=profiles_sample_rate,
        send_default_pii=False,
        max_request_body_size="never",
        # Stack-frame locals hold request bodies, query documents and model instances: too
        # much personal data to scrub reliably, so frames carry code and line numbers only.
        include_local_variables=False,
        before_send=before_send,
        before_send_transaction=before_send,
        before_breadcrumb=before_breadcrumb,
        integrations=[
            DjangoIntegration(transaction_style="url"),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
    )
    sentry_sdk.set_tag("service", "buyhive-api")
    return True
