"""extraction.heuristics: what the visible page says when the markup does not."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from extraction.heuristics import (
    PageText,
    build_page_text,
    detect_availability,
    extract_from_text,
    find_buy_buttons,
    find_labelled,
    find_title_anchor,
    has_out_of_stock_message,
    pick_price,
    title_hints,
    url_identifier,
)
from extraction.normalize import parse_locale

GB = parse_locale("en-GB")


def page_of(html: str, *hints: str) -> tuple[Any, PageText]:
    tree = etree.fromstring(html, etree.HTMLParser())
    return tree, build_page_text(tree, title_hints=list(hints))


def price_of(body: str, title: str = "Blue Kettle") -> Decimal | None:
    """The heuristic price of a page whose <h1> is the title."""
    tree, page = page_of(f"<html><body>{body}</body></html>", title)
    anchor = find_title_anchor(tree, page, [title])
    buttons = find_buy_buttons(page)
    guess = pick_price(
        page,
        locale=GB,
        title_index=anchor.index if anchor else None,
        buy_index=buttons[0].index if buttons else None,
    )
    return guess.value if guess else None


# --- the visible text -----------------------------------------------------------------------


def test_visible_text_leaves_out_what_a_reader_does_not_see() -> None:
    _, page = page_of(
        """<html><head><title>T</title><style>.a{}</style></head><body>
        <header><a>Cart £0.00</a></header><nav>Menu</nav>
        <div id="cookie-banner">We use cookies</div>
        <script>var price = "£1";</script><template><p>£2</p></template>
        <p hidden>secret</p><p style="display: none">gone</p>
        <select><option>Size S - sold out</option></select>
        <div style="-webkit-backface-visibility: hidden"><h1>Kept</h1></div>
        <article><header><h2>Article header kept</h2></header></article>
        <div class="product"><header><h1>Product header kept</h1></header></div>
        <footer>Footer</footer></body></html>"""
    )
    text = page.text
    for hidden in ("Cart", "Menu", "cookies", "£1", "£2", "secret", "gone", "sold out", "Footer"):
        assert hidden not in text
    assert "Kept" in text
    assert "Article header kept" in text
    assert "Product header kept" in text


def test_text_split_across_inline_elements_is_joined_like_a_browser() -> None:
    _, page = page_of(
        "<html><body><div>€<span>20,-</span></div><p>173<sup>34</sup> Lei</p>"
        "<p>A</p><p>B</p></body></html>"
    )
    assert "€20,-" in page.text
    assert "173.34 Lei" in page.text
    assert "A\nB" in page.text


def test_each_piece_of_text_knows_its_element() -> None:
    tree, page = page_of('<html><body><p class="x">hello <b>bold</b> tail</p></body></html>')
    p = tree.find(".//p")
    b = tree.find(".//b")
    assert page.owner_at(page.text.index("hello")) is p
    assert page.owner_at(page.text.index("bold")) is b
    assert page.owner_at(page.text.index("tail")) is p  # a tail belongs to the parent
    assert page.index_at(page.text.index("bold")) == page.order[b]
    assert page.offset_of(page.order[b]) == page.text.index("bold")
    assert page.context(b)[0] >= {"b", "p", "body"}


# --- title ----------------------------------------------------------------------------------


def test_title_hints_keep_the_product_name_whatever_side_the_shop_name_is() -> None:
    hints = title_hints("[Shop] Good Book : Deluxe Edition - Shop", None, "Shop | Good Book")
    assert "Good Book : Deluxe Edition" in hints
    assert "Good Book" in hints
    assert "Shop" in hints


def test_the_h1_matching_the_page_title_is_the_anchor() -> None:
    html = """<html><body><h1>Shop name</h1><div class="product">
    <h1>Blue Kettle 1.7 l</h1></div></body></html>"""
    tree, page = page_of(html, "Blue Kettle 1.7 l")
    anchor = find_title_anchor(tree, page, title_hints("Blue Kettle 1.7 l | Shop name"))
    assert anchor is not None and anchor.text == "Blue Kettle 1.7 l"


def test_a_title_like_element_is_the_anchor_when_no_h1_matches() -> None:
    html = """<html><body><a href="/">Blue Kettle 1.7 litre</a>
    <div class="product-title">Blue Kettle 1.7 litre</div></body></html>"""
    tree, page = page_of(html, "Blue Kettle 1.7 litre")
    anchor = find_title_anchor(tree, page, ["Blue Kettle 1.7 litre"])
    assert anchor is not None and anchor.element.get("class") == "product-title"


def test_the_only_h1_is_the_anchor_without_hints() -> None:
    tree, page = page_of("<html><body><h1>Whatever</h1></body></html>")
    anchor = find_title_anchor(tree, page, [])
    assert anchor is not None and anchor.score == 0.4
    tree, page = page_of("<html><body><p>no heading</p></body></html>")
    assert find_title_anchor(tree, page, []) is None


# --- price ----------------------------------------------------------------------------------


def test_the_price_after_the_title_is_taken() -> None:
    body = "<p>Shipping from £4.99</p><h1>Blue Kettle</h1><p class='price'>£24.99</p>"
    assert price_of(body) == Decimal("24.99")


def test_a_struck_through_or_old_classed_price_is_not_the_price() -> None:
    assert price_of("<h1>Blue Kettle</h1><del>£30.00</del><b>£24.99</b>") == Decimal("24.99")
    assert price_of("<h1>Blue Kettle</h1><s>£30.00</s> <b>£24.99</b>") == Decimal("24.99")
    body = "<h1>Blue Kettle</h1><span class='price-old'>£30.00</span><span>£24.99</span>"
    assert price_of(body) == Decimal("24.99")
    body = "<h1>Blue Kettle</h1><p>Was £30.00</p><p>Now £24.99</p>"
    assert price_of(body) == Decimal("24.99")
    body = "<h1>Blue Kettle</h1><p>UVP: 30,00 €</p><p>24,99 €</p>"
    assert price_of(body) == Decimal("24.99")


def test_an_old_price_is_taken_when_it_is_the_only_one() -> None:
    assert price_of("<h1>Blue Kettle</h1><p class='regular-price'>£30</p>") == Decimal("30")


def test_two_prices_side_by_side_are_sale_and_original() -> None:
    assert price_of("<h1>Blue Kettle</h1><p>€ 99,00 € 88,00 -11%</p>") == Decimal("88.00")


@pytest.mark.parametrize(
    "noise",
    [
        "<p>£4.99/kg</p>",
        "<p>£0.50 per 100 g</p>",
        "<p>Unit price: £2.50</p>",
        "<p>4 x £6.25</p>",
        "<p>£6.25/mo</p>",
        "<p>or £6.25 per month</p>",
        "<p>Free delivery over £50</p>",
        "<p>Shipping: £3.95</p>",
        "<p>You save £5.00</p>",
        "<p>-£5</p>",
        "<div class='related-products'><p>£9.99</p></div>",
        "<div class='minicart'>£120.00</div>",
    ],
)
def test_unit_instalment_shipping_saving_and_related_prices_are_skipped(noise: str) -> None:
    body = f"<h1>Blue Kettle</h1>{noise}<p>£24.99</p>"
    assert price_of(body) == Decimal("24.99")


def test_without_a_title_the_price_before_the_buy_button_is_taken() -> None:
    body = "<p>£1.00</p><div><span>£24.99</span><button>Add to basket</button></div>"
    assert price_of(body, title="nothing matches") == Decimal("24.99")


def test_without_title_or_button_a_price_classed_element_is_taken() -> None:
    body = "<p>Gift card £5</p><div class='product-price'>£24.99</div>"
    assert price_of(body, title="nothing matches") == Decimal("24.99")
    assert price_of("<p>no prices</p>", title="nothing") is None


def test_a_price_just_before_the_title_is_used_when_none_follows() -> None:
    assert price_of("<span>£24.99</span><h1>Blue Kettle</h1><p>Reviews</p>") == Decimal("24.99")


# --- buttons and availability ---------------------------------------------------------------


@pytest.mark.parametrize(
    "button",
    [
        "<button>Add to cart</button>",
        "<button> <i></i> In den Warenkorb</button>",
        "<a href='#'>Ajouter au panier</a>",
        "<button>Do košíka</button>",
        "<button>カートに入れる</button>",
        # Phrases the page classifier knew first (buyhive.product.text holds them for both):
        "<button>Adicionar ao carrinho</button>",
        "<button>Добавить в корзину</button>",
        "<button>カートに追加</button>",
        "<input type='submit' value='Buy now'>",
        "<div class='btn add-to-cart'></div>",
        "<span role='button'>Añadir al carrito</span>",
        "<form action='/cart/add'><button>Go</button></form>",
    ],
)
def test_buy_buttons_are_found_by_text_class_or_form(button: str) -> None:
    _, page = page_of(f"<html><body>{button}</body></html>")
    buttons = find_buy_buttons(page)
    assert len(buttons) == 1 and buttons[0].active


def test_disabled_and_mini_cart_buttons() -> None:
    _, page = page_of(
        "<html><body><button disabled>Add to cart</button>"
        "<a class='add-to-cart is-disabled'>Add</a>"
        "<div class='minicart'><a>Buy now</a></div><a>Contact us</a></body></html>"
    )
    assert [b.active for b in find_buy_buttons(page)] == [False, False]


def test_buttons_outside_the_window_are_ignored() -> None:
    _, page = page_of("<html><body><button>Add to cart</button></body></html>")
    assert find_buy_buttons(page, window=(1000, 2000)) == []


def availability_of(body: str) -> str | None:
    _, page = page_of(f"<html><body>{body}</body></html>")
    guess = detect_availability(page, buttons=find_buy_buttons(page), region=None)
    return guess.value if guess else None


def test_an_enabled_buy_button_means_in_stock() -> None:
    assert availability_of("<h1>Kettle</h1><button>Add to cart</button>") == "InStock"


@pytest.mark.parametrize(
    "message", ["Out of stock", "SOLD OUT", "Ausverkauft", "Épuisé", "Agotado", "Esaurito",
                "Nicht mehr verfügbar", "品切れ", "품절", "Niedostępny", "Vypredané"],
)  # fmt: skip
def test_an_out_of_stock_message_without_a_buy_button_means_out_of_stock(message: str) -> None:
    assert availability_of(f"<h1>Kettle</h1><p>{message}</p>") == "OutOfStock"
    assert availability_of(
        f"<h1>Kettle</h1><p>{message}</p><button disabled>Add to cart</button>"
    ) == ("OutOfStock")


def test_in_stock_text_without_a_button_and_nothing_at_all() -> None:
    assert availability_of("<p>In stock, ships today</p>") == "InStock"
    assert availability_of("<p>A kettle.</p>") is None
    assert availability_of("<p>Unsold outlet</p>") is None  # not a whole phrase


def test_out_of_stock_message_is_looked_for_in_the_product_region_only() -> None:
    _, page = page_of(
        "<html><body><h1>Kettle</h1><p>Lovely.</p>"
        + "<p>x</p>" * 50
        + "<div>Other kettle: sold out</div></body></html>"
    )
    assert has_out_of_stock_message(page, None)
    assert not has_out_of_stock_message(page, (0, 10))


# --- labels ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SKU: AB-1234", "AB-1234"),
        ("Article no.: 002.937.72", "002.937.72"),
        ("Art.-Nr. 1049084", "1049084"),
        ("eBay item number:\n302474151804", "302474151804"),
        ("Référence\n\nTE502955-1293415 Housse de canapé, chaise", "TE502955-1293415"),
        ("Kód produktu: GARNI 570 EASY II", "GARNI 570 EASY II"),
        ("〈商品編號：M67296549〉", "M67296549"),
        ("Product code: 141677", "141677"),
        ("Codice articolo: 66868", "66868"),
    ],
)
def test_labelled_sku(text: str, expected: str) -> None:
    _, page = page_of(f"<html><body><p>{text.replace(chr(10), '<br>')}</p></body></html>")
    found = find_labelled(page, "sku")
    assert found and found[0].value == expected


@pytest.mark.parametrize(
    "text",
    ["Art. 5 DSGVO", "Reference: our best seller", "SKU: 12.03.2020", "Item number: n/a",
     "passku: 12345"],
)  # fmt: skip
def test_labels_without_a_plausible_code_give_nothing(text: str) -> None:
    _, page = page_of(f"<html><body><p>{text}</p></body></html>")
    assert find_labelled(page, "sku") == []


def test_labelled_gtin_mpn_and_brand() -> None:
    _, page = page_of(
        "<html><body><p>EAN: 7610186303159</p><p>EAN: 7610186303158</p>"
        "<p>Model number: YLKS32</p><p>Brand Name:<br>YONGLI</p><p>Brand new design</p>"
        "</body></html>"
    )
    assert [g.value for g in find_labelled(page, "gtin")] == ["7610186303159"]
    assert find_labelled(page, "mpn")[0].value == "YLKS32"
    assert [g.value for g in find_labelled(page, "brand")] == ["YONGLI"]


def test_labels_in_the_product_region_come_first() -> None:
    tree, page = page_of(
        "<html><body><p>SKU: OTHER-1</p>" + "<p>x</p>" * 30 + "<h1>Kettle</h1>"
        "<p>SKU: MAIN-2</p></body></html>"
    )
    anchor = find_title_anchor(tree, page, ["Kettle"])
    assert anchor is not None
    found = find_labelled(page, "sku", region=(anchor.index, anchor.index + 50))
    assert [g.value for g in found] == ["MAIN-2", "OTHER-1"]


# --- the address ----------------------------------------------------------------------------


def test_an_id_ending_the_address_is_taken_when_the_page_repeats_it() -> None:
    url = "https://shop.example/c/thing-112949990"
    repeated = '<a href="/c/thing-112949990">x</a><input name="ProductId" value="112949990">'
    assert url_identifier(url, repeated) == "112949990"
    only_in_links = '<a href="https://shop.example/c/thing-112949990">x</a>'
    assert url_identifier(url, only_in_links) is None
    assert url_identifier("https://ebay.example/itm/302474151804", "nr: 302474151804") == (
        "302474151804"
    )
    assert url_identifier("https://x.example/p?sku=1049084", "<b>1049084</b>") == "1049084"
    assert url_identifier("https://x.example/p/short-12", "12") is None
    assert url_identifier(None, "x") is None
    assert url_identifier("https://x.example/p/a-123456", None) is None


# --- plain text -----------------------------------------------------------------------------


def test_text_only_price_follows_the_title_line_and_precedes_the_buy_button() -> None:
    text = """Blue Kettle 1.7 l | Shop
Menu
Kettles from £9.99
Similar: Red Kettle
£19.99
Blue Kettle 1.7 l
£30.00
£24.99
Add to basket
SKU: BK-17
In stock
"""
    guesses = extract_from_text(text, url="https://shop.example/p/blue-kettle-17", locale=GB)
    assert guesses["price"].value == Decimal("24.99")
    assert guesses["price"].symbol == "£"
    assert guesses["availability"].value == "InStock"
    assert guesses["sku"].value == "BK-17"


def test_text_only_out_of_stock_and_no_clue() -> None:
    guesses = extract_from_text("Kettle\n€ 5\nSold out", url=None, locale=None)
    assert guesses["price"].value == Decimal("5")
    assert guesses["price"].confidence < 0.5
    assert guesses["availability"].value == "OutOfStock"
    assert extract_from_text("", url=None, locale=None) == {}
