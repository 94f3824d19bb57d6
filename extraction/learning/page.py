"""One parsed page as this package reads it: the tree, its JSON-LD product node, its meta
tags and locale, and how each learnable field's value is read out of a location.

Both sides use the same readers: the candidates recorded at extraction
(:mod:`.candidates`) and the learned locations tried later (:mod:`.apply`), so a location
that held the right value on page A is read the same way on page B.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from lxml import etree

from buyhive.product.availability import normalize_availability
from buyhive.product.jsonld import read_jsonld_scripts, top_level_nodes, type_names
from buyhive.product.money import normalize_currency
from buyhive.product.text import clean_text
from extraction.learning.locations import resolve_dom, resolve_label, resolve_ld
from extraction.normalize import (
    PageLocale,
    absolute_url,
    find_prices,
    parse_locale,
    parse_price_value,
    resolve_currency,
)
from extraction.structured import MetaTags, read_meta

__all__ = [
    "LEARNABLE_FIELDS",
    "PageView",
    "fingerprint",
    "marked_up",
    "page_view",
    "value_key",
]

#: The item fields a correction teaches (the issue's list), by their product names.
LEARNABLE_FIELDS: tuple[str, ...] = ("title", "price", "currency", "image", "availability")
#: Same parser settings as the extractor (extraction.deterministic): no network, recover.
_PARSER = etree.HTMLParser(
    recover=True, no_network=True, remove_comments=True, remove_pis=True, default_doctype=False
)
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_MAX_HTML = 4_000_000
#: Text longer than this is a block of content, not a field's value.
MAX_VALUE_TEXT = 200


def fingerprint(text: str) -> str:
    """A short one-way digest of a long value (a title, an image address): the record needs
    to recognise the value later, never to show it."""
    folded = " ".join(text.split()).casefold()
    return "h:" + hashlib.sha256(folded.encode("utf-8", "surrogatepass")).hexdigest()[:12]


@dataclass(slots=True)
class PageView:
    """A page as the learning readers see it (see the module docstring)."""

    tree: Any
    url: str
    base_url: str | None
    locale: PageLocale
    meta: MetaTags
    product_node: dict[str, Any] | None = None
    #: Short texts computed for the whole page at once (:func:`short_texts`), when known.
    _texts: dict[Any, str] = field(default_factory=dict)

    def know_texts(self, texts: dict[Any, str]) -> None:
        self._texts = texts

    def is_short(self, el: Any) -> bool:
        """Whether ``el``'s text is short enough to be a value (known after know_texts)."""
        return not self._texts or el in self._texts

    # -- reading a location ---------------------------------------------------------------

    def raw_at(self, location: str) -> tuple[Any, Any]:
        """``(raw value, element or None)`` at ``location``; ``(None, None)`` when absent."""
        kind, _, rest = location.partition(":")
        if kind == "ld":
            if self.product_node is None:
                return None, None
            return resolve_ld(self.product_node, rest), None
        if kind == "meta":
            return self.meta.first(rest), None
        if kind in ("dom", "label"):
            el = resolve_dom(self.tree, rest) if kind == "dom" else resolve_label(self.tree, rest)
            if el is None:
                return None, None
            return self.element_value(el), el
        return None, None

    def element_value(self, el: Any) -> str | None:
        """An element's value: an image's address, a ``content`` attribute, else its text."""
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if tag == "img":
            for attr in ("src", "data-src", "data-original"):
                if el.get(attr):
                    return str(el.get(attr))
            return None
        if el.get("content") and el.get("itemprop"):
            return str(el.get("content"))
        if not tag or tag in SKIP_TAGS:
            return None
        if el in self._texts:
            return self._texts[el]
        return element_text(el)

    def read(self, field_name: str, location: str) -> Any:
        """The validated value of ``field_name`` at ``location`` (a Decimal price, an ISO
        currency, a schema.org availability term, a title, an absolute image address), or
        None when the place is missing or holds nothing valid there."""
        raw, el = self.raw_at(location)
        return self.interpret(field_name, raw, structured=marked_up(el))

    def interpret(self, field_name: str, raw: Any, *, structured: bool) -> Any:
        if raw is None or isinstance(raw, bool):
            return None
        if field_name == "price":
            return self._price(raw, structured=structured)
        text = str(raw).strip()
        if not text or len(text) > MAX_VALUE_TEXT:
            return None
        if field_name == "currency":
            if structured:
                return normalize_currency(text)
            found = find_prices(text, limit=1)
            if not found or not found[0].symbol:
                return None
            return resolve_currency(found[0].symbol, self.locale)
        if field_name == "availability":
            return normalize_availability(text)
        if field_name == "title":
            return clean_text(text, max_length=MAX_VALUE_TEXT)
        if field_name == "image":
            url = absolute_url(text, self.base_url)
            return url if url and url.startswith(("http://", "https://")) else None
        return None

    def _price(self, raw: Any, *, structured: bool) -> Decimal | None:
        if structured:
            amount = parse_price_value(raw)
        else:
            text = str(raw)
            if len(text) > 60:
                return None  # a block holding a price, not the price's own place
            found = find_prices(text, limit=2)
            amount = found[0].amount if len(found) == 1 else None
        return amount if amount is not None and amount > 0 else None


