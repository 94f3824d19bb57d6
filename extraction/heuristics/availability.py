"""In stock or out of stock, from the buy button and the stock messages near the product.

The phrases, by language, are in :mod:`buyhive.product.availability`. Two rules beyond "a
message or a button":

* A stock message is a short status line ("Sold out", "Only 2 left"), not a sentence in
  running text: a phrase in a line longer than :data:`MAX_STATUS_LINE` characters that does
  not start the line is prose ("... the in-store check is temporarily unavailable ...", a
  disclaimer saying when a product is out of stock) and is not read as the product's stock.
* A stock word after the shop's stores on its line ("Check in-store availability: temporarily
  unavailable", "Click & Collect: out of stock") is about picking the product up there, not
  about buying it from the page ("Sold out online - try our stores" is still sold out).
* "Pre-order" and "available from <date>" / back-order messages mean the product can be
  ordered now: PreOrder / BackOrder (both scored in stock), even next to an out-of-stock word
  ("Out of stock - available to back-order").
* A back-in-stock sign-up ("Get notified when this product is in stock") on a status line,
  not hidden by its class, means out of stock even next to a buy button: the markup keeps
  the button, scripts hide it. Not used on plain text, where the sign-ups a page hides
  (one per size, say) cannot be told from the one it shows.
"""

from __future__ import annotations

import re

from buyhive.product.availability import (
    BACK_ORDER_PHRASES,
    IN_STOCK_PHRASES,
    OUT_OF_STOCK_PHRASES,
    PRE_ORDER_PHRASES,
)
from extraction.heuristics.anchors import Button
from extraction.heuristics.page_text import LABEL_SCAN_CHARS, Guess, PageText
from extraction.normalize import phrase_pattern

# No leading look-behind: it would stop ``re`` from skipping ahead by first character. The
# word boundary before a phrase is checked by phrase_at instead.
OUT_OF_STOCK_RE = re.compile(r"(?:" + phrase_pattern(OUT_OF_STOCK_PHRASES) + r")(?!\w)")
IN_STOCK_RE = re.compile(r"(?:" + phrase_pattern(IN_STOCK_PHRASES) + r")(?!\w)")
PRE_ORDER_RE = re.compile(r"(?:" + phrase_pattern(PRE_ORDER_PHRASES) + r")(?!\w)")
BACK_ORDER_RE = re.compile(r"(?:" + phrase_pattern(BACK_ORDER_PHRASES) + r")(?!\w)")
#: A line longer than this is running text, where a stock word is not a status.
MAX_STATUS_LINE = 90
#: A back-in-stock sign-up ("Get notified by email when this product is in stock", "Notify
#: me when it's back", "Benachrichtigen, wenn verfügbar"): shops show it in place of buying.
RESTOCK_ALERT_RE = re.compile(
    r"(?:\b(?:notify|notified|email|e-mail|alert|tell|let)\s+(?:me|us)?\s*(?:by\s+e-?mail\s+)?"
    r"(?:when|once|as\s+soon\s+as)\b[^\n]{0,50}?\b(?:in\s+stock|available|back|restocked)|"
    r"\bback[-\s]in[-\s]stock\s+(?:alert|notification)|"
    r"benachrichtig\w*,?\s+(?:mich\s+)?(?:wenn|sobald)|m[\u2019']avertir|me\s+pr[ée]venir|"
    r"pr[ée]venez[-\s]moi|av[ií]same|avisarme\s+cuando|avvisami|powiadom\s+mnie|"
    r"meddela\s+mig|giv\s+mig\s+besked|入荷お知らせ|再入荷通知|到货通知|到貨通知|재입고\s*알림)"
)
#: A stock word after a shop's stores on its line ("Check in-store availability: temporarily
#: unavailable", "Click & Collect: out of stock", "w sklepie: niedostępny") is about picking
#: the product up there, not about buying it from the page.
STORE_LINE_RE = re.compile(
    r"in[-\s]store|\bstores?\b|pick[-\s]?up|\bcollect\b|\bcollection\s+point|"
    r"\bim\s+markt|\bfiliale|\babhol|\bmagasin|\bretrait\b|\btienda|\brecogida|"
    r"\bnegozio|\britiro\b|\bwinkel\b|\bafhalen|\bsklep|\bodbi[oó]r|\bbutik|\bh[äa]mta|"
    r"\bprodejn|\bmyym[äa]l|店舗|店頭|門市|门店|自提|매장"
)
_HIDDEN_CLASS_RE = re.compile(r"\bhidden\b|\bhide\b|\bd-none\b|is-hidden|visually-hidden")


