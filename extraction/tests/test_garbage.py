"""Any input returns a result and never raises: garbage, junk, huge and hostile pages."""

from __future__ import annotations

import json
import random
import time
from decimal import Decimal
from typing import Any

import pytest

from extraction.deterministic import extract_deterministic
from extraction.types import PRODUCT_FIELDS, ExtractionResult

URL = "https://shop.example/p/thing"
rng = random.Random(1234)
JUNK = bytes(rng.randrange(256) for _ in range(20_000))
PRODUCT_LD = (
    '<script type="application/ld+json">{"@type":"Product","name":"Kettle",'
    '"offers":{"price":"9.99","priceCurrency":"EUR"}}</script>'
)


def check(result: ExtractionResult) -> dict[str, Any]:
    assert isinstance(result, ExtractionResult)
    assert set(result.product) == set(PRODUCT_FIELDS)
    data = result.to_dict()
    json.dumps(data)
    return data["product"]


GARBAGE: dict[str, Any] = {
    "none": None,
    "empty": "",
    "blank": " \n\t ",
    "lone bracket": "<",
    "brackets": "<<<>>><<</>>" * 100,
    "unclosed tags": "<div><span><p><table><tr><td>" * 500,
    "binary as text": JUNK.decode("latin-1"),
    "binary bytes": JUNK,
    "nul bytes": "<html>\x00<body>\x00<h1>Kettle\x00</h1>€\x009,99</body></html>",
    "control characters": "<p>\x01\x02\x03\x1b[31m€ 5\x7f</p>",
    "lone surrogates": "<h1>Kettle \ud800\udfff\ud834</h1><p>€ 5</p>",
    "xml declaration": '<?xml version="1.0" encoding="ISO-8859-1"?><html><body>x</body></html>',
    "not html": '{"json": "document", "price": 5}',
    "script only": "<script>" + "var a = '<h1>';" * 1000 + "</script>",
    "comment bomb": "<!--" * 10_000,
    "entity bomb": "&amp;" * 50_000 + "&#xFFFFFFFF;&#0;&#55296;",
    "deep html": "<div>" * 20_000 + "<h1>Deep</h1>€ 5" + "</div>" * 20_000,
    "deep json-ld": '<script type="application/ld+json">'
    + "[" * 10_000
    + "]" * 10_000
    + "</script>",
    "deep json-ld objects": '<script type="application/ld+json">'
    + '{"@type":"Product","a":' * 3000
    + "1"
    + "}" * 3000
    + "</script>",
    "broken json-ld": '<script type="application/ld+json">{"@type": "Product", "offers": ['
    "</script>",
    "json-ld wrong types": '<script type="application/ld+json">{"@type": 5, "name": ["x", 1],'
    ' "offers": "cheap", "image": {"url": 7}, "brand": [null], "sku": {"a": 1}}</script>',
    "many products": '<script type="application/ld+json">['
    + ",".join(f'{{"@type":"Product","name":"P{i}","offers":{{"price":{i}}}}}' for i in range(3000))
    + "]</script>",
    "huge attribute": '<div class="' + "a" * 1_000_000 + '">€ 5</div>',
    "itemscope soup": '<div itemscope itemprop="offers">' * 2000 + "</div>" * 2000,
    "svg only": "<svg><title>Kettle</title><text>€ 5</text></svg>",
}


@pytest.mark.parametrize("html", GARBAGE.values(), ids=GARBAGE.keys())
def test_garbage_html_gives_a_result(html: Any) -> None:
    start = time.process_time()
    check(extract_deterministic(url=URL, html=html))
    assert time.process_time() - start < 10


@pytest.mark.parametrize(
    "url",
    ["", "not a url", "javascript:alert(1)", "https://", "http://[::1", "x" * 10_000, None, 5],
    ids=["empty", "words", "javascript", "no-host", "bad-ipv6", "long", "none", "int"],
)
def test_any_url_gives_a_result(url: Any) -> None:
    product = check(extract_deterministic(url=url, html="<h1>Kettle</h1><p>€ 5</p>"))
    assert product["price"] == "5.00"  # with the euro's two decimals


TEXTS: dict[str, Any] = {
    "none": None,
    "empty": "",
    "nul bytes": "\x00" * 1000,
    "binary": JUNK.decode("latin-1"),
    "currency signs": "€" * 200_000,
    "digit soup": "1 " * 100_000,  # made the amount pattern backtrack before it was bounded
    "number soup": "1.2,3 " * 30_000 + "€",
    "one long line": "x" * 200_000 + " € 5",
}


@pytest.mark.parametrize("text", TEXTS.values(), ids=TEXTS.keys())
def test_any_text_gives_a_result(text: Any) -> None:
    start = time.process_time()
    check(extract_deterministic(url=URL, text=text))
    assert time.process_time() - start < 10


def test_a_two_megabyte_page_is_extracted_in_reasonable_time() -> None:
    filler = (
        "<div class='row'><p>Lorem ipsum dolor sit amet £3 per kg</p><a href='/x'>link</a></div>"
    )
    html = (
        "<html><head>"
        + PRODUCT_LD
        + "</head><body><h1>Kettle</h1>"
        + filler * (2_000_000 // len(filler))
        + "</body></html>"
    )
    assert len(html) >= 1_990_000
    start = time.process_time()
    result = extract_deterministic(url=URL, html=html)
    elapsed = time.process_time() - start
    assert result.product["price"] == Decimal("9.99")
    assert elapsed < 5, elapsed


def test_bytes_in_a_legacy_encoding_are_decoded() -> None:
    html = (
        '<html><head><meta charset="windows-1252"></head><body><h1>Caf\xe9 cr\xe8me</h1>'
        "<p>\x80 4,50</p></body></html>"
    ).encode("latin-1")
    result = extract_deterministic(url=URL, html=html)
    assert result.product["title"] == "Café crème"
    assert result.product["price"] == Decimal("4.50")
    assert result.product["currency"] == "EUR"


def test_nothing_at_all_is_an_empty_product() -> None:
    result = extract_deterministic(url="", html=None, text=None)
    assert result.is_empty
    assert result.product["images"] == []
    assert result.missing_fields() == list(result.missing_fields())
