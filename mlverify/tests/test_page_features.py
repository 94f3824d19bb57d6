"""The structural page features on small synthetic pages: a product page, a grid of products,
an article (no page of the data sets, no label read back)."""

from __future__ import annotations

import json

import lxml.html
import pytest

from mlverify.page_check import features, url_shapes


def _doc(html: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(html)


PRODUCT = """<html><head><title>Oak table</title>
<meta property="og:type" content="product">
<script type="application/ld+json">{"@type": "Product", "name": "Oak table",
 "offers": {"@type": "Offer", "price": "450.00", "priceCurrency": "GBP"}}</script></head>
<body><h1>Oak table</h1><p class="price">£450.00</p>
<input name="qty" value="1"><button class="add-to-cart">Add to basket</button>
<p>Solid oak, seats six. Oiled finish.</p></body></html>"""


def _grid(n: int) -> str:
    cards = "".join(
        f'<div class="tile"><a href="/p/item-{i}"><img src="/{i}.jpg">Item {i}</a>'
        f"<span>€{10 + i},00</span><button>Add to cart</button></div>"
        for i in range(n)
    )
    item_list = json.dumps({"@type": "ItemList", "itemListElement": []})
    return f"""<html><head><title>Lamps</title>
<script type="application/ld+json">{item_list}</script></head>
<body><h1>Lamps</h1><select id="sort-by"><option>Price</option></select>
<div class="grid">{cards}</div><a rel="next" href="?page=2">Next</a></body></html>"""


ARTICLE = """<html><head><title>Council approves budget</title>
<meta property="og:type" content="article">
<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Budget"}</script>
</head><body><h1>Council approves budget</h1>
<p>The council met on Tuesday and approved next year's budget after a long debate about
parking fees, which will rise from $2 to $3 an hour.</p></body></html>"""


def test_a_product_page_states_one_product_one_cart_and_few_prices() -> None:
    f = features.feature_dict("https://shop.example/products/oak-table-123", _doc(PRODUCT))
    assert list(f) == list(features.FEATURE_NAMES)
    assert f["has_html"] == 1.0
    assert f["ld_product"] > 0
    assert f["og_product"] == 1.0
    assert f["one_product"] == 1.0
    assert f["one_cart"] == 1.0
    assert f["few_prices"] == 1.0
    assert f["quantity_input"] == 1.0
    assert f["card_repeat"] == 0.0
    assert f["url_product_segment"] == 1.0
    assert f["url_listing_segment"] == 0.0


def test_a_grid_repeats_priced_cards_with_many_carts_and_prices() -> None:
    f = features.feature_dict("https://shop.example/collections/lamps?page=1", _doc(_grid(12)))
    assert f["card_repeat"] == pytest.approx(features._log(12))
    assert f["card_repeat_any"] == pytest.approx(features._log(12))
    assert f["add_to_cart"] == pytest.approx(features._log(12))
    assert f["distinct_prices"] == pytest.approx(features._log(12))
    assert f["one_cart"] == 0.0
    assert f["few_prices"] == 0.0
    assert f["ld_list"] == 1.0
    assert f["one_product"] == 0.0
    assert f["sort_control"] == 1.0
    assert f["pagination"] == 1.0
    assert f["url_listing_segment"] == 1.0
    assert f["url_listing_params"] == 1.0


def test_two_alike_blocks_are_not_a_grid() -> None:
    f = features.feature_dict("https://shop.example/x", _doc(_grid(2)))
    assert f["card_repeat"] == 0.0


def test_an_article_has_article_markup_and_prose() -> None:
    f = features.feature_dict("https://news.example/2024/05/council-budget", _doc(ARTICLE))
    assert f["ld_article"] == 1.0
    assert f["og_article"] == 1.0
    assert f["ld_product"] == 0.0
    assert f["add_to_cart"] == 0.0
    assert f["paragraph_chars"] > 0


def test_without_html_only_the_url_features_are_set() -> None:
    f = features.feature_dict("https://shop.example/category/lamps", None)
    assert f["has_html"] == 0.0
    assert f["url_listing_segment"] == 1.0
    assert all(f[n] == 0.0 for n in features.FEATURE_NAMES if not n.startswith("url_"))
    assert features.url_features("https://shop.example/")["url_root"] == 1.0
    assert features.url_features("https://shop.example/en-gb/")["url_root"] == 1.0
    assert features.url_features("https://shop.example/item/123.html")["url_html"] == 1.0
    assert features.url_features("not a url [")["url_depth"] >= 0.0


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("$19.99 and 5,00 €", {"19.99", "5,00"}),
        ("EUR 1.299,00", {"1.299,00"}),
        ("¥1,500", {"1,500"}),
        ("call 555 1234", set()),
    ],
)
def test_prices_need_a_currency(text: str, amounts: set[str]) -> None:
    assert {features._amount(m) for m in features._PRICE_RE.finditer(text)} == amounts