def _is_status(lower: str, at: int) -> bool:
    """Whether the phrase at ``at`` is on a status line (short, or starting the line)."""
    line_start = lower.rfind("\n", 0, at) + 1
    line_end = lower.find("\n", at)
    line_end = len(lower) if line_end < 0 else line_end
    if line_end - line_start <= MAX_STATUS_LINE:
        return True
    return at - line_start <= 3


def phrase_at(
    pattern: re.Pattern[str], lower: str, start: int, end: int, *, status: bool = False
) -> int | None:
    """Offset of the first whole-word match of ``pattern`` in ``lower[start:end]`` (with
    ``status``, only on a status line, see :func:`_is_status`)."""
    for match in pattern.finditer(lower, start, end):
        at = match.start()
        if at == 0 or not (lower[at - 1].isalnum() or lower[at - 1] == "-"):
            if status and not _is_status(lower, at):
                continue
            if pattern is OUT_OF_STOCK_RE and _on_store_line(lower, at):
                continue
            return at
    return None


def _on_store_line(lower: str, at: int) -> bool:
    """Whether the line names a store before the stock word at ``at`` ("In-store pickup:
    unavailable"; not "Sold out online - try our stores")."""
    line_start = lower.rfind("\n", 0, at) + 1
    return STORE_LINE_RE.search(lower, line_start, at) is not None


def _phrase_in(pattern: re.Pattern[str], page: PageText, start: int, end: int) -> int | None:
    return phrase_at(pattern, page.lower, start, end, status=True)


def order_ahead_term(lower: str, start: int, end: int) -> tuple[str, int] | None:
    """``("PreOrder" | "BackOrder", offset)`` when a status line there says the product is
    ordered now and ships later."""
    for term, pattern in (("PreOrder", PRE_ORDER_RE), ("BackOrder", BACK_ORDER_RE)):
        at = phrase_at(pattern, lower, start, end, status=True)
        if at is not None:
            return term, at
    return None


def detect_availability(
    page: PageText, *, buttons: list[Button], region: tuple[int, int] | None
) -> Guess | None:
    """InStock / OutOfStock / PreOrder / BackOrder from the buy button and the stock
    messages near the product."""
    start, end = page.span(region)
    end = min(end, start + LABEL_SCAN_CHARS)
    oos = _phrase_in(OUT_OF_STOCK_RE, page, start, end)
    if region is not None:
        active = [b for b in buttons if b.active and region[0] <= b.index <= region[1] + 400]
    else:
        active = [b for b in buttons if b.active]
    ahead = order_ahead_term(page.lower, start, min(end, start + 20_000))
    alert = restock_alert(page, start, min(end, start + 20_000))
    if alert is not None and ahead is None:
        # A back-in-stock sign-up is shown in place of buying: whatever buy button the
        # markup still carries (scripts hide it), the product cannot be bought now.
        return Guess("OutOfStock", 0.55, page.index_at(alert))
    if ahead is not None and (active or oos is not None):
        return Guess(ahead[0], 0.55, page.index_at(ahead[1]))
    if oos is not None and not active:
        return Guess("OutOfStock", 0.6, page.index_at(oos))
    if active:
        return Guess("InStock", 0.6 if oos is None else 0.45, active[0].index)
    if ahead is not None:  # before "in stock" words: "lieferbar ab" is not "lieferbar"
        return Guess(ahead[0], 0.5, page.index_at(ahead[1]))
    in_stock = _phrase_in(IN_STOCK_RE, page, start, end)
    if in_stock is not None:
        return Guess("InStock", 0.5, page.index_at(in_stock))
    return None


def restock_alert(page: PageText, start: int, end: int) -> int | None:
    """Offset of a back-in-stock sign-up on a status line in ``page.text[start:end]`` that
    the page does not hide by class ("hidden", "d-none"...): a theme ships the sign-up
    hidden on every product and shows it only when the product is out of stock."""
    lower = page.lower
    for match in RESTOCK_ALERT_RE.finditer(lower, start, end):
        at = match.start()
        if not _is_status(lower, at):
            continue
        owner = page.owner_at(at)
        if owner is not None and _HIDDEN_CLASS_RE.search(page.context(owner, levels=5)[1]):
            continue
        return at
    return None


def has_out_of_stock_message(page: PageText, region: tuple[int, int] | None) -> bool:
    start, end = page.span(region)
    return _phrase_in(OUT_OF_STOCK_RE, page, start, min(end, start + LABEL_SCAN_CHARS)) is not None
