"""Availability: the schema.org ItemAvailability terms and the words that map to them.

One definition for the item model's choices, the API's validation, the extractor, the LLM's
answer schema and the benchmark's scoring. Terms are stored bare (``InStock``), as
https://schema.org/ItemAvailability names them.

Two readers, strict and lenient, on purpose:

* :func:`availability_term` is the API's: a term in any letter case, bare or as a schema.org
  address (``https://schema.org/InStock``). A client that sends ``"available"`` is told the
  terms rather than guessed at.
* :func:`normalize_availability` is the extractor's and the LLM's: pages and models say
  ``in_stock``, ``Sold out``, ``OOS``, ``http://purl.org/goodrelations/v1#InStock`` or
  ``true``, and each known spelling (:data:`AVAILABILITY_SYNONYMS`) maps to one term.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, get_args

__all__ = [
    "AVAILABILITY_CHOICES",
    "AVAILABILITY_LABELS",
    "AVAILABILITY_SYNONYMS",
    "AVAILABILITY_TERMS",
    "IN_STOCK_TERMS",
    "OUT_OF_STOCK_TERMS",
    "Availability",
    "availability_in_stock",
    "availability_term",
    "normalize_availability",
]

#: schema.org ItemAvailability terms, as a type (the LLM's answer schema uses it as an enum,
#: in this order).
Availability = Literal[
    "InStock",
    "OutOfStock",
    "PreOrder",
    "BackOrder",
    "LimitedAvailability",
    "InStoreOnly",
    "OnlineOnly",
    "SoldOut",
    "Discontinued",
    "MadeToOrder",
    "PreSale",
    "Reserved",
]

#: Each term -> how people read it (the admin's choices, in the admin's order).
AVAILABILITY_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "InStock": "In stock",
        "OutOfStock": "Out of stock",
        "PreOrder": "Pre-order",
        "PreSale": "Pre-sale",
        "BackOrder": "Back order",
        "Discontinued": "Discontinued",
        "LimitedAvailability": "Limited availability",
        "SoldOut": "Sold out",
        "InStoreOnly": "In store only",
        "OnlineOnly": "Online only",
        "MadeToOrder": "Made to order",
        "Reserved": "Reserved",
    }
)

AVAILABILITY_TERMS: frozenset[str] = frozenset(get_args(Availability))
#: ``(term, label)`` pairs for a model field's ``choices``.
AVAILABILITY_CHOICES: list[tuple[str, str]] = list(AVAILABILITY_LABELS.items())

#: Terms under which the product can be bought now (or ordered): scored as in stock.
IN_STOCK_TERMS: frozenset[str] = frozenset(
    {"InStock", "LimitedAvailability", "OnlineOnly", "InStoreOnly", "PreOrder", "PreSale",
     "BackOrder", "MadeToOrder"}
)  # fmt: skip
#: Terms under which the product cannot be bought now.
OUT_OF_STOCK_TERMS: frozenset[str] = frozenset(
    {"OutOfStock", "SoldOut", "Discontinued", "Reserved"}
)

#: Other spellings pages and models use, lower-cased with everything but letters removed
#: (``in_stock`` and ``in stock`` are both ``instock``) -> the term.
AVAILABILITY_SYNONYMS: Mapping[str, str] = MappingProxyType(
    {
        "available": "InStock",
        "availablefororder": "InStock",
        "instockonline": "InStock",
        "onstock": "InStock",
        "yes": "InStock",
        "true": "InStock",
        "outstock": "OutOfStock",
        "notavailable": "OutOfStock",
        "unavailable": "OutOfStock",
        "nostock": "OutOfStock",
        "notinstock": "OutOfStock",
        "oos": "OutOfStock",
        "no": "OutOfStock",
        "false": "OutOfStock",
        "pending": "PreOrder",
        "presale": "PreSale",
        "preorder": "PreOrder",
        "backorder": "BackOrder",
        "backordered": "BackOrder",
        "limitedstock": "LimitedAvailability",
        "lowstock": "LimitedAvailability",
    }
)

_BY_KEY: dict[str, str] = {term.lower(): term for term in AVAILABILITY_TERMS}
_LENIENT_KEYS: dict[str, str] = {**_BY_KEY, **AVAILABILITY_SYNONYMS}
_SCHEMA_ORG_PREFIX_RE = re.compile(r"^(?:https?://)?(?:www\.)?schema\.org/", re.IGNORECASE)


def availability_term(value: str) -> str | None:
    """The term a client means: ``InStock``, ``instock`` or ``https://schema.org/InStock``
    -> ``InStock``; anything else (``available``, ``in stock soon``) -> None."""
    key = _SCHEMA_ORG_PREFIX_RE.sub("", value.strip()).lower()
    return _BY_KEY.get(key)


def normalize_availability(value: Any) -> str | None:
    """A term from any common spelling a page or a model uses, or None (never raises).

    A list gives its first recognised value.
    """
    if isinstance(value, list):
        for item in value:
            term = normalize_availability(item)
            if term:
                return term
        return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 120:
        return None
    # http(s)://schema.org/InStock, schema:InStock, http://purl.org/goodrelations/v1#InStock
    text = re.split(r"[/#:]", text)[-1]
    key = re.sub(r"[^a-z]", "", text.lower())
    return _LENIENT_KEYS.get(key)


def availability_in_stock(term: str | None) -> bool | None:
    """In-stock-like terms -> True, out-of-stock-like -> False, anything else -> None."""
    if term in IN_STOCK_TERMS:
        return True
    if term in OUT_OF_STOCK_TERMS:
        return False
    return None