def test_heading_and_description() -> None:
    doc = _doc(
        '<html><head><meta name="description" content="  Best   lamps. "></head>'
        "<body><h1> Lamps </h1></body></html>"
    )
    assert features.page_heading(doc) == "Lamps"
    assert features.page_description(doc) == "Best lamps."
    assert features.page_heading(_doc("<p>x</p>")) is None


def test_the_lead_is_the_opening_text_of_the_main_headings_block() -> None:
    page = _doc(
        "<html><body><nav>Home Shop</nav><main><div class='buy'><h1>Oak table</h1>"
        "<p class='price'>£450.00</p><script>var x = 1;</script><button>Add to basket</button>"
        f"</div><p>{'Solid oak, seats six. ' * 20}</p></main><footer>Contact</footer></body></html>"
    )
    lead = features.page_lead(page)
    assert lead is not None
    # The buy block has under 300 characters, so the lead climbs to <main>, and stops there.
    assert lead.startswith("Oak table £450.00 Add to basket Solid oak")
    assert len(lead) == 300
    assert "Home" not in lead and "var x" not in lead
    # A heading straight under <body> is its own block.
    assert features.page_lead(_doc(PRODUCT)) == "Oak table"
    assert features.page_lead(_doc("<html><body><p>no heading</p></body></html>")) is None


def test_controls_are_the_first_distinct_button_labels() -> None:
    assert features.page_controls(_doc(PRODUCT)) == "add to basket"
    assert features.page_controls(_doc(_grid(30))) == "add to cart"
    page = _doc(
        "<body><button> Sort   by </button><input type='submit' value='Search'>"
        "<a role='button' aria-label='Load more'>+</a>"
        f"<button>{'x' * 41}</button><button>Sort by</button></body>"
    )
    assert features.page_controls(page) == "sort by, search, load more"
    assert features.page_controls(_doc("<p>x</p>")) is None


SCRIPT_PRODUCT = """<html><head><title>Robot vacuum</title>
<link rel="canonical" href="https://shop.example/en/p/robot-vacuum-j7">
<script id="__NEXT_DATA__" type="application/json">{"props": {"product":
 {"sku": "J7-1", "name": "Robot vacuum", "price": 599.99, "listPrice": 699.99}}}</script>
<script>dataLayer.push({"pageType": "product"});</script></head>
<body><div id="root"></div></body></html>"""

SCRIPT_LISTING = """<html><head><title>Vacuums</title>
<script>window.__INITIAL_STATE__ = {"items": [{"price": 10}, {"price": 20}, {"price": 30},
 {"price": 40}, {"price": 50}]}; var page_type = "category";</script></head>
<body><div id="app"></div></body></html>"""


