"""The candidates a page offers for each learnable field, kept compact with the saved item.

A record is ``{field: [[location, value key], ...]}``: structured places first (JSON-LD key
paths, meta properties), then DOM paths in page order from the product's title onward (the
price the user meant is near the title far more often than in a "related products" rail).
Values are kept in their compact comparable form (:func:`.page.value_key`): a price as a
plain decimal, a currency as its ISO code, availability as its schema.org term, a title or
an image address as a 12-hex-digit digest. The whole record stays under
:data:`MAX_RECORD_BYTES`; the page itself is never kept.

Only places that :meth:`.page.PageView.read` reads back to the same value are recorded, so
a location learned from a record is one that the apply step can follow on the next page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from extraction.learning.locations import (
    LOCATION_MAX,
    DomIndex,
    dom_path_for,
    label_for,
    ld_leaves,
    resolve_label,
)
from extraction.learning.page import (
    LEARNABLE_FIELDS,
    MAX_VALUE_TEXT,
    SKIP_TAGS,
    PageView,
    element_text,
    marked_up,
    short_texts,
    value_key,
)
from extraction.normalize import find_prices

__all__ = ["MAX_RECORD_BYTES", "page_candidates", "record_matches"]

#: The bound on one item's record, serialised (the issue: "a few hundred bytes").
MAX_RECORD_BYTES = 900
#: Candidates kept per field before the size bound trims them.
PER_FIELD = {"price": 5, "currency": 3, "availability": 3, "title": 3, "image": 3}
#: JSON-LD keys (lower-cased) that may hold each field.
_LD_KEYS = {
    "price": {"price", "lowprice", "highprice"},
    "currency": {"pricecurrency"},
    "availability": {"availability"},
    "title": {"name"},
    "image": {"image", "contenturl", "url"},
}
_META_KEYS = {
    "price": ("product:price:amount", "og:price:amount", "price"),
    "currency": ("product:price:currency", "og:price:currency", "pricecurrency"),
    "availability": ("product:availability", "og:availability", "availability"),
    "title": ("og:title", "twitter:title"),
    "image": ("og:image", "og:image:url", "twitter:image"),
}
_SKIP_TAGS = SKIP_TAGS | {"option"}
_TITLE_TAGS = {"h1", "h2"}
#: Fields whose value is often written after a label ("Price:", "Availability:").
_LABELLED = frozenset({"price", "availability"})
#: DOM paths built per page at most (each may scan the page's elements of one tag).
_MAX_PATH_ATTEMPTS = 120
#: Elements examined for DOM candidates, at most, from the title on (a huge page costs no
#: more than this; the product's own values are near its title).
_MAX_ELEMENTS = 20_000
_DIGIT_RE = re.compile(r"\d")


def _ld_candidates(page: PageView, field_name: str) -> Iterator[tuple[str, Any]]:
    if page.product_node is None:
        return
    keys = _LD_KEYS[field_name]
    for path, key, raw in ld_leaves(page.product_node):
        if key.lower() not in keys:
            continue
        if field_name == "title" and "." in path:
            continue  # only the product's own name, not a brand's or a seller's
        if field_name == "image" and not path.lower().startswith("image"):
            continue
        yield f"ld:{path}", page.interpret(field_name, raw, structured=True)


def _meta_candidates(page: PageView, field_name: str) -> Iterator[tuple[str, Any]]:
    for key in _META_KEYS[field_name]:
        raw = page.meta.first(key)
        if raw is not None:
            yield f"meta:{key}", page.interpret(field_name, raw, structured=True)


def _leafish(page: PageView, el: Any) -> str | None:
    if not page.is_short(el):
        return None
    text = page.element_value(el)
    if not text or len(text) > MAX_VALUE_TEXT:
        return None
    return text


def _dom_elements(page: PageView) -> list[Any]:
    """Elements in page order, starting at the first title heading (then the ones before)."""
    elements: list[Any] = []
    skipped: set[Any] = set()
    start = None
    for el in page.tree.iter():
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if not tag or tag in _SKIP_TAGS or el.getparent() in skipped:
            skipped.add(el)  # page order: a parent is seen before its children
            continue
        if start is None and tag == "h1":
            start = len(elements)
        elements.append(el)
    if start:
        elements = elements[start:] + elements[:start]
    return elements[:_MAX_ELEMENTS]


def _dom_candidates(page: PageView, elements: list[Any]) -> dict[str, list[tuple[str, Any]]]:
    found: dict[str, list[tuple[str, Any]]] = {name: [] for name in LEARNABLE_FIELDS}
    images = 0
    index = DomIndex(page.tree)
    attempts = 0
    for el in elements:
        tag = el.tag.lower()
        wanted: list[str] = []
        if tag == "img":
            if images < PER_FIELD["image"]:
                wanted.append("image")
                images += 1
        else:
            text = _leafish(page, el)
            if text is None:
                continue
            # The innermost element holding the text: a wrapper with the same text adds nothing.
            if any(
                isinstance(child.tag, str) and page.element_value(child) == text for child in el
            ):
                continue
            if tag in _TITLE_TAGS or "name" in (el.get("itemprop") or "").split():
                wanted.append("title")
            itemprops = (el.get("itemprop") or "").split()
            if "price" in itemprops or "priceCurrency" in itemprops:
                wanted += ["price"] if "price" in itemprops else ["currency"]
            elif len(text) > 60:
                pass
            elif _DIGIT_RE.search(text):
                if find_prices(text, limit=2):
                    wanted += ["price", "currency"]
            elif len(text) <= 40:
                wanted.append("availability")
        for field_name in wanted:
            if len(found[field_name]) >= PER_FIELD[field_name] * 2:
                continue
            value = page.interpret(field_name, page.element_value(el), structured=marked_up(el))
            if value is None:
                continue
            if attempts >= _MAX_PATH_ATTEMPTS:
                return found
            attempts += 1
            path = dom_path_for(page.tree, el, index)
            if path is not None:
                found[field_name].append((f"dom:{path}", value))
            if field_name in _LABELLED:
                label = label_for(el, element_text)
                if label is not None and resolve_label(page.tree, label) is el:
                    found[field_name].append((f"label:{label}", value))
        if all(len(found[n]) >= PER_FIELD[n] * 2 for n in ("price", "title", "availability")):
            break
    return found


def page_candidates(page: PageView) -> dict[str, list[list[str]]]:
    """The page's compact candidate record (see the module docstring)."""
    page.know_texts(short_texts(page.tree))
    dom = _dom_candidates(page, _dom_elements(page))
    record: dict[str, list[list[str]]] = {}
    for field_name in LEARNABLE_FIELDS:
        entries: list[list[str]] = []
        seen: set[str] = set()
        for location, value in (
            *_ld_candidates(page, field_name),
            *_meta_candidates(page, field_name),
            *dom[field_name],
        ):
            key = value_key(field_name, value)
            if key is None or location in seen or len(location) > LOCATION_MAX:
                continue
            seen.add(location)
            entries.append([location, key])
            if len(entries) >= PER_FIELD[field_name]:
                break
        if entries:
            record[field_name] = entries
    return _trim(record)


def _size(record: dict[str, list[list[str]]]) -> int:
    return len(json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode())


def _trim(record: dict[str, list[list[str]]]) -> dict[str, list[list[str]]]:
    """Drop the last candidate of the longest field until the record fits."""
    while record and _size(record) > MAX_RECORD_BYTES:
        longest = max(record, key=lambda name: (len(record[name]), name == "price"))
        record[longest].pop()
        if not record[longest]:
            del record[longest]
    return record


def record_matches(record: dict[str, Any], field_name: str, value: Any) -> list[str]:
    """The recorded locations of ``field_name`` that held ``value`` (the corrected one)."""
    key = value_key(field_name, value)
    if key is None:
        return []
    entries = record.get(field_name) or []
    return [location for location, held in entries if held == key]
