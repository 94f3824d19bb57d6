"""The LLM providers behind one small interface: Groq first, OpenAI as the fallback.

Everything outside this module depends on :class:`LLMClient` and the :class:`LLMError`
hierarchy only, so a test swaps the real provider for the loopback fake by changing
``base_url`` (the real SDKs still run).

Timeouts and retries (the SDK defaults are 60 s / 600 s and two retries with backoff, far too
slow for a click in the extension):

- every client gets ``timeout=Timeout(LLM_TIMEOUT, connect=LLM_CONNECT_TIMEOUT)``. httpx applies
  the first number to each phase (read, write, pool), so it bounds a stalled provider; it is not
  a wall-clock cap on a server that trickles bytes, which the real providers do not do;
- the SDKs' own retries are OFF (``max_retries=0``). The single retry the product allows is
  decided by :func:`extraction.llm.llm_fill`, across providers: a failed Groq call is retried
  on OpenAI, never on Groq again with a backoff sleep (the SDK would honour a ``Retry-After``
  of up to 60 s on a 429). So one extraction makes at most two LLM requests.
"""

from __future__ import annotations

import json
import re
from typing import Any, Protocol, TypeVar, runtime_checkable

import groq
import openai
import pydantic
import structlog
from django.conf import settings
from pydantic import BaseModel

logger = structlog.get_logger(__name__)

DEFAULT_GROQ_MODEL = "llama-3.3-70b-versatile"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_CONNECT_TIMEOUT = 2.0
DEFAULT_TIMEOUT = 12.0

SchemaT = TypeVar("SchemaT", bound=BaseModel)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------
class LLMError(Exception):
    """Any failure of an LLM call. ``reason`` is a short machine-readable word for logs."""

    reason = "error"

    def __init__(self, message: str = "", *, provider: str | None = None) -> None:
        self.provider = provider
        super().__init__(message or self.reason)


class LLMNotConfigured(LLMError):
    """No API key for this provider: it is simply not used."""

    reason = "not_configured"


class LLMTimeout(LLMError):
    """Connect or read timeout."""

    reason = "timeout"


class LLMRateLimited(LLMError):
    """HTTP 429. ``retry_after`` is the provider's hint in seconds, when it sent one."""

    reason = "rate_limited"

    def __init__(
        self, message: str = "", *, provider: str | None = None, retry_after: float | None = None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, provider=provider)


class LLMServerError(LLMError):
    """HTTP 5xx, or the provider could not be reached (connection refused, reset, DNS)."""

    reason = "server_error"


class LLMRequestRejected(LLMError):
    """Another 4xx: a bad key (401/403), an unknown model (404), a request the API refuses."""

    reason = "request_rejected"


class LLMBadOutput(LLMError):
    """The provider answered, but not with JSON matching the schema (or refused, or was cut)."""

    reason = "bad_output"


# --------------------------------------------------------------------------------------------
# Interface
# --------------------------------------------------------------------------------------------
@runtime_checkable
class LLMClient(Protocol):
    """One chat model that answers with a JSON object validated by a pydantic schema."""

    name: str
    model: str

    def complete_json(
        self, *, system: str, user: str, schema: type[SchemaT], max_tokens: int
    ) -> SchemaT:
        """Ask the model; return the validated answer or raise an :class:`LLMError`."""
        ...


_CODE_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL | re.IGNORECASE)


def _validate_json(schema: type[SchemaT], content: str | None, provider: str) -> SchemaT:
    """Parse ``content`` as one JSON object and validate it against ``schema``."""
    if not content or not content.strip():
        raise LLMBadOutput("empty answer", provider=provider)
    fenced = _CODE_FENCE.match(content)
    if fenced:  # some models wrap JSON in a Markdown fence even in JSON mode
        content = fenced.group(1)
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise LLMBadOutput(f"answer is not JSON: {exc}", provider=provider) from exc
    if not isinstance(data, dict):
        raise LLMBadOutput("answer is not a JSON object", provider=provider)
    try:
        return schema.model_validate(data)
    except pydantic.ValidationError as exc:
        raise LLMBadOutput(
            f"answer does not match the schema: {exc.error_count()} error(s)", provider=provider
        ) from exc


def _retry_after(response: Any) -> float | None:
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _translate(exc: Exception, provider: str, sdk: Any) -> LLMError:
    """Map an SDK exception (groq and openai have parallel hierarchies) to an LLMError."""
    if isinstance(exc, sdk.APITimeoutError):
        return LLMTimeout(str(exc), provider=provider)
    if isinstance(exc, sdk.APIConnectionError):
        return LLMServerError(f"connection failed: {exc}", provider=provider)
    if isinstance(exc, sdk.RateLimitError):
        return LLMRateLimited(
            str(exc), provider=provider, retry_after=_retry_after(getattr(exc, "response", None))
        )
    if isinstance(exc, sdk.APIStatusError):
        status = int(getattr(exc, "status_code", 0) or 0)
        if status >= 500:
            return LLMServerError(f"HTTP {status}", provider=provider)
        if status == 408:
            return LLMTimeout(f"HTTP {status}", provider=provider)
        return LLMRequestRejected(f"HTTP {status}", provider=provider)
    if isinstance(exc, sdk.APIResponseValidationError | pydantic.ValidationError | ValueError):
        return LLMBadOutput(f"unreadable answer: {type(exc).__name__}", provider=provider)
    return LLMServerError(f"unexpected {type(exc).__name__}: {exc}", provider=provider)


