"""The JSON object the model must answer with (:class:`LLMProduct`), and the fields it may fill.

Structural problems (not an object, a list where a string belongs) fail validation and the
whole answer is rejected. A value that is well-formed but unacceptable (too long, a currency
that is not ISO 4217, an availability outside schema.org's terms) is dropped on its own and
noted in ``dropped``, so one bad field does not cost the others.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator

from buyhive.product.availability import AVAILABILITY_TERMS, Availability, normalize_availability
from buyhive.product.currency_signs import CURRENCY_SYMBOLS
from buyhive.product.money import CURRENCIES
from extraction.llm.page_prices import symbol_key

# Length caps of the answer's fields (characters). A longer value is dropped, not truncated.
_MAX_LEN: dict[str, int] = {
    "title": 300,
    "price": 32,
    "currency": 8,
    "availability": 64,
    "brand": 100,
    "sku": 64,
    "gtin": 20,
    "mpn": 64,
}


def _clean_scalar(value: Any) -> Any:
    """Strings are stripped and whitespace-collapsed; numbers become strings; "" becomes None."""
    if isinstance(value, bool):
        return value  # left for pydantic to reject
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return format(Decimal(str(value)), "f")
    if isinstance(value, str):
        collapsed = " ".join(value.split())
        if not collapsed or collapsed.lower() in {"null", "none", "n/a", "unknown"}:
            return None
        return collapsed
    return value


def _normalise_currency(value: str) -> tuple[str | None, str | None]:
    """``(code, None)`` for an ISO 4217 code or a sign only one currency uses, else a reason.

    A shared sign (``$``, ``kr``, ``£``) is not turned into a code here: which of its
    currencies the page means is the model's call, or nobody's; never a silent USD.
    """
    candidate = value.strip()
    if len(candidate) == 3 and candidate.isalpha() and candidate.upper() in CURRENCIES:
        return candidate.upper(), None
    codes = CURRENCY_SYMBOLS.get(symbol_key(candidate), ())
    if len(codes) == 1:
        return codes[0], None
    return None, ("ambiguous_symbol" if codes else "not_iso4217")


# The JSON object the model must answer with: every field optional, strings or null.
#
# Structural problems (not an object, a list where a string belongs) fail validation and the
# whole answer is rejected. A value that is well-formed but unacceptable (too long, a currency
# that is not ISO 4217, an availability outside schema.org's terms) is dropped on its own and
# noted in ``dropped``, so one bad field does not cost the others. Length caps are checked in
# code, not declared in the JSON schema, because OpenAI's strict mode refuses ``maxLength``.
# The class docstring is sent to the model as the schema's description: keep it short.
class LLMProduct(BaseModel):
    """The product offered on the page. Null for anything the page does not state."""

    model_config = ConfigDict(extra="ignore")

    title: str | None = None
    price: str | None = None
    currency: str | None = None
    availability: Availability | None = None
    brand: str | None = None
    sku: str | None = None
    gtin: str | None = None
    mpn: str | None = None

    _dropped: dict[str, str] = PrivateAttr(default_factory=dict)

    @property
    def dropped(self) -> dict[str, str]:
        """Fields whose value was removed by the schema, with the reason."""
        return dict(self._dropped)

    @model_validator(mode="wrap")
    @classmethod
    def _clean_fields(cls, data: Any, handler: Callable[[Any], LLMProduct]) -> LLMProduct:
        dropped: dict[str, str] = {}
        if isinstance(data, dict):
            data = {key: _clean_scalar(value) for key, value in data.items()}
            for name, cap in _MAX_LEN.items():
                value = data.get(name)
                if isinstance(value, str) and len(value) > cap:
                    dropped[name] = "too_long"
                    data[name] = None
            availability = data.get("availability")
            if isinstance(availability, str):
                term = normalize_availability(availability)
                if term not in AVAILABILITY_TERMS:
                    term = None
                    dropped["availability"] = "not_schema_org"
                data["availability"] = term
            currency = data.get("currency")
            if isinstance(currency, str):
                code, why = _normalise_currency(currency)
                if why:
                    dropped["currency"] = why
                data["currency"] = code
        model = handler(data)
        model._dropped = dropped
        return model


#: The fields the LLM may fill, in the order they are described to it: the answer's fields, as
#: :class:`LLMProduct` declares them. One list, so that the prompt, the answer's schema and the
#: step that picks the missing fields cannot disagree, and no other field list can change it.
LLM_FIELDS: tuple[str, ...] = tuple(LLMProduct.model_fields)
