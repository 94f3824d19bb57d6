"""The LLM step itself: :func:`llm_fill` (never raises) and what ``/ready`` reports."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog

from extraction.clients import LLMBadOutput, LLMClient, LLMError, LLMRateLimited, get_llm_clients
from extraction.llm.answer import LLM_FIELDS, LLMProduct
from extraction.llm.breaker import CircuitBreaker
from extraction.llm.checking import check_answer
from extraction.llm.config import LLMConfig
from extraction.llm.prompt import SYSTEM_PROMPT, build_user_message, prepare_page

logger = structlog.get_logger(__name__)


LLMStatus = Literal["used", "not_needed", "not_configured", "unavailable"]


MAX_ATTEMPTS = 2  # one request plus the one allowed retry (on the fallback provider)


@dataclass
class LLMOutcome:
    """What the LLM step did. ``fields`` holds only validated, accepted values."""

    status: LLMStatus
    provider: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    reason: str | None = None
    attempts: list[str] = field(default_factory=list)

    def as_response(self) -> dict[str, Any]:
        """The ``llm`` block of the extraction answer."""
        return {"status": self.status, "provider": self.provider}

    def provenance(self) -> dict[str, dict[str, Any]]:
        """``{field: {"source": "llm", "confidence": c}}`` for the accepted fields."""
        return {
            name: {"source": "llm", "confidence": self.confidence[name]} for name in self.fields
        }


def llm_fill(
    *,
    url: str,
    html: str | None = None,
    text: str | None = None,
    title: str | None = None,
    missing: set[str],
    clients: Sequence[LLMClient] | None = None,
    config: LLMConfig | None = None,
    breaker: CircuitBreaker | None = None,
) -> LLMOutcome:
    """Ask the LLM for the ``missing`` fields of the product on this page; never raises.

    ``title`` is the page's document title, sent beside its text. ``clients`` defaults to the
    configured providers (:func:`get_llm_clients`), ``config`` and ``breaker`` to the ones
    built from Django settings.
    """
    try:
        return _llm_fill(
            url=url,
            html=html,
            text=text,
            title=title,
            missing=missing,
            clients=clients,
            config=config,
            breaker=breaker,
        )
    except Exception as exc:  # the LLM step is optional: it must never break extraction
        logger.exception("llm.fill_crashed", url=url[:300], error=type(exc).__name__)
        return LLMOutcome(status="unavailable", reason=f"internal_error:{type(exc).__name__}")


def _llm_fill(
    *,
    url: str,
    html: str | None,
    text: str | None,
    title: str | None,
    missing: set[str],
    clients: Sequence[LLMClient] | None,
    config: LLMConfig | None,
    breaker: CircuitBreaker | None,
) -> LLMOutcome:
    wanted = [name for name in LLM_FIELDS if name in set(missing or ())]
    if not wanted:
        return LLMOutcome(status="not_needed")
    available = list(get_llm_clients() if clients is None else clients)
    if not available:
        return LLMOutcome(status="not_configured")
    config = config or LLMConfig.from_settings()
    breaker = breaker or CircuitBreaker.from_settings()

    names = [getattr(client, "name", type(client).__name__) for client in available]
    if all(breaker.state(name) == "open" for name in names):  # skip even trimming the page
        return LLMOutcome(
            status="unavailable",
            reason=", ".join(f"{name}:circuit_open" for name in names),
            attempts=[f"{name}:skipped" for name in names],
        )
    page = prepare_page(html=html, text=text, max_chars=config.max_input_chars, doc_title=title)
    if not page.text.strip():
        return LLMOutcome(status="unavailable", reason="empty_page")
    user = build_user_message(url=url, page=page, wanted=wanted, nonce=secrets.token_hex(8))

    outcome = LLMOutcome(status="unavailable")
    reasons: list[str] = []
    requests_sent = 0
    for client in available:
        name = getattr(client, "name", type(client).__name__)
        if requests_sent >= MAX_ATTEMPTS:
            break
        if not breaker.allow(name):
            reasons.append(f"{name}:circuit_open")
            outcome.attempts.append(f"{name}:skipped")
            continue
        requests_sent += 1
        started = time.monotonic()
        try:
            answer = client.complete_json(
                system=SYSTEM_PROMPT,
                user=user,
                schema=LLMProduct,
                max_tokens=config.max_output_tokens,
            )
        except LLMBadOutput as exc:
            # The provider is up (it answered), so the breaker is not charged; the answer is
            # unusable, so the fallback gets its turn.
            breaker.record_success(name)
            reasons.append(f"{name}:{exc.reason}")
            outcome.attempts.append(f"{name}:{exc.reason}")
            logger.warning("llm.bad_output", provider=name, error=str(exc)[:300])
            continue
        except LLMError as exc:
            retry_after = exc.retry_after if isinstance(exc, LLMRateLimited) else None
            breaker.record_failure(name, retry_after=retry_after)
            reasons.append(f"{name}:{exc.reason}")
            outcome.attempts.append(f"{name}:{exc.reason}")
            logger.warning(
                "llm.call_failed",
                provider=name,
                reason=exc.reason,
                error=str(exc)[:300],
                duration_ms=round((time.monotonic() - started) * 1000),
            )
            continue
        except Exception as exc:  # a client that breaks its contract counts as an outage
            breaker.record_failure(name)
            reasons.append(f"{name}:error")
            outcome.attempts.append(f"{name}:error")
            logger.exception("llm.client_crashed", provider=name, error=type(exc).__name__)
            continue
        breaker.record_success(name)
        fields, confidence, rejected = check_answer(answer, page_text=page.text, wanted=wanted)
        outcome.attempts.append(f"{name}:ok")
        outcome.status = "used"
        outcome.provider = name
        outcome.fields, outcome.confidence, outcome.rejected = fields, confidence, rejected
        logger.info(
            "llm.used",
            provider=name,
            accepted=sorted(fields),
            rejected=rejected,
            duration_ms=round((time.monotonic() - started) * 1000),
        )
        return outcome
    outcome.reason = ", ".join(reasons) or "no_attempt"
    logger.warning("llm.unavailable", reason=outcome.reason)
    return outcome


def llm_readiness(
    *, clients: Sequence[LLMClient] | None = None, breaker: CircuitBreaker | None = None
) -> dict[str, Any]:
    """What ``/ready`` reports about the LLM: configured or not, and each provider's breaker.

    Never raises and never calls a provider; the LLM is optional, so this never makes the
    service unready.
    """
    try:
        available = list(get_llm_clients() if clients is None else clients)
        breaker = breaker or CircuitBreaker.from_settings()
        return {
            "configured": bool(available),
            "providers": [
                {"name": c.name, "model": c.model, "breaker": breaker.state(c.name)}
                for c in available
            ],
        }
    except Exception as exc:  # noqa: BLE001 - readiness must answer whatever happens
        return {"configured": False, "providers": [], "error": type(exc).__name__}
