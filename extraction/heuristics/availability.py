"""In stock or out of stock, from the buy button and the stock messages near the product."""

from __future__ import annotations

import re

from extraction.heuristics.anchors import Button
from extraction.heuristics.page_text import LABEL_SCAN_CHARS, Guess, PageText
from extraction.normalize import phrase_pattern

_OOS_PHRASES = (
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
)  # fmt: skip
_IN_STOCK_PHRASES = (
    "in stock", "available now", "available online", "auf lager", "sofort lieferbar",
    "vorrätig", "en stock", "en existencia", "op voorraad", "na stanie", "na sklade",
    "skladem", "skladom", "în stoc", "in stoc", "raktáron", "i lager", "på lager",
    "varastossa", "в наличии", "stokta var", "在庫あり", "有現貨", "有货", "현재 구매가능",
    "재고 있음", "متوفر", "במלאי", "còn hàng", "tersedia",
)  # fmt: skip
# No leading look-behind: it would stop ``re`` from skipping ahead by first character. The
# word boundary before a phrase is checked by phrase_at instead.
OUT_OF_STOCK_RE = re.compile(r"(?:" + phrase_pattern(_OOS_PHRASES) + r")(?!\w)")
IN_STOCK_RE = re.compile(r"(?:" + phrase_pattern(_IN_STOCK_PHRASES) + r")(?!\w)")


def phrase_at(pattern: re.Pattern[str], lower: str, start: int, end: int) -> int | None:
    """Offset of the first whole-word match of ``pattern`` in ``lower[start:end]``."""
    for match in pattern.finditer(lower, start, end):
        at = match.start()
        if at == 0 or not (lower[at - 1].isalnum() or lower[at - 1] == "-"):
            return at
    return None


def _phrase_in(pattern: re.Pattern[str], page: PageText, start: int, end: int) -> int | None:
    return phrase_at(pattern, page.lower, start, end)


def detect_availability(
    page: PageText, *, buttons: list[Button], region: tuple[int, int] | None
) -> Guess | None:
    """InStock / OutOfStock from the buy button and the stock messages near the product."""
    start, end = page.span(region)
    end = min(end, start + LABEL_SCAN_CHARS)
    oos = _phrase_in(OUT_OF_STOCK_RE, page, start, end)
    if region is not None:
        active = [b for b in buttons if b.active and region[0] <= b.index <= region[1] + 400]
    else:
        active = [b for b in buttons if b.active]
    if oos is not None and not active:
        return Guess("OutOfStock", 0.6, page.index_at(oos))
    if active:
        return Guess("InStock", 0.6 if oos is None else 0.45, active[0].index)
    in_stock = _phrase_in(IN_STOCK_RE, page, start, end)
    if in_stock is not None:
        return Guess("InStock", 0.5, page.index_at(in_stock))
    return None


def has_out_of_stock_message(page: PageText, region: tuple[int, int] | None) -> bool:
    start, end = page.span(region)
    return _phrase_in(OUT_OF_STOCK_RE, page, start, min(end, start + LABEL_SCAN_CHARS)) is not None
