"""Reading the JSON-LD a shop embeds in its pages, tolerantly and within bounds.

Used by :mod:`extraction.structured` (the product's fields) and meant for the page check in
:mod:`mlverify` (is this a product page), so that both read a page's JSON-LD the same way.

* :func:`parse_jsonld_text` parses one ``<script type="application/ld+json">`` block and accepts
  what browsers and search engines tolerate: HTML comment and CDATA wrappers, control
  characters in strings, trailing commas, JavaScript comments, single-quoted strings, several
  objects in one script. :func:`read_jsonld_scripts` does it for every block of a parsed page.
* :func:`walk_typed_nodes` collects every object with an ``@type`` (``@graph`` members, nested
  offers, a WebPage's ``mainEntity``...), iteratively and only :data:`MAX_DEPTH` levels deep,
  so a 10,000-level document cannot exhaust the stack; it marks the nodes found under keys that
  describe *another* thing than the page's (a review's ``itemReviewed``, related products,
  the seller) as ``foreign``. :func:`top_level_nodes` is the shallow variant: the objects a
  page states about itself (top level, ``@graph``, ``mainEntity``), not what they mention.
* :func:`type_names`, :data:`PRODUCT_TYPES` and :data:`OFFER_TYPES` say what a node is;
  :func:`first_value` and :func:`scalar_value` read a property that may be a list or a
  ``{"@value": ...}`` / ``{"name": ...}`` object.

Nothing here raises on page content, and nothing depends on Django.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "FOREIGN_KEYS",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_REPAIR_CHARS",
    "OFFER_TYPES",
    "PRODUCT_TYPES",
    "NodeSource",
    "TypedNode",
    "first_value",
    "has_offers",
    "parse_jsonld_text",
    "read_jsonld_scripts",
    "scalar_value",
    "top_level_nodes",
    "type_name",
    "type_names",
    "walk_typed_nodes",
]

#: How deep JSON-LD (and microdata converted to its shape) is walked. Real pages nest a
#: product 2-6 levels deep.
MAX_DEPTH = 40
#: A JSON-LD block larger than this is not repaired when it is invalid (repair is Python-speed).
MAX_REPAIR_CHARS = 300_000
#: At most this many typed nodes are collected from one page.
MAX_NODES = 2_000

#: schema.org types (lower-cased local names) of things a shop sells as one product.
PRODUCT_TYPES = frozenset(
    {
        "product",
        "productgroup",
        "productmodel",
        "individualproduct",
        "someproducts",
        "vehicle",
        "car",
        "motorcycle",
        "book",
        "dietarysupplement",
        "drug",
    }
)
#: schema.org types of an offer to sell something.
OFFER_TYPES = frozenset({"offer", "aggregateoffer"})

#: Under these keys (lower-cased) a node describes another thing than the page's product.
FOREIGN_KEYS = frozenset(
    {
        "isrelatedto",
        "issimilarto",
        "isaccessoryorsparepartfor",
        "isconsumablefor",
        "isvariantof",
        "review",
        "reviews",
        "itemreviewed",
        "seller",
        "brand",
        "manufacturer",
        "offeredby",
        "isbasedon",
        "related",
        "relatedproducts",
    }
)

#: Where a typed node came from: a JSON-LD block, or microdata read into the same shape.
NodeSource = Literal["json-ld", "microdata"]


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

_WRAPPER_RE = re.compile(r"^\s*(?://\s*)?(?:<!--|<!\[CDATA\[)|(?://\s*)?(?:-->|\]\]>)\s*;?\s*$")


def _strip_wrappers(text: str) -> str:
    text = text.strip().lstrip("\ufeff")
    for _ in range(3):
        stripped = _WRAPPER_RE.sub("", text).strip()
        if stripped == text:
            break
        text = stripped
    return text.rstrip(";").strip()


def _repair_json(text: str) -> str:
    """Rewrite near-JSON into JSON: drop comments and trailing commas, turn single-quoted
    strings into double-quoted ones, escape raw control characters, NaN/undefined -> null."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"' or ch == "'":
            quote = ch
            j = i + 1
            buf: list[str] = []
            while j < n:
                c = text[j]
                if c == "\\" and j + 1 < n:
                    nxt = text[j + 1]
                    if quote == "'" and nxt == "'":
                        buf.append("'")
                    else:
                        buf.append(c + nxt)
                    j += 2
                    continue
                if c == quote:
                    break
                if c == '"':  # only possible inside a single-quoted string
                    buf.append('\\"')
                elif c < " ":
                    buf.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(c, " "))
                else:
                    buf.append(c)
                j += 1
            out.append('"' + "".join(buf) + '"')
            i = j + 1
            continue
        if ch == "/" and i + 1 < n and text[i + 1] == "/":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch == "/" and i + 1 < n and text[i + 1] == "*":
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if ch == ",":
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            if j >= n or text[j] in "}]":
                i += 1
                continue
        if ch.isalpha():
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            out.append("null" if word in ("NaN", "undefined", "Infinity") else word)
            i = j
            continue
        out.append(ch)
        i += 1
    return "".join(out)


_DECODER = json.JSONDecoder(strict=False)


def _decode_many(text: str) -> list[Any]:
    """Decode one or several concatenated JSON values; skip junk between them."""
    values: list[Any] = []
    pos, n, attempts = 0, len(text), 0
    while pos < n and attempts < 50:
        while pos < n and text[pos] in " \t\r\n,;":
            pos += 1
        if pos >= n:
            break
        try:
            value, end = _DECODER.raw_decode(text, pos)
        except RecursionError:
            raise
        except ValueError:
            attempts += 1
            nxt = min(
                (k for k in (text.find("{", pos + 1), text.find("[", pos + 1)) if k >= 0),
                default=-1,
            )
            if nxt < 0:
                break
            pos = nxt
            continue
        values.append(value)
        pos = end
    return values


