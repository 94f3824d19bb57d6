"""The page capture (extension/lib/capture.js) through the same injection the popup uses."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from e2e.conftest import Extension
from e2e.shops import SavedPage, ShopServer

PAGE = """<!DOCTYPE html><html><head><title>Oak table</title>
<style>body { color: red }</style>
<script>window.tracking = "x".repeat(10)</script>
<script type="application/ld+json">{"@type": "Product", "name": "Oak table"}</script>
</head><body>
<h1>Oak table</h1>
<div id="price"></div>
<svg viewBox="0 0 10 10"><path d="M0 0h10v10H0z"/></svg>
<img src="/oak-table.jpg" width="400" height="300" alt="Oak table">
<div id="onetrust-consent-sdk"><p>We value your privacy: 800 partners</p></div>
<p style="color: blue" onclick="buy()">In stock</p>
<!-- a comment -->
<script>document.getElementById("price").textContent = "Price: 450.00 GBP";</script>
</body></html>"""


def _png() -> bytes:
    image = Image.new("RGB", (40, 30), (160, 110, 60))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def capture(ext: Extension, tab_id: int) -> Any:
    return ext.chrome(
        """async (tabId) => {
            await chrome.scripting.executeScript({target: {tabId}, files: ['lib/capture.js']});
            const [result] = await chrome.scripting.executeScript(
                {target: {tabId}, func: () => BuyHiveCapture.capture()});
            return result.result;
        }""",
        tab_id,
    )


def test_the_rendered_dom_is_sent_trimmed(ext: Extension, shops: ShopServer) -> None:
    page = SavedPage(key="oak", original_url="https://shop.test/p/oak", html=PAGE, truth={})
    url = shops.serve(page)
    shops.serve_file("/oak-table.jpg", _png(), "image/png")
    _, tab_id = ext.open_shop_page(url)
    sent = capture(ext, tab_id)

    html = sent["html"]
    assert "Price: 450.00 GBP" in html  # what the page's script rendered, not the response
    assert '"@type": "Product"' in html  # JSON-LD stays
    for gone in ("<style", "window.tracking", "<svg", "onetrust", "onclick", "color: blue"):
        assert gone not in html, gone
    assert "a comment" not in html
    assert "Price: 450.00 GBP" in sent["text"]
    assert sent["image_urls"] == [shops.url("/oak-table.jpg")]
    assert sent["url"] == url
    assert sent["stats"]["stages"] == ["always"]


# A product page as a shop serves it: inline application state, a pager link, a consent
# dialog, an icon, a template... No script changes the page, so what capture.js reads is the
# served page itself, and the Python mirror the page check trains on must give the same.
SERVED = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Walnut side table | Northwood</title>
<meta name="description" content="A walnut side table with one drawer.">
<meta property="og:type" content="product">
<link rel="stylesheet" href="/site.css"><link rel="canonical" href="https://northwood.example/p/walnut-side-table">
<link rel="next" href="/p/walnut-side-table?reviews=2">
<style>.price { font-weight: bold }</style>
<script>window.__NEXT_DATA__ = {"props": {"product": {"sku": "WST-2", "price": 129.00}},
  "page": "product"};</script>
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Product",
  "name": "Walnut side table", "offers": {"@type": "Offer", "price": "129.00",
  "priceCurrency": "USD"}}</script>
</head><body>
<header><a href="/">Northwood</a> <a href="/cart">Cart</a>
<svg viewBox="0 0 10 10"><title>Basket</title><path d="M0 0h10v10H0z"/></svg></header>
<div id="cookie-consent" class="cmp-banner"><p>We and our 800 partners use cookies.</p>
<button type="button">Accept all</button></div>
<main><nav class="breadcrumb"><a href="/tables">Tables</a> / Walnut side table</nav>
<h1>Walnut side table</h1>
<p class="price">$129.00</p>
<p style="color: green" onclick="track()">In stock, ships in 2 days</p>
<label>Quantity <input type="number" name="quantity" value="1"></label>
<button type="submit" class="add-to-cart">Add to cart</button>
<noscript><img src="/pixel.gif" alt=""></noscript>
<template><div class="card"><a href="/p/x">X</a><span>$1.00</span></div></template>
<!-- recommendations -->
<section><h2>You may also like</h2>
<ul><li class="card"><a href="/p/oak-stool">Oak stool</a> <span>$49.00</span></li>
<li class="card"><a href="/p/ash-bench">Ash bench</a> <span>$219.00</span></li></ul></section>
</main></body></html>"""


