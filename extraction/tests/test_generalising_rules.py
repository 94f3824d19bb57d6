"""Rules written to hold on shops never seen (issue 17): each with a small page written here.

No page of the data sets is copied: the pages below describe how shops in general lay out a
product page, in several languages.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from extraction.deterministic import extract_deterministic
from extraction.heuristics import (
    PageText,
    build_page_text,
    detect_availability,
    find_buy_buttons,
)


def page_of(html: str, *hints: str) -> tuple[Any, PageText]:
    tree = etree.fromstring(html, etree.HTMLParser())
    return tree, build_page_text(tree, title_hints=list(hints))


def product_of(body: str, url: str = "https://shop.example/p/blue-kettle", **head: str) -> Any:
    """The extractor's product for a page with this body (and optional ``lang``)."""
    lang = head.get("lang", "en-GB")
    head_html = "<head><title>Blue Kettle | Shop</title></head>"
    html = f"<html lang='{lang}'>{head_html}<body>{body}</body></html>"
    return extract_deterministic(url=url, html=html).to_dict()["product"]


def text_product_of(text: str, url: str = "https://shop.example/p/blue-kettle") -> Any:
    return extract_deterministic(url=url, text=text).to_dict()["product"]


# --- the page itself ------------------------------------------------------------------------


def test_a_main_section_whose_class_mentions_cookies_is_still_read() -> None:
    _, page = page_of(
        "<html><body><section class='main product-card with-cookie-info'>"
        "<h1>Blue Kettle</h1><p>£24.99</p></section>"
        "<div class='cookie-banner'><p>We use cookies</p></div></body></html>",
        "Blue Kettle",
    )
    assert "Blue Kettle" in page.text and "£24.99" in page.text
    assert "We use cookies" not in page.text


def test_buy_buttons_of_other_products_in_a_carousel_do_not_make_it_in_stock() -> None:
    body = (
        "<main><h1>Blue Kettle</h1><p>£24.99</p><p>Currently unavailable online</p>"
        "<div class='rec-carousel'><div class='slide'><a>Red Kettle</a><p>£19.99</p>"
        "<button class='add-to-cart'>Add to cart</button></div></div></main>"
    )
    _, page = page_of(f"<html><body>{body}</body></html>", "Blue Kettle")
    buttons = find_buy_buttons(page)
    assert buttons == []
    guess = detect_availability(page, buttons=buttons, region=None)
    assert guess is not None and guess.value == "OutOfStock"
    assert product_of(body)["availability"] == "OutOfStock"
