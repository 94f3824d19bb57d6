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