def test_the_page_check_trains_on_what_capture_sends(ext: Extension, shops: ShopServer) -> None:
    """mlverify.training.capture mirrors capture.js's first stage: the page check's features
    and texts of the real capture equal those of the mirror applied to the served page (and
    differ from the served page's own, or the mirror would be untested)."""
    from mlverify.page_check.features import feature_dict, page_input
    from mlverify.page_check.signals import parse_html
    from mlverify.training.capture import as_extension_sends

    page = SavedPage(key="walnut", original_url="https://northwood.example/p/walnut-side-table",
                     html=SERVED, truth={})  # fmt: skip
    url = shops.serve(page)
    _, tab_id = ext.open_shop_page(url)
    sent = capture(ext, tab_id)
    assert sent["stats"]["stages"] == ["always"]

    captured = parse_html(sent["html"].encode())
    served = parse_html(SERVED.encode())
    mirrored = as_extension_sends(served)
    assert feature_dict(url, captured) == feature_dict(url, mirrored)
    assert page_input(url, captured).parts == page_input(url, mirrored).parts
    assert page_input(url, captured).texts == page_input(url, mirrored).texts
    assert feature_dict(url, served) != feature_dict(url, mirrored)


# A page with what a browser does not render as text: no script runs, and no hidden block holds
# the <h1> (the benchmark keeps such a block, which a page's script would reveal).
RENDERED = """<!DOCTYPE html><html lang="en"><head><title>
  Linen   lamp shade | Northwood </title><style>p { margin: 4px }</style></head><body>
<header><a href="/">Northwood</a> <a href="/cart">Cart</a>
<svg viewBox="0 0 10 10"><title>Basket</title><path d="M0 0h10v10H0z"/></svg></header>
<div hidden><p>Email a friend: $19.99</p></div>
<main><h1>Linen lamp shade</h1>
<p class="price">$24.90 <span style="display: none">USD 24.90</span></p>
<div style="visibility: hidden">Size guide</div>
<p>In stock,   ships in 2 days</p>
<template><p>Template price $9.99</p></template>
<noscript><p>Please enable JavaScript</p></noscript>
<button type="submit">Add to cart</button>
<ul><li><a href="/p/oak-stool">Oak stool</a> $49.00</li><li>Ash bench $219.00</li></ul>
</main><footer><p>Northwood, Oslo</p></footer></body></html>"""


def test_the_benchmark_reads_the_text_and_title_capture_sends(
    ext: Extension, shops: ShopServer
) -> None:
    """extraction.evaluation.sent_text mirrors what capture.js sends beside the page: the
    body's innerText (no title, nothing hidden, spaces folded) and document.title. Line
    breaks between blocks differ in number only, so the lines that hold text are compared."""
    from extraction.evaluation import sent_text

    page = SavedPage(key="lamp", original_url="https://northwood.example/p/lamp", html=RENDERED,
                     truth={})  # fmt: skip
    url = shops.serve(page)
    _, tab_id = ext.open_shop_page(url)
    sent = capture(ext, tab_id)
    mirrored = sent_text(RENDERED)

    def lines(text: str) -> list[str]:
        return [line for line in text.split("\n") if line.strip()]

    assert sent["title"] == mirrored.title == "Linen lamp shade | Northwood"
    assert lines(sent["text"]) == lines(mirrored.text)
    for hidden in ("$19.99", "USD", "Size guide", "$9.99", "JavaScript", "Basket"):
        assert hidden not in sent["text"], hidden
