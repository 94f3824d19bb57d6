"""Data shapes of the deterministic extraction step.

Plain dataclasses, no Django: the endpoint, the management command, the LLM step and the
benchmark all build on :class:`ExtractionResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from buyhive.product.money import amount_to_api, normalize_currency

__all__ = [
    "DEFAULT_CONFIDENCE_THRESHOLD",
    "LLM_FILLABLE_FIELDS",
    "PRODUCT_FIELDS",
    "Candidate",
    "ExtractionResult",
    "Source",
    "empty_product",
]

Source = Literal["json-ld", "microdata", "opengraph", "heuristic", "llm"]

#: Every key of ``ExtractionResult.product``, in the order the API renders them.
PRODUCT_FIELDS: tuple[str, ...] = (
    "title",
    "price",
    "currency",
    "availability",
    "brand",
    "sku",
    "gtin",
    "mpn",
    "description",
    "image",
    "images",
    "variant",
    "canonical_url",
)

#: Fields the LLM step may be asked to fill when the deterministic step left them empty or
#: unsure: exactly the fields its prompt describes and its answer holds
#: (``extraction.llm.answer.LLM_FIELDS``, the same order; a test keeps the two equal, and this
#: module stays free of pydantic). Not ``image`` or ``images``: the model reads the page's text,
#: which has no image addresses. Not ``description``: long to write within the answer's token
#: cap, and no check of it against the page as the other fields have (``llm.checking``).
#: ``variant`` and ``canonical_url`` are not worth a model call.
LLM_FILLABLE_FIELDS: tuple[str, ...] = (
    "title",
    "price",
    "currency",
    "availability",
    "brand",
    "sku",
    "gtin",
    "mpn",
)

#: Below this confidence a filled field still counts as "missing" for the LLM step. Structured
#: data scores 0.8-0.95, visible-page heuristics 0.35-0.75 (see ``deterministic.py``).
DEFAULT_CONFIDENCE_THRESHOLD = 0.6


def empty_product() -> dict[str, Any]:
    """A product with every field present and null (``images`` is an empty list)."""
    product: dict[str, Any] = dict.fromkeys(PRODUCT_FIELDS)
    product["images"] = []
    return product


@dataclass(frozen=True, slots=True)
class Candidate:
    """One value for one field, with where it came from and how much we trust it."""

    value: Any
    source: Source
    confidence: float


@dataclass(slots=True)
class ExtractionResult:
    """What the deterministic extractor found on one page.

    ``product`` has exactly the keys of :data:`PRODUCT_FIELDS`; a field the page does not
    give is ``None`` (``images`` is then ``[]``), never guessed. ``price`` is a
    :class:`~decimal.Decimal` here and a decimal string in :meth:`to_dict`.
    ``provenance`` has one entry per non-null field: ``{"source", "confidence"}``.
    ``image_candidates`` lists the product images seen on the page with their alt text
    (``{"url", "alt"}``), for the image check. ``locale`` is the page language when the page
    declares one (``de-AT``), ``diagnostics`` names what went wrong on the way
    (``"jsonld_invalid"``, ``"html_unparsable"``...), for logs and debugging only.
    """

    product: dict[str, Any] = field(default_factory=empty_product)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    image_candidates: list[dict[str, str | None]] = field(default_factory=list)
    locale: str | None = None
    diagnostics: list[str] = field(default_factory=list)

    def set(self, name: str, candidate: Candidate | None) -> None:
        """Store a field's value and provenance (``None`` clears it)."""
        if candidate is None or candidate.value in (None, "", [], {}):
            self.product[name] = [] if name == "images" else None
            self.provenance.pop(name, None)
            return
        self.product[name] = candidate.value
        self.provenance[name] = {
            "source": candidate.source,
            "confidence": round(max(0.0, min(1.0, float(candidate.confidence))), 3),
        }

    def confidence(self, name: str) -> float:
        """Confidence of a field, 0.0 when it is empty."""
        entry = self.provenance.get(name)
        return float(entry["confidence"]) if entry else 0.0

    def missing_fields(
        self,
        threshold: float = DEFAULT_CONFIDENCE_THRESHOLD,
        fields: tuple[str, ...] = LLM_FILLABLE_FIELDS,
    ) -> list[str]:
        """Fields that are empty or below ``threshold``: what the LLM step should look for."""
        return [name for name in fields if self.confidence(name) < threshold]

    def low_confidence_fields(self, threshold: float = DEFAULT_CONFIDENCE_THRESHOLD) -> list[str]:
        """Filled fields whose confidence is below ``threshold``."""
        return [
            name
            for name, entry in self.provenance.items()
            if float(entry["confidence"]) < threshold
        ]

    @property
    def is_empty(self) -> bool:
        """True when nothing at all was found (garbage input, an empty page)."""
        return not self.provenance

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: the price as a decimal string, lists and dicts copied.

        A price with a currency is rounded to that currency's decimals (``69.990`` USD ->
        ``"69.99"``, ``1500.50`` JPY -> ``"1501"``, ``12.345`` KWD stays), so what is shown
        and saved is a valid amount in its currency (``buyhive.product.money``).
        """
        product = dict(self.product)
        price = product.get("price")
        currency = normalize_currency(product.get("currency"))
        if isinstance(price, Decimal):
            if currency:
                product["price"] = amount_to_api(price, currency=currency)
            else:
                product["price"] = format_decimal(price)
        product["images"] = list(product.get("images") or [])
        if product.get("variant") is not None:
            product["variant"] = dict(product["variant"])
        return {
            "product": product,
            "provenance": {name: dict(entry) for name, entry in self.provenance.items()},
            "image_candidates": [dict(item) for item in self.image_candidates],
        }


def format_decimal(value: Decimal) -> str:
    """Render a price as a plain decimal string: no exponent, trailing zeros beyond the cents
    dropped (``Decimal("67.8400")`` -> ``"67.84"``, ``Decimal("1E+3")`` -> ``"1000"``)."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        value = value.normalize()
    return format(value, "f")