def parse_jsonld_text(raw: str) -> tuple[list[Any], bool]:
    """Parse one JSON-LD script's text. Returns ``(values, was_invalid)``; never raises."""
    text = _strip_wrappers(raw or "")
    if not text:
        return [], False
    try:
        return [_DECODER.decode(text)], False
    except RecursionError:
        return [], True
    except ValueError:
        pass
    try:
        values = _decode_many(text)
        if values and len(values) > 1:
            return values, True
        if len(text) <= MAX_REPAIR_CHARS:
            repaired = _decode_many(_repair_json(text))
            if repaired:
                return repaired, True
        return values, True
    except RecursionError:
        return [], True


def read_jsonld_scripts(tree: Any) -> tuple[list[Any], int]:
    """Every JSON-LD value of a parsed page (an lxml tree) and how many blocks were invalid.

    A block counts when its ``type`` attribute contains ``ld+json`` (whatever its case or
    parameters); invalid blocks are repaired as :func:`parse_jsonld_text` says.
    """
    values: list[Any] = []
    invalid = 0
    for script in tree.iter("script"):
        kind = (script.get("type") or "").strip().lower()
        if "ld+json" not in kind:
            continue
        found, was_invalid = parse_jsonld_text(script.text or "")
        values.extend(found)
        invalid += int(was_invalid)
    return values, invalid


# --------------------------------------------------------------------------------------------
# What a node is
# --------------------------------------------------------------------------------------------


def type_name(value: str) -> str:
    """The lower-cased local name of a type: ``"https://schema.org/Product"`` -> ``"product"``."""
    return re.split(r"[/#:]", value.strip())[-1].lower()


def type_names(node: dict[str, Any]) -> set[str]:
    """The lower-cased local names of a node's ``@type`` (or ``type``), at most ten."""
    raw = node.get("@type", node.get("type"))
    values = raw if isinstance(raw, list) else [raw]
    names = set()
    for value in values[:10]:
        if isinstance(value, str) and value:
            names.add(type_name(value))
    return names


def has_offers(node: dict[str, Any]) -> bool:
    """Whether a node states offers (an object or a non-empty list under ``offers``)."""
    offers = node.get("offers")
    return isinstance(offers, dict | list) and bool(offers)


def first_value(value: Any) -> Any:
    """The first non-empty item of a list, or the value itself when it is not a list."""
    if isinstance(value, list):
        for item in value:
            if item not in (None, "", [], {}):
                return item
        return None
    return value


def scalar_value(value: Any) -> Any:
    """A property that may be ``{"@value": ...}`` or ``{"name": ...}`` (or a list of them)
    read as a scalar; None for an object without one."""
    value = first_value(value)
    if isinstance(value, dict):
        for key in ("@value", "value", "name", "@id"):
            if key in value and not isinstance(value[key], (dict, list)):
                return value[key]
        return None
    return value


# --------------------------------------------------------------------------------------------
# Walking
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class TypedNode:
    """An object with an ``@type`` found on the page, and where it was found."""

    node: dict[str, Any]
    types: set[str]
    source: NodeSource
    order: int  # page order among all typed nodes
    foreign: bool  # found under isRelatedTo, review, ... (describes something else)
    parent_types: frozenset[str] = frozenset()


def walk_typed_nodes(
    roots: list[Any], *, source: NodeSource, start_order: int, out: list[TypedNode]
) -> None:
    """Append every dict with a @type under ``roots`` to ``out``, in page order, iteratively
    and depth-bounded (:data:`MAX_DEPTH`, at most :data:`MAX_NODES` in ``out``)."""
    stack: list[tuple[Any, int, bool, frozenset[str]]] = [
        (root, 0, False, frozenset()) for root in reversed(roots)
    ]
    order = start_order
    while stack and len(out) < MAX_NODES:
        value, depth, foreign, parent_types = stack.pop()
        if depth > MAX_DEPTH:
            continue
        if isinstance(value, list):
            for item in reversed(value[:500]):
                stack.append((item, depth + 1, foreign, parent_types))
            continue
        if not isinstance(value, dict):
            continue
        types = type_names(value)
        if types:
            out.append(TypedNode(value, types, source, order, foreign, parent_types))
            order += 1
        children = []
        for key, child in value.items():
            if isinstance(child, (dict, list)):
                key_l = key.lower() if isinstance(key, str) else ""
                children.append(
                    (child, depth + 1, foreign or key_l in FOREIGN_KEYS, frozenset(types))
                )
        stack.extend(reversed(children))


#: The keys under which a page states what it is about (not what it mentions).
_SELF_KEYS = ("@graph", "mainEntity", "mainEntityOfPage")


def top_level_nodes(values: Iterable[Any], *, max_depth: int = 3) -> Iterator[tuple[str, Any]]:
    """``(type name, node)`` for the objects a page states about itself: each top-level
    object of its JSON-LD, the members of an ``@graph`` and a page's ``mainEntity``.

    Nested objects (a review's ``itemReviewed``, an offer's seller) do not count: an article
    that reviews a product is still an article. Only ``max_depth`` levels are followed.
    """
    stack: list[tuple[Any, int]] = [(value, 0) for value in reversed(list(values))]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            continue
        if isinstance(node, list):
            stack.extend((item, depth + 1) for item in reversed(node))
            continue
        if not isinstance(node, dict):
            continue
        raw = node.get("@type")
        for value in raw if isinstance(raw, list) else [raw]:
            if isinstance(value, str):
                yield type_name(value), node
        stack.extend((node[key], depth + 1) for key in reversed(_SELF_KEYS) if key in node)
