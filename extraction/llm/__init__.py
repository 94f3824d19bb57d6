"""The LLM step of extraction: fill what structured data left empty, and trust nothing it says.

It runs only for fields the deterministic extractor could not fill with confidence and only
when a provider key is configured. The flow of :func:`llm_fill`:

1. Nothing wanted -> ``not_needed``; no configured client -> ``not_configured`` (no request).
2. The page is cut down to the product's region (visible text around the ``<h1>`` and the
   first prices; scripts, styles, navigation, footers and hidden elements dropped) and
   truncated to ``LLM_MAX_INPUT_CHARS``. The answer is capped at ``LLM_MAX_OUTPUT_TOKENS``.
3. The page goes in the user message between two marker lines that carry a random nonce,
   announced as untrusted data whose instructions must be ignored. The system prompt describes
   the fields and the JSON shape with no example values (a model tends to echo examples).
4. Groq first, then OpenAI. The SDKs do not retry (see :mod:`extraction.clients`); the one
   retry the product allows is the fallback to the other provider, so one call makes at most
   two requests. A per-provider circuit breaker skips a provider that keeps failing.
5. The answer is checked by the :class:`LLMProduct` schema, then each field against the page:
   a price is kept only if that amount is shown on the page as a price (next to a currency
   sign or code); identifiers and the brand only if printed on the page; a currency only if it
   is ISO 4217 and its code or sign is on the page; availability only as a schema.org term.
   Only the fields that were asked for are returned.

:func:`llm_fill` never raises: every failure ends in a status the API can show.

One module per concern: :mod:`.answer` (the answer's schema), :mod:`.prompt` (the page excerpt
and the prompt), :mod:`.page_prices` and :mod:`.checking` (the answer against the page),
:mod:`.breaker` and :mod:`.config`, and :mod:`.step` (the flow above). The names below are the
package's API.
"""

from __future__ import annotations

from extraction.llm.answer import LLM_FIELDS, Availability, LLMProduct
from extraction.llm.breaker import CacheLike, CircuitBreaker, LocalStore
from extraction.llm.checking import CONFIDENCE, check_answer
from extraction.llm.config import LLMConfig
from extraction.llm.page_prices import number_readings, page_price_amounts
from extraction.llm.prompt import SYSTEM_PROMPT, PageExcerpt, build_user_message, prepare_page
from extraction.llm.step import MAX_ATTEMPTS, LLMOutcome, LLMStatus, llm_fill, llm_readiness

__all__ = [
    "CONFIDENCE",
    "LLM_FIELDS",
    "MAX_ATTEMPTS",
    "SYSTEM_PROMPT",
    "Availability",
    "CacheLike",
    "CircuitBreaker",
    "LLMConfig",
    "LLMOutcome",
    "LLMProduct",
    "LLMStatus",
    "LocalStore",
    "PageExcerpt",
    "build_user_message",
    "check_answer",
    "llm_fill",
    "llm_readiness",
    "number_readings",
    "page_price_amounts",
    "prepare_page",
]