# --------------------------------------------------------------------------------------------
# Groq
# --------------------------------------------------------------------------------------------
class GroqClient:
    """Groq's chat completions in JSON mode, validated with pydantic on our side.

    Groq's strict ``json_schema`` mode exists only on some models, so this uses
    ``response_format={"type": "json_object"}`` (which needs the word "JSON" in the prompt)
    and validates the answer itself.
    """

    name = "groq"

    def __init__(
        self,
        *,
        api_key: str,
        model: str = DEFAULT_GROQ_MODEL,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    ) -> None:
        if not api_key:
            raise LLMNotConfigured("GROQ_API_KEY is empty", provider=self.name)
        self.model = model
        kwargs: dict[str, Any] = {
            "api_key": api_key,
            "timeout": groq.Timeout(timeout, connect=connect_timeout),
            "max_retries": 0,
        }
        if base_url:
            kwargs["base_url"] = base_url
        self._sdk = groq.Groq(**kwargs)

    def complete_json(
        self, *, system: str, user: str, schema: type[SchemaT], max_tokens: int
    ) -> SchemaT:
        try:
            completion = self._sdk.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
                response_format={"type": "json_object"},
                max_completion_tokens=max_tokens,
                temperature=0,
            )
        except (groq.GroqError, ValueError) as exc:  # ValueError: a body that is not JSON
            raise _translate(exc, self.name, groq) from exc
        if not completion.choices:
            raise LLMBadOutput("no choices in the answer", provider=self.name)
        choice = completion.choices[0]
        if choice.finish_reason == "length":
            raise LLMBadOutput("answer cut at the token cap", provider=self.name)
        return _validate_json(schema, choice.message.content, self.name)

    def __repr__(self) -> str:
        return f"GroqClient(model={self.model!r})"


# --------------------------------------------------------------------------------------------
# OpenAI
# --------------------------------------------------------------------------------------------
class OpenAIClient:
    """OpenAI structured outputs: ``chat.completions.parse(response_format=<schema>)``.

    The SDK turns the pydantic model into a strict JSON schema the API enforces, and parses
    the answer back into the model; parse errors are still mapped to :class:`LLMBadOutput`.
    """

    name = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        model: str = DEFAULT_OPENAI_MODEL,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    ) -> None:
        if not api_key:
            raise LLMNotConfigured("OPENAI_API_KEY is empty", provider=self.name)
        self.model = model
        kwargs: dict[str, Any] = {
            "api_key": api_key,
            "timeout": openai.Timeout(timeout, connect=connect_timeout),
            "max_retries": 0,
        }
        if base_url:
            kwargs["base_url"] = base_url
        self._sdk = openai.OpenAI(**kwargs)

    def complete_json(
        self, *, system: str, user: str, schema: type[SchemaT], max_tokens: int
    ) -> SchemaT:
        try:
            completion = self._sdk.chat.completions.parse(
                model=self.model,
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
                response_format=schema,
                max_completion_tokens=max_tokens,
                temperature=0,
            )
        except openai.LengthFinishReasonError as exc:
            raise LLMBadOutput("answer cut at the token cap", provider=self.name) from exc
        except openai.ContentFilterFinishReasonError as exc:
            raise LLMBadOutput("answer blocked by the content filter", provider=self.name) from exc
        except (openai.OpenAIError, pydantic.ValidationError, ValueError) as exc:
            raise _translate(exc, self.name, openai) from exc
        if not completion.choices:
            raise LLMBadOutput("no choices in the answer", provider=self.name)
        message = completion.choices[0].message
        if message.refusal:
            raise LLMBadOutput("the model refused", provider=self.name)
        if message.parsed is None:
            return _validate_json(schema, message.content, self.name)
        return message.parsed

    def __repr__(self) -> str:
        return f"OpenAIClient(model={self.model!r})"


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------
def get_llm_clients() -> list[LLMClient]:
    """The configured providers in the order to try them: Groq, then OpenAI.

    Reads ``GROQ_API_KEY``, ``GROQ_MODEL``, ``GROQ_BASE_URL``, ``OPENAI_API_KEY``,
    ``OPENAI_MODEL``, ``OPENAI_BASE_URL``, ``LLM_CONNECT_TIMEOUT`` and ``LLM_TIMEOUT`` from
    Django settings. A provider with an empty key is left out; no key at all gives ``[]``.
    """
    timeout = float(settings.LLM_TIMEOUT)
    connect = float(settings.LLM_CONNECT_TIMEOUT)
    clients: list[LLMClient] = []
    specs: list[tuple[type[GroqClient] | type[OpenAIClient], str, str]] = [
        (GroqClient, "GROQ", DEFAULT_GROQ_MODEL),
        (OpenAIClient, "OPENAI", DEFAULT_OPENAI_MODEL),
    ]
    for cls, prefix, default_model in specs:
        key = str(getattr(settings, f"{prefix}_API_KEY") or "").strip()
        if not key:
            continue
        try:
            clients.append(
                cls(
                    api_key=key,
                    model=str(getattr(settings, f"{prefix}_MODEL") or default_model),
                    base_url=getattr(settings, f"{prefix}_BASE_URL") or None,
                    timeout=timeout,
                    connect_timeout=connect,
                )
            )
        except Exception as exc:  # noqa: BLE001 - a broken SDK config must not stop extraction
            logger.warning("llm.client_init_failed", provider=cls.name, error=str(exc))
    return clients
