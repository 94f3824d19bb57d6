"""The served page trimmed as the extension sends it (mlverify.training.capture): what goes,
what stays, and what that does to the page check's features. The browser test
``e2e/test_capture.py`` checks the same against the real capture.js."""

from __future__ import annotations

import re
from pathlib import Path

from lxml import html as lxml_html

from mlverify.page_check.features import feature_dict
from mlverify.page_check.signals import parse_html
from mlverify.training import capture
from mlverify.training.capture import as_extension_sends

CAPTURE_JS = Path(__file__).resolve().parents[2] / "extension" / "lib" / "capture.js"

PAGE = """<!doctype html><html><head>
<title>Oak chair | Northwood</title>
<link rel="stylesheet" href="/site.css"><link rel="canonical" href="https://northwood.example/p/oak">
<link rel="alternate" hreflang="de" href="https://northwood.example/de/p/oak">
<link rel="next" href="/p/oak?page=2">
<style>.x{color:red}</style>
<script>window.__NEXT_DATA__ = {"product": {"price": 89.00, "sku": "OAK-1"}};</script>
<script type="application/ld+json">{"@type": "Product", "name": "Oak chair"}</script>
</head><body onload="go()">
<!-- a comment -->
<div id="onetrust-banner-sdk" class="cookie-banner">We use cookies <button>Accept all</button></div>
<div class="consent-note"><h1>Oak chair</h1></div>
<p style="color: red" data-sku="OAK-1">Solid oak.<svg><title>Star</title></svg> Seats one.</p>
<noscript>Turn on JavaScript</noscript><template><p>card</p></template>
<iframe src="/ads"></iframe><video src="/v.mp4"></video>
<span class="price">$89.00</span>
</body></html>"""


def _sent() -> lxml_html.HtmlElement:
    return as_extension_sends(parse_html(PAGE.encode()))


def test_scripts_styles_and_embedded_media_go_json_ld_stays() -> None:
    sent = _sent()
    scripts = sent.xpath("//script")
    assert [s.get("type") for s in scripts] == ["application/ld+json"]
    for tag in ("style", "svg", "noscript", "template", "iframe", "video"):
        assert sent.xpath(f"//{tag}") == [], tag
    assert sent.xpath("//comment()") == []


def test_only_canonical_and_alternate_links_stay() -> None:
    assert [link.get("rel") for link in _sent().xpath("//link")] == ["canonical", "alternate"]


def test_text_after_a_removed_element_is_kept() -> None:
    paragraph = _sent().xpath("//p[@data-sku]")[0]
    assert paragraph.text_content() == "Solid oak. Seats one."


def test_a_consent_dialog_goes_unless_it_holds_the_products_markup() -> None:
    sent = _sent()
    assert sent.xpath("//*[@id='onetrust-banner-sdk']") == []
    assert sent.xpath("//div[@class='consent-note']/h1")[0].text == "Oak chair"


def test_inline_style_and_handlers_go_other_attributes_stay() -> None:
    sent = _sent()
    assert sent.xpath("//@style | //@onload") == []
    assert sent.xpath("//p/@data-sku") == ["OAK-1"]


def test_the_served_page_is_left_as_it_was() -> None:
    doc = parse_html(PAGE.encode())
    before = lxml_html.tostring(doc)
    as_extension_sends(doc)
    assert lxml_html.tostring(doc) == before


def test_features_that_read_scripts_or_link_tags_are_never_set_at_serving_time() -> None:
    url = "https://northwood.example/p/oak"
    doc = parse_html(PAGE.encode())
    served, sent = feature_dict(url, doc), feature_dict(url, as_extension_sends(doc))
    for name in ("script_state", "script_sku", "pagination"):
        assert served[name] > 0, name
        assert sent[name] == 0, name
    for name in ("ld_product", "distinct_prices", "canonical_product_shape"):
        assert sent[name] == served[name] > 0, name


def test_the_mirror_drops_what_capture_js_drops() -> None:
    """The tag list and the consent pattern are copied from capture.js: a change there that
    is not made here fails this test (the browser test compares the two on one page only)."""
    source = CAPTURE_JS.read_text(encoding="utf-8")
    block = re.search(r"const DROP_ALWAYS = \[(.*?)\]\.join", source, re.S)
    assert block is not None
    selectors = re.findall(r'"([^"]+)"', block.group(1))
    assert {re.sub(r"[^a-z].*", "", s) for s in selectors} == capture._DROP_TAGS
    assert "script:not([type='application/ld+json'])" in selectors
    assert "link:not([rel='canonical']):not([rel='alternate'])" in selectors
    consent = re.search(r"const CONSENT = /(.*)/i;", source)
    assert consent is not None
    assert consent.group(1) == capture._CONSENT.pattern
