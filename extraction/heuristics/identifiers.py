"""Where a shop's SKU sits when no label prints it and no structured data carries it.

In order of trust (each only when the ones before give nothing):

* a ``#`` label on the line under the title ("Item #A12-345", "Style # 80231"; a "Model #",
  "Mfr #" or "Part #" is the manufacturer's number, not the shop's);
* a shown element whose class or id names an SKU, in the product region
  (``<span class="product-sku">BK-2041</span>``);
* the add-to-cart form's own identifier: ``data-sku`` / ``data-product-sku`` on the buy
  button or its form, then the product id the form posts (``data-product-id``, an input
  named ``add-to-cart``, ``product_id``, ``sku``), which shop systems print as the SKU when
  the product has no other;
* the ``"sku"`` the page's inline scripts give (the product state a shop script renders from;
  the first one, that is the variant shown first), when it holds a digit; also under the
  names shop systems give it (``skuId``, ``sku_id``, ``productSku``...), quoted or a JSON
  number.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

from extraction.heuristics.anchors import Button
from extraction.heuristics.page_text import PageText
from extraction.heuristics.script_state import MAX_SCRIPT_CHARS, SKIP_SCRIPT_TYPES
from extraction.normalize import clean_identifier

#: How far past the title's start the ``#`` label is looked for (characters of text).
HASH_LABEL_SCAN_CHARS = 1500

_HASH_LABEL_RE = re.compile(
    r"(?:^|[•|·,;/]\s*)(?P<label>[^\W\d_][\w.&-]{0,11}(?:\s[^\W\d_][\w.&-]{0,11})?)"
    r"\s?#\s?:?\s?(?P<value>[A-Za-z0-9][A-Za-z0-9./_-]{2,39})(?=\s|$|[,;•|·])",
    re.M,
)
# A manufacturer's or model number, an order or a review: not the shop's SKU.
_NOT_SKU_LABEL_RE = re.compile(
    r"(?i)\b(?:mfr|mfg|manufacturer|model|part|mpn|order|review|ticket|phone|tel|fax|call)\b"
)
_SKU_ATTRS = ("data-sku", "data-product-sku", "data-product_sku", "data-variant-sku")
_ID_INPUTS = frozenset({"add-to-cart", "product_id", "product-id", "productid", "sku"})
_IDENTIFIER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9./_-]{1,39}")


def _identifier(value: str | None) -> str | None:
    value = (value or "").strip()
    if not _IDENTIFIER_RE.fullmatch(value) or not re.search(r"\d", value):
        return None
    return clean_identifier(value, max_length=40)


def hash_labelled_sku(text: str, title_offset: int | None) -> str | None:
    """The identifier after a ``#`` label ("Item #A12-345") on the lines under the title,
    which starts at ``title_offset`` in ``text``."""
    if title_offset is None:
        return None
    end = min(len(text), title_offset + HASH_LABEL_SCAN_CHARS)
    for match in _HASH_LABEL_RE.finditer(text, title_offset, end):
        if _NOT_SKU_LABEL_RE.search(match.group("label")):
            continue
        value = _identifier(match.group("value"))
        if value and len(value) >= 4:
            return value
    return None


#: "sku" as a word of a class or id: between separators ("product-sku", "sku_wrapper",
#: "skuValue"), or a camel-case word of a name without digits ("variantSku", "pdpSKU"); not
#: letters inside a generated class name ("Qw6mvRoX0xm5QsSku4hy") nor another word
#: ("skull", "skus").
_SKU_WORD_RE = re.compile(r"(?<![A-Za-z0-9])(?:sku|Sku|SKU)(?![a-z0-9])")
_SKU_CAMEL_RE = re.compile(r"(?<=[a-z])(?:Sku|SKU)(?![a-z])")


def _names_sku(marker: str) -> bool:
    """Whether a class or id attribute's value names an SKU (see ``_SKU_WORD_RE``)."""
    for token in marker.split():
        if _SKU_WORD_RE.search(token):
            return True
        if not any(c.isdigit() for c in token) and _SKU_CAMEL_RE.search(token):
            return True
    return False


_SKU_PREFIX_RE = re.compile(
    r"^\s*(?:sku|item|art(?:icle)?)?\.?\s*(?:no\.?|nr\.?|#)?\s*[:：#]?\s*", re.I
)
#: At most this many pieces of text are looked at when the page has no product region.
MARKED_SCAN_PIECES = 5000


def marked_sku(page: PageText, region: tuple[int, int] | None) -> str | None:
    """The identifier shown in an element whose class or id names an SKU
    (``<span class="product-sku">BK-2041</span>``, no label printed before it), in the
    product region: shop themes mark the element their scripts update per variant. Only
    the elements showing text there are looked at (the element or its parent), not the
    whole tree."""
    start, end = page.span(region)
    first = bisect.bisect_right(page.starts, start) - 1
    last = bisect.bisect_left(page.starts, end)
    if region is None:
        last = min(last, max(first, 0) + MARKED_SCAN_PIECES)
    seen: set[Any] = set()
    for owner in page.owners[max(first, 0) : last]:
        if owner is None or owner in seen:
            continue
        seen.add(owner)
        for element in (owner, owner.getparent()):
            if element is None or not isinstance(element.tag, str):
                continue
            marker = (element.get("class") or "") + " " + (element.get("id") or "")
            if "sku" not in marker.lower() or not _names_sku(marker):
                continue
            text = " ".join("".join(element.itertext()).split())
            if not text or len(text) > 60:
                continue
            value = _identifier(_SKU_PREFIX_RE.sub("", text, count=1))
            if value and len(value) >= 3:
                return value
    return None


def _form_of(element: Any) -> Any | None:
    return next(element.iterancestors("form"), None)


def buy_form_sku(buttons: list[Button], buy_index: int | None) -> str | None:
    """The product's identifier on its add-to-cart button or form (see the module
    docstring); ``buy_index`` is the product's buy button (its element index)."""
    button = next((b for b in buttons if b.index == buy_index), None)
    if button is None:
        return None
    element = button.element
    form = element if element.tag == "form" else _form_of(element)
    holders = [element, *([form] if form is not None and form is not element else [])]
    for holder in holders:
        for attr in _SKU_ATTRS:
            value = _identifier(holder.get(attr))
            if value:
                return value
    if (element.get("name") or "").lower() in _ID_INPUTS:
        value = _identifier(element.get("value"))
        if value:
            return value
    if form is not None:
        for field in form.iter("input", "button"):
            if (field.get("name") or "").lower() in _ID_INPUTS:
                value = _identifier(field.get("value"))
                if value:
                    return value
    return None


_SCRIPT_SKU_RE = re.compile(
    r"\\?[\"'](?:sku|SKU|Sku|skuId|skuID|sku_id|skuCode|sku_code|productSku|productSKU|"
    r"product_sku)\\?[\"']\s*:\s*(?:\\?[\"'](?P<value>[A-Za-z0-9][A-Za-z0-9./_-]{1,39})\\?[\"']|"
    r"(?P<number>\d{2,20})\s*[,}])"
)


def script_sku(tree: Any) -> str | None:
    """The first ``"sku": "..."`` with a digit in the page's inline scripts."""
    for script in tree.iter("script"):
        kind = (script.get("type") or "").lower()
        if script.get("src") or any(t in kind for t in SKIP_SCRIPT_TYPES):
            continue
        code = script.text or ""
        if not code or len(code) > MAX_SCRIPT_CHARS or "sku" not in code.lower():
            continue
        for match in _SCRIPT_SKU_RE.finditer(code):
            value = _identifier(match.group("value") or match.group("number"))
            if value:
                return value
    return None