def test_a_page_drawn_by_script_shows_its_product_in_the_inline_state() -> None:
    f = features.feature_dict("https://shop.example/en/robot-vacuum-j7", _doc(SCRIPT_PRODUCT))
    assert f["script_state"] == 1.0
    assert f["script_prices"] == pytest.approx(features._log(2))
    assert f["script_few_prices"] == 1.0
    assert f["script_sku"] == 1.0
    assert f["script_page_product"] == 1.0
    assert f["script_page_listing"] == 0.0
    assert f["canonical_product_shape"] == 1.0
    # the visible page shows nothing of it
    assert f["distinct_prices"] == 0.0
    assert f["add_to_cart"] == 0.0


def test_a_listing_drawn_by_script_has_many_prices_and_a_listing_page_type() -> None:
    f = features.feature_dict("https://shop.example/vacuums", _doc(SCRIPT_LISTING))
    assert f["script_state"] == 1.0
    assert f["script_prices"] == pytest.approx(features._log(5))
    assert f["script_few_prices"] == 0.0
    assert f["script_page_listing"] == 1.0
    assert f["script_page_product"] == 0.0
    assert f["canonical_product_shape"] == 0.0


def test_json_ld_prices_are_not_read_twice_as_script_state() -> None:
    f = features.feature_dict("https://shop.example/products/oak-table-123", _doc(PRODUCT))
    assert f["script_prices"] == 0.0
    assert f["script_state"] == 0.0


@pytest.mark.parametrize(
    ("url", "shape"),
    [
        ("https://shop.example/p/oak-table", True),
        ("https://shop.example/gp/dp/B00ABCDEF1/ref=x", True),
        ("https://shop.example/en/products/oak-table", True),
        ("https://shop.example/oak-table-p-1234.html", True),
        ("https://shop.example/itm/276702815108", True),
        ("https://shop.example/collections/tables", False),
        ("https://news.example/2024/05/council-budget-180816.html", False),
        ("https://forum.example/t/some-thread/123456", False),
        ("https://shop.example/", False),
    ],
)
def test_product_path_shapes(url: str, shape: bool) -> None:
    assert url_shapes.product_path_shape(url) is shape
    page = f'<html><head><link rel="canonical" href="{url}"></head><body></body></html>'
    f = features.feature_dict("https://shop.example/x", _doc(page))
    assert f["canonical_product_shape"] == float(shape)


def test_page_title_reads_the_title_then_og_title_with_spaces_collapsed() -> None:
    assert features.page_title(
        _doc("<html><head><title> Blue \n  kettle </title></head></html>")
    ) == ("Blue kettle")
    og = '<html><head><title> </title><meta property="og:title" content="Red  mug"></head></html>'
    assert features.page_title(_doc(og)) == "Red mug"
    assert features.page_title(_doc("<html><body><p>no title</p></body></html>")) is None


def test_page_title_skips_the_titles_of_inline_svg_icons() -> None:
    icon = '<a href="/share"><svg><title>LinkedIn</title><path d="M0 0"/></svg></a>'
    untitled = (
        '<html><head><meta property="og:title" content="Standing desk"></head>'
        f"<body>{icon}<h1>Standing desk</h1></body></html>"
    )
    assert features.page_title(_doc(untitled)) == "Standing desk"
    titled = f"<html><head><title>Oak desk</title></head><body>{icon}</body></html>"
    assert features.page_title(_doc(titled)) == "Oak desk"


def test_page_input_prefers_the_pages_own_title_and_reads_the_page_texts() -> None:
    html = (
        "<html><head><title>Grid of kettles</title>"
        '<meta name="description" content="Kettles in every colour"></head>'
        "<body><h1>Kettles</h1><button>Filter</button></body></html>"
    )
    page = features.page_input("https://shop.example/kettles", _doc(html), "Caller title")
    assert page.title == "Grid of kettles"
    assert page.heading == "Kettles"
    assert page.description == "Kettles in every colour"
    assert page.controls == "filter"
    untitled = features.page_input(
        "https://shop.example/k", _doc("<html><body><h1>K</h1></body></html>"), "Caller"
    )
    assert untitled.title == "Caller"
