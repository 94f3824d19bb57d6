"""Locations on a shop's page that stay put from one product page to the next.

A location is a short string, its kind first:

``ld:offers[0].price``
    a key path inside the page's JSON-LD product node;
``meta:product:price:amount``
    a ``<meta>`` property (or name / itemprop);
``dom:main>div.product-card>div.deal>span.amt``
    a chain of parent-child steps, each a tag with its stable id, classes and ``itemprop``;
    it names the first element in page order that the chain matches;
``label:Our price:``
    the element right after the first element whose whole text is that label (a shop whose
    markup is all generated class names still writes the same words before its price).

A DOM step never holds an nth-child index, and leaves out ids and classes that look
generated or product-specific (three or more digits, long hex runs): those differ between
two pages of one shop, and a location that moves is worthless.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lxml import etree

__all__ = [
    "DomIndex",
    "DomStep",
    "dom_path_for",
    "label_for",
    "ld_leaves",
    "resolve_dom",
    "resolve_label",
    "resolve_ld",
    "stable_token",
]

#: A location string's length bound (stored in LearnedLocation.location).
LOCATION_MAX = 300
#: DOM steps tried for one element, nearest first (more when a shorter chain is ambiguous).
MIN_STEPS = 3
MAX_STEPS = 6
_TOKEN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,39}$")
_DIGITS_RE = re.compile(r"\d")
_HEX_RUN_RE = re.compile(r"[0-9a-f]{6,}", re.I)
_STEP_RE = re.compile(
    r"^(?P<tag>[a-z][a-z0-9]*)(?P<id>#[A-Za-z0-9_-]+)?(?P<classes>(?:\.[A-Za-z0-9_-]+)*)"
    r"(?:\[itemprop=(?P<itemprop>[A-Za-z0-9_-]+)\])?$"
)
_LD_SEGMENT_RE = re.compile(r"([^.\[\]]+)|\[(\d{1,3})\]")
#: JSON-LD leaves read per product node: enough for offers, images, brand; bounded.
LD_MAX_DEPTH = 4
LD_MAX_LEAVES = 200


def stable_token(value: str | None) -> bool:
    """Whether an id or class reads as part of the shop's template (``price-now``, ``amt``)
    rather than generated or product-specific (``p-12345``, ``css-1a2b3c``)."""
    if not value or not _TOKEN_RE.match(value):
        return False
    return len(_DIGITS_RE.findall(value)) < 3 and not _HEX_RUN_RE.search(value)


@dataclass(frozen=True, slots=True)
class DomStep:
    """One element of a DOM path: what it must have (a subset of its classes)."""

    tag: str
    id: str | None
    classes: tuple[str, ...]
    itemprop: str | None

    @classmethod
    def of(cls, el: Any) -> DomStep:
        tag = el.tag if isinstance(el.tag, str) else ""
        el_id = el.get("id")
        classes = [c for c in (el.get("class") or "").split() if stable_token(c)]
        itemprop = (el.get("itemprop") or "").split()
        return cls(
            tag=tag.lower(),
            id=el_id if stable_token(el_id) else None,
            classes=tuple(sorted(dict.fromkeys(classes))[:3]),
            itemprop=itemprop[0] if itemprop and stable_token(itemprop[0]) else None,
        )

    @classmethod
    def parse(cls, text: str) -> DomStep | None:
        match = _STEP_RE.match(text)
        if match is None:
            return None
        classes = tuple(c for c in (match.group("classes") or "").split(".") if c)
        el_id = match.group("id")
        return cls(match.group("tag"), el_id[1:] if el_id else None, classes, match["itemprop"])

    def render(self) -> str:
        text = self.tag + (f"#{self.id}" if self.id else "")
        text += "".join(f".{c}" for c in self.classes)
        return text + (f"[itemprop={self.itemprop}]" if self.itemprop else "")

    def matches(self, el: Any) -> bool:
        if not isinstance(el.tag, str) or el.tag.lower() != self.tag:
            return False
        if self.id is not None and el.get("id") != self.id:
            return False
        if self.classes and not set(self.classes) <= set((el.get("class") or "").split()):
            return False
        return self.itemprop is None or self.itemprop in (el.get("itemprop") or "").split()


def _chain(el: Any, steps: int) -> list[DomStep]:
    chain: list[DomStep] = []
    node = el
    while node is not None and len(chain) < steps:
        if not isinstance(node.tag, str) or node.tag.lower() in ("html", "body"):
            break
        step = DomStep.of(node)
        chain.append(step)
        if step.id is not None:
            break  # a stable id anchors the chain: nothing above it adds precision
        node = node.getparent()
    chain.reverse()
    return chain


def _render(chain: list[DomStep]) -> str:
    return ">".join(step.render() for step in chain)


def _parse_dom(path: str) -> list[DomStep] | None:
    steps = [DomStep.parse(part) for part in path.split(">")]
    if not steps or any(step is None for step in steps):
        return None
    return [step for step in steps if step is not None]


def _chain_matches(el: Any, chain: list[DomStep]) -> bool:
    node = el
    for step in reversed(chain):
        if node is None or not step.matches(node):
            return False
        node = node.getparent()
    return True


def _token_test(attr: str, token: str) -> str:
    return f"contains(concat(' ', normalize-space(@{attr}), ' '), ' {token} ')"


@lru_cache(maxsize=1024)
def _xpath(path: str) -> etree.XPath | None:
    """The chain as one XPath (run in C): ``//main/div[...]/span[...]``. Tokens are limited
    to letters, digits, ``_`` and ``-`` by the step grammar, so nothing can escape a test."""
    chain = _parse_dom(path)
    if not chain:
        return None
    steps = []
    for step in chain:
        tests = [f"@id='{step.id}'"] if step.id else []
        tests += [_token_test("class", c) for c in step.classes]
        if step.itemprop:
            tests.append(_token_test("itemprop", step.itemprop))
        steps.append(step.tag + "".join(f"[{t}]" for t in tests))
    return etree.XPath("//" + "/".join(steps))


def resolve_dom(tree: Any, path: str) -> Any | None:
    """The first element in page order that ``path`` names, or None."""
    xpath = _xpath(path)
    if xpath is None:
        return None
    found = xpath(tree)
    return found[0] if isinstance(found, list) and found else None


class DomIndex:
    """A page's elements by tag and by (tag, class / id / itemprop), in page order: finds a
    chain's first match among the few elements that can be it, instead of the whole page
    (recording the candidates builds dozens of paths per page)."""

    def __init__(self, tree: Any) -> None:
        self.by_key: dict[tuple[str, str], list[Any]] = {}
        for el in tree.iter():
            if not isinstance(el.tag, str):
                continue
            tag = el.tag.lower()
            keys = [""] + [f".{c}" for c in (el.get("class") or "").split()]
            if el.get("id"):
                keys.append(f"#{el.get('id')}")
            keys += [f"@{p}" for p in (el.get("itemprop") or "").split()]
            for key in keys:
                self.by_key.setdefault((tag, key), []).append(el)

    def first_match(self, chain: list[DomStep]) -> Any | None:
        last = chain[-1]
        keys = [""] + [f".{c}" for c in last.classes]
        keys += [f"#{last.id}"] if last.id else []
        keys += [f"@{last.itemprop}"] if last.itemprop else []
        pool = min((self.by_key.get((last.tag, key), []) for key in keys), key=len)
        for el in pool:
            if _chain_matches(el, chain):
                return el
        return None


def dom_path_for(tree: Any, el: Any, index: DomIndex | None = None) -> str | None:
    """The shortest path of at least ``MIN_STEPS`` steps that names ``el`` (its first match
    is ``el``), or None when even ``MAX_STEPS`` steps are ambiguous. ``index``: the page's
    :class:`DomIndex`, when building many paths on one page."""
    previous = None
    for steps in range(MIN_STEPS, MAX_STEPS + 1):
        chain = _chain(el, steps)
        path = _render(chain)
        if path == previous:
            break  # the chain stopped growing (an id, or the top of the page)
        previous = path
        if len(path) > LOCATION_MAX - 4 or not chain:
            return None
        first = index.first_match(chain) if index is not None else resolve_dom(tree, path)
        if first is el:
            return path
    return None


# --------------------------------------------------------------------------------------------
# JSON-LD key paths
# --------------------------------------------------------------------------------------------


def ld_leaves(node: Any, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, str, Any]]:
    """``(path, last key, scalar)`` for the scalars under a JSON-LD node, depth-bounded."""
    if depth > LD_MAX_DEPTH:
        return
    if isinstance(node, dict):
        for key, value in list(node.items())[:60]:
            if not isinstance(key, str) or not key or (key.startswith("@") and key != "@value"):
                continue
            if not _LD_SEGMENT_RE.fullmatch(key):
                continue
            path = f"{prefix}.{key}" if prefix else key
            if isinstance(value, (dict, list)):
                yield from ld_leaves(value, path, depth + 1)
            else:
                yield path, key, value
    elif isinstance(node, list):
        for index, value in enumerate(node[:10]):
            path = f"{prefix}[{index}]"
            if isinstance(value, (dict, list)):
                yield from ld_leaves(value, path, depth + 1)
            else:
                yield path, prefix.rsplit(".", 1)[-1], value


def resolve_ld(node: Any, path: str) -> Any:
    """The scalar at ``path`` under ``node`` (``offers[0].price``), or None."""
    value = node
    for key, index in _LD_SEGMENT_RE.findall(path):
        if key:
            value = value.get(key) if isinstance(value, dict) else None
        else:
            pos = int(index)
            value = value[pos] if isinstance(value, list) and pos < len(value) else None
        if value is None:
            return None
    return None if isinstance(value, (dict, list)) else value


# --------------------------------------------------------------------------------------------
# Text after a label
# --------------------------------------------------------------------------------------------

#: A label: starts with a letter, at most 40 characters, no digits (a product's own words,
#: a size or a count, differ between pages), no quotes or angle brackets.
_LABEL_RE = re.compile(r"^[^\W\d_][^\d'\"<>]{0,39}$")
_LABEL_XPATH = etree.XPath(
    "//*[normalize-space(.)=$label][not(*[normalize-space(.)=$label])]/following-sibling::*[1]"
)


def label_for(el: Any, text_of: Any) -> str | None:
    """The label written right before ``el`` (its previous sibling's whole text), or None.
    ``text_of(element)`` gives an element's collapsed text."""
    previous = el.getprevious()
    while previous is not None and not isinstance(previous.tag, str):
        previous = previous.getprevious()
    if previous is None or (el.getprevious() is not None and (previous.tail or "").strip()):
        return None
    text = text_of(previous)
    return text if text and _LABEL_RE.match(text) else None


def resolve_label(tree: Any, label: str) -> Any | None:
    """The element right after the first innermost element whose text is ``label``."""
    if not _LABEL_RE.match(label):
        return None
    found = _LABEL_XPATH(tree, label=label)
    return found[0] if isinstance(found, list) and found else None
