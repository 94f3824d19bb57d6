"""extraction.structured: JSON-LD (tolerant), microdata, meta tags, and the main product."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from buyhive.product.jsonld import MAX_DEPTH
from extraction.structured import (
    ProductNode,
    collect_offers,
    extract_structured,
    product_values,
    select_product,
)

URL = "https://shop.example/p/blue-kettle-123"


def tree_of(html: str) -> Any:
    return etree.fromstring(html, etree.HTMLParser())


def ld(*objects: Any, raw: str | None = None) -> str:
    body = (
        raw if raw is not None else json.dumps(objects[0] if len(objects) == 1 else list(objects))
    )
    return f'<script type="application/ld+json">{body}</script>'


def main_product(html: str, url: str = URL, titles: list[str] | None = None) -> ProductNode | None:
    data = extract_structured(tree_of(html), base_url=url)
    return select_product(
        data.nodes, base_url=url, page_url=url, page_urls=[url], page_titles=titles or []
    )


PRODUCT = {
    "@context": "https://schema.org",
    "@type": "Product",
    "name": "Blue Kettle",
    "sku": "BK-1",
    "offers": {"@type": "Offer", "price": "24.99", "priceCurrency": "EUR",
               "availability": "https://schema.org/InStock"},
}  # fmt: skip


# --- depth bounds ---------------------------------------------------------------------------


def test_deep_but_parseable_json_ld_is_walked_only_to_max_depth() -> None:
    node: dict[str, Any] = dict(PRODUCT)
    for _ in range(MAX_DEPTH + 5):
        node = {"@type": "WebPage", "mainEntity": node}
    assert main_product(ld(node)) is None
    shallow: dict[str, Any] = dict(PRODUCT)
    for _ in range(3):
        shallow = {"@type": "WebPage", "mainEntity": shallow}
    assert main_product(ld(shallow)) is not None


# --- finding the product --------------------------------------------------------------------


def test_product_in_a_graph() -> None:
    graph = {"@context": "https://schema.org",
             "@graph": [{"@type": "WebSite", "name": "Shop"}, PRODUCT]}  # fmt: skip
    product = main_product(ld(graph))
    assert product is not None
    assert product.values["title"] == "Blue Kettle"
    assert product.offers[0].price == Decimal("24.99")


def test_product_inside_other_types() -> None:
    page = {"@type": "ItemPage", "mainEntity": {"@type": "ItemList", "itemListElement": [
        {"@type": "ListItem", "position": 1, "item": PRODUCT}]}}  # fmt: skip
    product = main_product(ld(page))
    assert product is not None and product.values["sku"] == "BK-1"


def test_type_given_as_list_or_url() -> None:
    node = dict(PRODUCT, **{"@type": ["Thing", "http://schema.org/Product"]})
    assert main_product(ld(node)) is not None


def test_related_products_do_not_win_over_the_main_one() -> None:
    node = dict(PRODUCT)
    node["isRelatedTo"] = [{"@type": "Product", "name": "Red Kettle", "offers": {
        "@type": "Offer", "price": "9.99", "priceCurrency": "EUR"}}]  # fmt: skip
    product = main_product(ld(node))
    assert product is not None and product.values["title"] == "Blue Kettle"


def test_the_product_matching_the_page_title_or_address_is_chosen() -> None:
    other = {"@type": "Product", "name": "Garden Hose",
             "offers": {"@type": "Offer", "price": "5"}}  # fmt: skip
    main = dict(PRODUCT, url=URL)
    product = main_product(ld(other, main), titles=["Blue Kettle - Shop"])
    assert product is not None and product.values["title"] == "Blue Kettle"


def test_event_with_offers_is_used_when_there_is_no_product() -> None:
    event = {
        "@type": "Event",
        "name": "Concert",
        "offers": {"@type": "AggregateOffer", "lowPrice": "35", "priceCurrency": "EUR"},
    }
    product = main_product(ld(event, {"@type": "Organization", "name": "Org"}))
    assert product is not None
    assert product.is_product_type is False
    assert product.offers[0].price == Decimal("35")
    assert product.offers[0].aggregate is True


def test_nothing_to_find_gives_none() -> None:
    assert main_product(ld({"@type": "WebSite", "name": "Shop"})) is None
    assert main_product("<html><body><p>nothing</p></body></html>") is None


def test_product_group_selects_the_variant_named_in_the_address() -> None:
    group = {
        "@type": "ProductGroup", "name": "T-shirt", "brand": {"@type": "Brand", "name": "Acme"},
        "hasVariant": [
            {"@type": "Product", "sku": "TS-S", "size": "S",
             "offers": {"@type": "Offer", "price": 10, "availability": "OutOfStock"}},
            {"@type": "Product", "sku": "TS-M", "size": "M", "image": "/m.jpg",
             "offers": {"@type": "Offer", "price": 12, "availability": "InStock"}},
        ],
    }  # fmt: skip
    url = "https://shop.example/p/t-shirt?variant=TS-M"
    product = main_product(ld(group), url=url)
    assert product is not None and product.from_group and product.variant_selected
    assert product.values["sku"] == "TS-M"
    assert product.values["brand"] == "Acme"
    assert product.values["variant"] == {"size": "M"}
    assert product.values["images"][0] == "https://shop.example/m.jpg"
    assert product.offers[0].price == Decimal("12")

    unselected = main_product(ld(group), url="https://shop.example/p/t-shirt")
    assert unselected is not None and not unselected.variant_selected
    assert [o.price for o in unselected.offers] == [Decimal("10"), Decimal("12")]
    assert len(unselected.siblings) == 2


def test_sibling_products_with_the_same_name_are_kept_as_variants() -> None:
    small = dict(PRODUCT, sku="BK-S", offers={"@type": "Offer", "price": "24.99",
                                              "availability": "OutOfStock"})  # fmt: skip
    large = dict(PRODUCT, sku="BK-L", offers={"@type": "Offer", "price": "24.99",
                                              "availability": "InStock"})  # fmt: skip
    product = main_product(ld(small, large))
    assert product is not None
    assert [s["sku"] for s in product.siblings] == ["BK-L"]


# --- offers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offers", "expected"),
    [
        ({"@type": "Offer", "price": 24.5}, ["24.5"]),
        ({"@type": "Offer", "price": "24,50"}, ["24.50"]),
        ([{"@type": "Offer", "price": "1"}, {"@type": "Offer", "price": "2"}], ["1", "2"]),
        ({"@type": "AggregateOffer", "lowPrice": "19.99", "highPrice": "29.99"}, ["19.99"]),
        ({"@type": "AggregateOffer", "offers": [{"@type": "Offer", "price": "7"}]}, ["7"]),
        ({"@type": "Offer", "price": ["", "8"]}, ["8"]),
        ({"@type": "Offer", "priceSpecification": [
            {"@type": "UnitPriceSpecification", "priceType": "https://schema.org/StrikethroughPrice",
             "price": 30},
            {"@type": "UnitPriceSpecification", "price": 3, "referenceQuantity": {"value": 1}},
            {"@type": "UnitPriceSpecification", "price": 25, "priceCurrency": "USD"}]}, ["25"]),
        ({"@type": "Offer", "price": {"@value": "11"}}, ["11"]),
        ({"@type": "Offer", "offers": {"@type": "Offer", "price": "5100.0"}}, ["5100.0"]),
    ],
)  # fmt: skip
def test_offer_shapes(offers: Any, expected: list[str]) -> None:
    found = [o.price for o in collect_offers({"offers": offers}) if o.price is not None]
    assert found == [Decimal(e) for e in expected]


def test_nested_offer_inherits_currency_and_availability() -> None:
    offers = collect_offers(
        {
            "offers": {
                "@type": "Offer",
                "priceCurrency": "GBP",
                "availability": "InStock",
                "offers": {"@type": "Offer", "price": "9"},
            }
        }
    )
    nested = offers[-1]
    assert (nested.price, nested.currency_raw, nested.availability) == (
        Decimal("9"), "GBP", "InStock")  # fmt: skip


def test_zero_price_is_not_a_price_and_a_price_on_the_product_itself_is_read() -> None:
    assert [o.price for o in collect_offers({"offers": {"price": "0"}})] == [None]
    assert [o.price for o in collect_offers({"price": "15", "priceCurrency": "EUR"})] == [
        Decimal("15")
    ]


# --- product values -------------------------------------------------------------------------


def test_product_values_read_every_field() -> None:
    node = {
        "@type": "Product",
        "name": "  Soft &amp; warm <b>scarf</b> ",
        "description": "<p>Merino.</p>",
        "brand": [{"@type": "Brand", "name": "Woolly"}],
        "sku": 12345,
        "mpn": "W-1",
        "gtin13": "7610186303158",  # invalid check digit: ignored
        "isbn": "9780552173742",
        "image": [{"@type": "ImageObject", "url": "/a.jpg"}, "//cdn.example/b.jpg", "/a.jpg"],
        "color": "grey",
        "additionalProperty": [{"@type": "PropertyValue", "name": "Size", "value": "L"}],
    }
    values = product_values(node, "https://shop.example/p/1")
    assert values["title"] == "Soft & warm scarf"
    assert values["description"] == "Merino."
    assert values["brand"] == "Woolly"
    assert values["sku"] == "12345"
    assert values["mpn"] == "W-1"
    assert values["gtin"] == "9780552173742"
    assert values["images"] == ["https://shop.example/a.jpg", "https://cdn.example/b.jpg"]
    assert values["variant"] == {"color": "grey", "size": "L"}


def test_brand_falls_back_to_manufacturer_and_ignores_urls() -> None:
    assert product_values({"manufacturer": {"name": "Maker"}}, None)["brand"] == "Maker"
    assert product_values({"brand": "https://brand.example"}, None)["brand"] is None


def test_sku_dragging_surrounding_text_keeps_only_the_code() -> None:
    node = {"sku": "TE502955-1293415 Housse de canapé, chaise"}
    assert product_values(node, None)["sku"] == "TE502955-1293415"
    assert product_values({"sku": "GARNI 570 EASY II"}, None)["sku"] == "GARNI 570 EASY II"


def test_product_id_is_a_gtin_or_a_single_token_sku() -> None:
    assert product_values({"productID": "isbn:9780552173742"}, None)["gtin"] == "9780552173742"
    assert product_values({"productID": "AB-123"}, None)["sku"] == "AB-123"
    assert product_values({"productID": "Ca304103 Montre"}, None)["sku"] is None


# --- microdata and meta ---------------------------------------------------------------------


MICRODATA = """<html><body>
<div itemscope itemtype="http://schema.org/Product">
  <h1 itemprop="name">Blue Kettle</h1>
  <img itemprop="image" src="/k.jpg">
  <meta itemprop="sku" content="BK-1">
  <span itemprop="brand" itemscope itemtype="http://schema.org/Brand">
    <span itemprop="name">Acme</span></span>
  <div itemprop="offers" itemscope itemtype="http://schema.org/Offer">
    <span itemprop="price" content="24.99">24,99 €</span>
    <meta itemprop="priceCurrency" content="EUR">
    <link itemprop="availability" href="http://schema.org/InStock">
  </div>
