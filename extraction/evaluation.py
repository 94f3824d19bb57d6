"""Scoring extraction against saved pages with ground truth (``product-pages``).

Used by ``bench/extraction.py`` and by the regression test that holds the extractor to the
acceptance bar. The rules follow the data set's README (the public product-extraction
benchmark's): a page with a true value and an equal prediction is a true positive; a wrong
prediction is a false positive, and also a false negative when a true value exists; no
prediction where a true value exists is a false negative; F1 from the totals.

Equality per field:

* price: as decimals (``87.1`` == ``87.10``);
* currency: the ground truth is the symbol or code printed on the page; an ISO code matches
  when that symbol can denote it (``$`` -> USD, CAD, TWD...; ``£`` -> GBP), see
  :func:`extraction.normalize.symbol_matches_currency`;
* availability: InStock or OutOfStock; schema.org terms are folded into those two
  (PreOrder, BackOrder, LimitedAvailability... are in stock; SoldOut, Discontinued are not);
* sku, gtin, mpn: the exact string after trimming whitespace;
* brand: case-insensitive after trimming whitespace (shops write "APPLE" and "Apple").
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import html_text

from extraction.deterministic import document_title
from extraction.heuristics.page_text import h1_holders, hidden_by_markup, place_streamed_segments
from extraction.normalize import availability_in_stock, symbol_matches_currency

__all__ = [
    "ACCEPTANCE",
    "FIELDS",
    "Page",
    "Score",
    "SentText",
    "f1",
    "load_pages",
    "score_page",
    "score_pages",
    "sent_text",
]

FIELDS: tuple[str, ...] = ("price", "currency", "availability", "sku", "brand", "gtin", "mpn")
#: The issue's bar on product-pages with no LLM.
ACCEPTANCE: dict[str, float] = {"price": 0.92, "availability": 0.90, "sku": 0.75}


@dataclass(frozen=True, slots=True)
class Page:
    key: str
    url: str
    truth: dict[str, list[str]]
    html: str


def load_pages(data_dir: Path) -> list[Page]:
    """The pages of a product-pages folder (``ground-truth.json`` + ``html/<key>.html.gz``)."""
    truth = json.loads((data_dir / "ground-truth.json").read_text(encoding="utf-8"))
    pages: list[Page] = []
    for key in sorted(truth):
        entry = truth[key]
        with gzip.open(data_dir / "html" / f"{key}.html.gz", "rt", encoding="utf-8",
                       errors="replace") as handle:  # fmt: skip
            html = handle.read()
        values = {name: [str(v) for v in entry.get(name) or []] for name in FIELDS}
        pages.append(Page(key=key, url=entry["url"], truth=values, html=html))
    return pages


#: ``capture.js`` sends at most this much of the page's text (``TEXT_MAX_CHARS``).
SENT_TEXT_MAX_CHARS = 150_000
#: What a browser never renders as text (an SVG's ``<title>`` is a tooltip).
_UNRENDERED_TAGS = ("head", "title", "script", "style", "noscript", "template")


@dataclass(frozen=True, slots=True)
class SentText:
    """The text and the document title the extension sends with a page."""

    text: str
    title: str | None


def sent_text(html: str) -> SentText:
    """The text and the title the browser extension sends with a page, read from the page
    as served.

    ``capture.js`` sends the body's ``innerText``, which holds only what the browser renders:
    no ``<title>`` (the document's goes apart, as ``document.title``:
    :func:`~extraction.deterministic.document_title`; an SVG's is a tooltip), no
    ``<template>``, ``<noscript>``, script or style, and nothing the page's markup hides
    (:func:`hidden_by_markup`). Its runs of spaces are folded as ``capture.js`` folds them,
    and it is cut at :data:`SENT_TEXT_MAX_CHARS`.

    Two things a page's own scripts do before the extension reads it are done here as the
    HTML path does them: the blocks a streamed page sends late are put in place
    (:func:`place_streamed_segments`), and a hidden block holding the ``<h1>`` is kept.
    """
    try:
        tree = html_text.parse_html(html)
    except Exception:  # noqa: BLE001 - lxml refuses some documents (empty, bad encodings)
        return SentText(text="", title=None)
    title = document_title(tree)
    place_streamed_segments(tree)
    holders = h1_holders(tree)
    unrendered = [
        el
        for el in tree.iter()
        if isinstance(el.tag, str) and (el.tag in _UNRENDERED_TAGS or hidden_by_markup(el, holders))
    ]
    for el in unrendered:
        if el.getparent() is not None:  # drop_tree keeps the text after it (its tail)
            el.drop_tree()
    text = str(html_text.extract_text(tree))
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    text = re.sub(r" ?\n ?", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return SentText(text=text.strip()[:SENT_TEXT_MAX_CHARS], title=title)


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def _equal(field_name: str, truth: str, predicted: Any) -> bool:
    if field_name == "price":
        a, b = _decimal(truth), _decimal(predicted)
        return a is not None and b is not None and a == b
    if field_name == "currency":
        return symbol_matches_currency(truth, str(predicted))
    if field_name == "brand":
        return truth.strip().casefold() == str(predicted).strip().casefold()
    return truth.strip() == str(predicted).strip()


def _fold_availability(value: Any) -> str | None:
    if value in (None, ""):
        return None
    in_stock = availability_in_stock(str(value))
    return None if in_stock is None else ("InStock" if in_stock else "OutOfStock")


def score_page(field_name: str, truths: list[str], predicted: Any) -> tuple[int, int, int]:
    """``(tp, fp, fn)`` for one page and one field."""
    if field_name == "availability":
        # Both sides folded: truth read from a page's own markup can say "BackOrder" or
        # "Discontinued", which count as in stock and out of stock like a prediction does.
        predicted = _fold_availability(predicted)
        truths = [t for t in (_fold_availability(t) for t in truths) if t is not None]
    if predicted in (None, ""):
        return (0, 0, 1 if truths else 0)
    if any(_equal(field_name, t, predicted) for t in truths):
        return (1, 0, 0)
    return (0, 1, 1 if truths else 0)


def f1(tp: int, fp: int, fn: int) -> float:
    if tp == 0:
        return 1.0 if fp == fn == 0 else 0.0
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return 2 * precision * recall / (precision + recall)


@dataclass(slots=True)
class Score:
    """Totals per field over a set of pages, and the wrong or missing values."""

    counts: dict[str, list[int]] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, page: Page, field_name: str, predicted: Any) -> None:
        tp, fp, fn = score_page(field_name, page.truth.get(field_name, []), predicted)
        totals = self.counts.setdefault(field_name, [0, 0, 0])
        totals[0] += tp
        totals[1] += fp
        totals[2] += fn
        if fp or fn:
            self.errors.append(
                {"page": page.key[:12], "field": field_name, "url": page.url,
                 "truth": page.truth.get(field_name, []), "predicted": predicted}
            )  # fmt: skip

    def f1(self, field_name: str) -> float:
        return f1(*self.counts.get(field_name, [0, 0, 0]))

    def as_dict(self) -> dict[str, Any]:
        return {
            "f1": {name: round(self.f1(name), 3) for name in self.counts},
            "counts": {
                name: {"tp": c[0], "fp": c[1], "fn": c[2]} for name, c in self.counts.items()
            },
        }


def score_pages(
    pages: Iterable[Page],
    extract: Callable[[Page], dict[str, Any]],
    fields: tuple[str, ...] = FIELDS,
) -> Score:
    """Run ``extract`` (page -> product dict) over the pages and score it."""
    score = Score()
    for page in pages:
        product = extract(page)
        for name in fields:
            score.add(page, name, product.get(name))
    return score
