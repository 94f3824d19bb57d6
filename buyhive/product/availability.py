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
    "BACK_ORDER_PHRASES",
    "IN_STOCK_PHRASES",
    "IN_STOCK_TERMS",
    "OUT_OF_STOCK_PHRASES",
    "OUT_OF_STOCK_TERMS",
    "PRE_ORDER_PHRASES",
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


# --------------------------------------------------------------------------------------------
# The words a product page shows about stock, by the term they mean
# --------------------------------------------------------------------------------------------
# Lower case, matched as whole phrases in the visible text near the product (the extractor's
# heuristics). A phrase a page also uses for something else ("available", "disponible" alone:
# "available colours") is left out: a wrong "in stock" is worse than none.

#: The product cannot be bought now.
OUT_OF_STOCK_PHRASES: tuple[str, ...] = (
    "out of stock", "sold out", "soldout", "currently unavailable", "no longer available",
    "temporarily unavailable", "unavailable online", "not available online", "not in stock",
    "ausverkauft", "nicht verfügbar", "nicht mehr verfügbar", "nicht lieferbar",
    "nicht mehr lieferbar", "nicht vorrätig", "nicht auf lager", "derzeit nicht verfügbar",
    "vergriffen", "épuisé", "rupture de stock", "indisponible", "plus disponible", "agotado",
    "sin stock", "no disponible", "fuera de stock", "esgotado", "indisponível", "esaurito",
    "esaurita", "non disponibile", "uitverkocht", "niet op voorraad", "niet leverbaar",
    "niet beschikbaar", "niedostępny", "niedostępne", "wyprzedany", "wyprzedane",
    "brak w magazynie", "brak towaru", "vypredané", "vypredaný", "nedostupné", "nedostupný",
    "vyprodáno", "vyprodané", "není skladem", "nie je skladom", "stoc epuizat", "indisponibil",
    "nu este în stoc", "elfogyott", "nincs készleten", "slutsåld", "slut i lager", "udsolgt",
    "utsolgt", "ei varastossa", "loppuunmyyty", "нет в наличии", "распродан",
    "немає в наявності", "stokta yok", "tükendi", "在庫切れ", "売り切れ", "品切れ", "完売",
    "售完", "已售完", "缺貨", "缺货", "已售罄", "售罄", "補貨中", "补货中", "품절", "일시품절",
    "재고 없음", "재고없음", "نفذت الكمية", "نفذ من المخزون", "غير متوفر", "אזל מהמלאי",
    "hết hàng", "stok habis", "สินค้าหมด",
    # added for shops not seen: more languages, "notify me" buttons, "discontinued"
    "out-of-stock", "no stock", "discontinued", "no longer in stock", "notify me when available",
    "email me when available", "notify me when back in stock", "email when available",
    "zurzeit nicht verfügbar", "momentan nicht verfügbar", "nicht mehr erhältlich",
    "nicht erhältlich", "en rupture", "n'est plus disponible", "victime de son succès",
    "no hay stock", "sin existencias", "sem estoque", "fora de estoque", "sem stock",
    "non più disponibile", "non disponibile al momento", "tijdelijk uitverkocht",
    "niet meer leverbaar", "chwilowo niedostępny", "produkt niedostępny", "ej i lager",
    "tillfälligt slut", "ikke på lager", "midlertidigt udsolgt",
    "在庫なし", "販売終了", "无货", "無庫存", "판매종료",
)  # fmt: skip
#: The product can be bought now.
IN_STOCK_PHRASES: tuple[str, ...] = (
    "in stock", "available now", "available online", "auf lager", "sofort lieferbar",
    "vorrätig", "en stock", "en existencia", "op voorraad", "na stanie", "na sklade",
    "skladem", "skladom", "în stoc", "in stoc", "raktáron", "i lager", "på lager",
    "varastossa", "в наличии", "stokta var", "在庫あり", "有現貨", "有货", "현재 구매가능",
    "재고 있음", "متوفر", "במלאי", "còn hàng", "tersedia",
    "in stock now", "ready to ship", "ships today", "lieferbar", "direkt lieferbar",
    "disponible en stock", "disponible immédiatement", "en stock disponible", "in magazzino",
    "disponibilità immediata", "direct leverbaar", "em estoque", "em stock", "w magazynie",
    "dostępny od ręki", "finns i lager", "på lager nu", "在庫有り", "現貨", "现货", "有貨",
    "재고있음",
)  # fmt: skip
#: The product can be ordered now and ships later (schema.org PreOrder).
PRE_ORDER_PHRASES: tuple[str, ...] = (
    "pre-order", "preorder", "pre order", "vorbestellen", "vorbestellung", "précommande",
    "pré-commande", "precommande", "preventa", "pre-venta", "reserva ya", "preordina",
    "prenotazione", "voorbestellen", "pré-venda", "pré-encomenda", "przedsprzedaż",
    "förbeställ", "forudbestil", "予約受付中", "予約商品", "預購", "预购", "预售", "예약판매",
    "사전예약",
)  # fmt: skip
#: The product is ordered now and delivered when restocked or from a date (BackOrder).
BACK_ORDER_PHRASES: tuple[str, ...] = (
    "backorder", "back-order", "back order", "on back order", "available to order",
    "available from", "ships from", "expected in stock", "lieferbar ab", "verfügbar ab",
    "wieder verfügbar ab", "nachbestellbar", "disponible à partir du", "disponible le",
    "disponible a partir del", "disponible desde", "disponibile dal", "disponibile da",
    "leverbaar vanaf", "beschikbaar vanaf", "dostępny od", "disponível a partir de",
    "tillgänglig från", "levereras från", "kan bestilles", "入荷予定", "取り寄せ", "到貨",
)  # fmt: skip