</div></body></html>"""


def test_microdata_product_is_read_like_json_ld() -> None:
    product = main_product(MICRODATA)
    assert product is not None and product.source == "microdata"
    assert product.values["title"] == "Blue Kettle"
    assert product.values["sku"] == "BK-1"
    assert product.values["brand"] == "Acme"
    assert product.values["images"] == ["https://shop.example/k.jpg"]
    offer = product.offers[0]
    assert (offer.price, offer.currency_raw, offer.availability) == (
        Decimal("24.99"), "EUR", "InStock")  # fmt: skip


def test_loose_itemprops_outside_any_item_are_kept_as_a_fallback() -> None:
    html = """<html><body><span itemprop="price" content="15.00">15 €</span>
    <meta itemprop="priceCurrency" content="EUR"><span itemprop="sku">X-9</span>
    <time itemprop="availability" datetime="2020">x</time></body></html>"""
    data = extract_structured(tree_of(html), base_url=URL)
    assert data.loose["price"] == "15.00"
    assert data.loose["pricecurrency"] == "EUR"
    assert data.loose["sku"] == "X-9"


def test_meta_tags_are_read_by_property_name_and_http_equiv() -> None:
    html = """<html><head>
    <meta property="og:title" content="Blue Kettle | Shop">
    <meta property="product:price:amount" content="24.99">
    <meta name="description" content="A kettle">
    <meta http-equiv="Content-Language" content="de-AT">
    <meta property="og:image" content="/a.jpg"><meta property="og:image" content="/b.jpg">
    </head><body></body></html>"""
    meta = extract_structured(tree_of(html), base_url=URL).meta
    assert meta.first("og:title") == "Blue Kettle | Shop"
    assert meta.first("missing", "product:price:amount") == "24.99"
    assert meta.all("og:image") == ["/a.jpg", "/b.jpg"]
    assert meta.http_equiv["content-language"] == "de-AT"
    assert meta.first("nothing") is None


def test_invalid_json_ld_is_counted() -> None:
    data = extract_structured(tree_of(ld(raw='{"@type": "Product",}')), base_url=URL)
    assert data.jsonld_invalid == 1
    assert data.nodes[0].types == {"product"}
