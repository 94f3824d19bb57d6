"""extraction.evaluation: scoring as the product-pages README says."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from extraction.evaluation import (
    SENT_TEXT_MAX_CHARS,
    Page,
    SentText,
    f1,
    load_pages,
    score_page,
    score_pages,
    sent_text,
)


@pytest.mark.parametrize(
    ("field", "truths", "predicted", "expected"),
    [
        ("price", ["87.1"], "87.10", (1, 0, 0)),
        ("price", ["87.10", "90"], "90.00", (1, 0, 0)),
        ("price", ["87.10"], "88", (0, 1, 1)),
        ("price", ["87.10"], None, (0, 0, 1)),
        ("price", [], "5", (0, 1, 0)),  # a prediction where the page has none is wrong
        ("price", [], None, (0, 0, 0)),
        ("price", ["1"], "not a number", (0, 1, 1)),
        ("currency", ["$"], "TWD", (1, 0, 0)),
        ("currency", ["£"], "EUR", (0, 1, 1)),
        ("currency", ["EUR"], "EUR", (1, 0, 0)),
        ("availability", ["InStock"], "LimitedAvailability", (1, 0, 0)),
        ("availability", ["OutOfStock"], "SoldOut", (1, 0, 0)),
        ("availability", ["InStock"], "bogus", (0, 0, 1)),
        ("availability", ["BackOrder"], "BackOrder", (1, 0, 0)),
        ("availability", ["Discontinued"], "OutOfStock", (1, 0, 0)),
        ("availability", ["Discontinued"], "InStock", (0, 1, 1)),
        ("sku", ["AB-1"], " AB-1 ", (1, 0, 0)),
        ("sku", ["AB-1"], "ab-1", (0, 1, 1)),
        ("brand", ["APPLE"], "Apple", (1, 0, 0)),
    ],
)
def test_score_page(
    field: str, truths: list[str], predicted: str | None, expected: tuple[int, int, int]
) -> None:
    assert score_page(field, truths, predicted) == expected


def test_f1_from_totals() -> None:
    assert f1(0, 0, 0) == 1.0
    assert f1(0, 3, 2) == 0.0
    assert f1(9, 1, 1) == pytest.approx(0.9)


def test_load_and_score_a_small_data_set(tmp_path: Path) -> None:
    (tmp_path / "html").mkdir()
    truth = {"k1": {"url": "https://a.example/p", "price": ["10"], "sku": ["A1"]},
             "k2": {"url": "https://b.example/p", "price": ["20"]}}  # fmt: skip
    (tmp_path / "ground-truth.json").write_text(json.dumps(truth), encoding="utf-8")
    for key in truth:
        with gzip.open(tmp_path / "html" / f"{key}.html.gz", "wt", encoding="utf-8") as handle:
            handle.write(f"<html>{key}</html>")
    pages = load_pages(tmp_path)
    assert [p.key for p in pages] == ["k1", "k2"]
    assert pages[0].html == "<html>k1</html>"
    assert pages[1].truth["sku"] == []

    def predict(page: Page) -> dict[str, str]:
        return {"price": "10", "sku": "A1"} if page.key == "k1" else {"price": "21"}

    score = score_pages(pages, predict, fields=("price", "sku"))
    assert score.counts == {"price": [1, 1, 1], "sku": [1, 0, 0]}
    assert score.f1("sku") == 1.0
    assert score.as_dict()["f1"] == {"price": 0.5, "sku": 1.0}
    assert [(e["page"], e["field"]) for e in score.errors] == [("k2", "price")]


# --- the text the extension sends ------------------------------------------------------------

SERVED = """<!DOCTYPE html><html><head><title>
  Blue   Kettle | Kettle Shop </title><style>.x { color: red }</style></head><body>
<svg><title>Basket icon</title></svg>
<nav>Kettles   Toasters</nav>
<div hidden><p>Email a friend: £19.99</p></div>
<span style="display: none">Currency: USD</span>
<span style="-webkit-backface-visibility: hidden">Shown</span>
<div style="visibility:hidden">Size guide</div>
<template><p>Template price £9.99</p></template>
<noscript>Please enable JavaScript</noscript>
<script>var price = "£1.00";</script>
<main><h1>Blue Kettle</h1><p>£24.99</p><button>Add to basket</button></main>
<footer>© Kettle Shop</footer>
</body></html>"""


def test_sent_text_is_what_the_browser_renders_and_the_title_goes_apart() -> None:
    sent = sent_text(SERVED)
    assert sent.title == "Blue Kettle | Kettle Shop"
    lines = [line for line in sent.text.split("\n") if line]
    assert lines[0] == "Kettles Toasters"  # the body's text: no <title>, spaces folded
    for shown in ("Shown", "Blue Kettle", "£24.99", "Add to basket", "© Kettle Shop"):
        assert shown in lines, shown
    for hidden in ("£19.99", "USD", "Size guide", "£9.99", "JavaScript", "£1.00", "icon", "red"):
        assert hidden not in sent.text, hidden


def test_sent_text_keeps_a_hidden_block_holding_the_h1_and_places_streamed_blocks() -> None:
    # Pages whose scripts reveal the product block ship it hidden; a streamed page sends a
    # block late, hidden, and its script moves it to its placeholder.
    html = (
        "<html><body><div hidden><h1>Blue Kettle</h1><p>£24.99</p></div>"
        '<p>Before</p><template id="B:1"></template><p>After</p>'
        '<div hidden id="S:1"><p>Streamed details</p></div></body></html>'
    )
    text = sent_text(html).text
    lines = [line for line in text.split("\n") if line]
    assert lines == ["Blue Kettle", "£24.99", "Before", "Streamed details", "After"]


def test_sent_text_of_what_cannot_be_parsed_is_empty() -> None:
    assert sent_text("") == SentText(text="", title=None)
    assert sent_text("<html><body><p>no title</p></body></html>").title is None


def test_sent_text_is_cut_where_the_extension_cuts_it() -> None:
    html = "<html><body><p>" + "a " * (SENT_TEXT_MAX_CHARS) + "</p></body></html>"
    assert len(sent_text(html).text) == SENT_TEXT_MAX_CHARS