#: Subtrees whose text is not part of what a shopper reads.
SKIP_TAGS = frozenset({"script", "style", "noscript", "head", "template", "svg", "select"})
#: Raw text kept per element while composing (a parent of a longer one is long too).
_RAW_CAP = 1000


def _norm(text: str | None) -> str:
    return " ".join(text.split()) if text else ""


def element_text(el: Any) -> str:
    """An element's visible text, whitespace collapsed, cut after ``MAX_VALUE_TEXT`` + 1
    characters (script and style contents left out)."""
    parts: list[str] = []
    size = 0
    stack: list[tuple[Any, bool]] = [(el, False)]
    while stack and size <= _RAW_CAP:
        node, is_tail = stack.pop()
        if is_tail:
            piece = _norm(node.tail)
        else:
            tag = node.tag.lower() if isinstance(node.tag, str) else ""
            if node is not el:
                stack.append((node, True))
            if not tag or tag in SKIP_TAGS:
                continue
            piece = _norm(node.text)
            stack.extend((child, False) for child in reversed(node))
        if piece:
            parts.append(piece)
            size += len(piece) + 1
    return " ".join(parts)[: MAX_VALUE_TEXT + 1]


def short_texts(root: Any) -> dict[Any, str]:
    """:func:`element_text` of every element whose text is short, for the whole page in one
    pass (children before parents), instead of once per element (quadratic on deep pages)."""
    composed: dict[Any, str] = {}
    for el in reversed(list(root.iter())):
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if not tag or tag in SKIP_TAGS:
            composed[el] = ""
            continue
        parts = [_norm(el.text)]
        size = len(parts[0])
        for child in el:
            text = composed.get(child)
            if text is None:
                break  # a long child makes a long parent
            parts += [text, _norm(child.tail)]
            size += len(text) + len(parts[-1]) + 2
            if size > _RAW_CAP:
                break
        else:
            composed[el] = " ".join(part for part in parts if part)
    return {el: text[: MAX_VALUE_TEXT + 1] for el, text in composed.items()}


def marked_up(el: Any) -> bool:
    """Whether a value is read as structured data: no element (JSON-LD, meta) or an element
    with ``itemprop`` (microdata states a bare ``39.99``; visible text needs its currency
    mark to count as a price)."""
    return el is None or bool(el.get("itemprop"))


def value_key(field_name: str, value: Any) -> str | None:
    """The compact form a value is stored and compared in (see :mod:`.candidates`)."""
    if value is None or value == "":
        return None
    if field_name == "price":
        try:
            return format(Decimal(str(value)).normalize(), "f")
        except ArithmeticError:
            return None
    if field_name in ("title", "image"):
        return fingerprint(str(value))
    if field_name == "currency":
        return normalize_currency(value)
    if field_name == "availability":
        return normalize_availability(value)
    return None


def _parse(html: str) -> Any | None:
    html = _XML_DECL_RE.sub("", html[:_MAX_HTML], count=1)
    try:
        return etree.fromstring(html, _PARSER)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError, TypeError):
        return None


def _product_node(tree: Any) -> dict[str, Any] | None:
    """The page's own JSON-LD product: the first one it states about itself."""
    values, _invalid = read_jsonld_scripts(tree)
    for name, node in top_level_nodes(values):
        if "product" in name and isinstance(node, dict):
            return node
    for value in values:
        if isinstance(value, dict) and any("product" in t for t in type_names(value)):
            return value
    return None


def page_view(*, html: str | None, url: str) -> PageView | None:
    """The page parsed for learning, or None when there is no HTML to read."""
    if not isinstance(html, str) or not html.strip():
        return None
    tree = _parse(html)
    if tree is None:
        return None
    base_url = url or None
    for base in tree.iter("base"):
        base_url = absolute_url(base.get("href"), url or None) or base_url
        break
    meta = read_meta(tree)
    declared = tree.get("lang") or meta.first("og:locale")
    return PageView(
        tree=tree,
        url=url,
        base_url=base_url,
        locale=parse_locale(declared, url=url),
        meta=meta,
        product_node=_product_node(tree),
    )
