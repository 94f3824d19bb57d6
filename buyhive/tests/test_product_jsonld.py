"""buyhive.product.jsonld: tolerant JSON-LD parsing, and finding what a page says it is."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lxml import etree

from buyhive.product.jsonld import (
    MAX_DEPTH,
    TypedNode,
    has_offers,
    parse_jsonld_text,
    read_jsonld_scripts,
    scalar_value,
    top_level_nodes,
    type_name,
    type_names,
    walk_typed_nodes,
)

PRODUCT = {
    "@context": "https://schema.org",
    "@type": "Product",
    "name": "Blue Kettle",
    "sku": "BK-1",
    "offers": {"@type": "Offer", "price": "24.99", "priceCurrency": "EUR",
               "availability": "https://schema.org/InStock"},
}  # fmt: skip


# --- tolerant JSON-LD -----------------------------------------------------------------------


def test_valid_json_ld_parses() -> None:
    values, invalid = parse_jsonld_text(json.dumps(PRODUCT))
    assert values == [PRODUCT]
    assert invalid is False


@pytest.mark.parametrize(
    "raw",
    [
        "<!-- " + json.dumps(PRODUCT) + " -->",
        "//<![CDATA[\n" + json.dumps(PRODUCT) + "\n//]]>",
        "<![CDATA[" + json.dumps(PRODUCT) + "]]>",
        json.dumps(PRODUCT) + ";",
    ],
)
def test_wrappers_browsers_ignore_are_removed(raw: str) -> None:
    values, _ = parse_jsonld_text(raw)
    assert values == [PRODUCT]


def test_trailing_commas_comments_and_single_quotes_are_repaired() -> None:
    raw = """{
      // the product
      '@type': 'Product', "name": 'Kettle "Deluxe"', /* price below */
      "offers": [{"price": 12.5, "availability": undefined,},],
    }"""
    values, invalid = parse_jsonld_text(raw)
    assert invalid is True
    assert values == [
        {"@type": "Product", "name": 'Kettle "Deluxe"',
         "offers": [{"price": 12.5, "availability": None}]}
    ]  # fmt: skip


def test_control_characters_inside_strings_are_accepted() -> None:
    values, _ = parse_jsonld_text('{"@type": "Product", "description": "line one\nline\ttwo"}')
    assert values[0]["description"] == "line one\nline\ttwo"


def test_several_objects_in_one_script_are_all_read() -> None:
    raw = json.dumps({"@type": "BreadcrumbList"}) + "\n" + json.dumps(PRODUCT)
    values, invalid = parse_jsonld_text(raw)
    assert values == [{"@type": "BreadcrumbList"}, PRODUCT]
    assert invalid is True


def test_junk_between_objects_is_skipped() -> None:
    values, _ = parse_jsonld_text('garbage {"a": 1} more junk {"b": 2}')
    assert values == [{"a": 1}, {"b": 2}]


@pytest.mark.parametrize("raw", ["", "   ", "not json at all", "{", "[[[[", "<!-- -->"])
def test_hopeless_json_gives_nothing_without_raising(raw: str) -> None:
    values, _ = parse_jsonld_text(raw)
    assert values == [] or all(isinstance(v, (dict, list)) for v in values)


def test_ten_thousand_levels_of_nesting_do_not_blow_the_stack() -> None:
    values, invalid = parse_jsonld_text("[" * 10_000 + "]" * 10_000)
    assert invalid is True
    assert values == []
    deep = '{"a":' * 5_000 + "1" + "}" * 5_000
    parse_jsonld_text(deep)  # no RecursionError


# --- every block of a page ------------------------------------------------------------------


def test_every_ld_json_block_of_a_page_is_read_and_invalid_ones_counted() -> None:
    html = (
        "<html><head>"
        f'<script type="application/ld+json">{json.dumps(PRODUCT)}</script>'
        '<script type="Application/LD+JSON; charset=utf-8">{"@type": "WebSite",}</script>'
        '<script type="text/javascript">{"@type": "Product"}</script>'
        "</head><body></body></html>"
    )
    values, invalid = read_jsonld_scripts(etree.fromstring(html, etree.HTMLParser()))
    assert values == [PRODUCT, {"@type": "WebSite"}]
    assert invalid == 1


# --- what a node is -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Product", "product"),
        ("https://schema.org/Product", "product"),
        ("http://schema.org/ProductGroup", "productgroup"),
        ("schema:Offer", "offer"),
        ("http://data-vocabulary.org/Product#x", "x"),
        (" IndividualProduct ", "individualproduct"),
    ],
)
def test_type_name_is_the_lower_cased_local_name(raw: str, expected: str) -> None:
    assert type_name(raw) == expected


def test_type_names_reads_a_list_and_ignores_non_strings() -> None:
    assert type_names({"@type": ["Product", "https://schema.org/Car", 3, None]}) == {
        "product",
        "car",
    }
    assert type_names({"type": "Offer"}) == {"offer"}
    assert type_names({"name": "untyped"}) == set()


def test_has_offers_needs_a_non_empty_object_or_list() -> None:
    assert has_offers(PRODUCT) is True
    assert has_offers({"offers": []}) is False
    assert has_offers({"offers": "24.99"}) is False
    assert has_offers({}) is False


def test_scalar_value_unwraps_value_objects_and_lists() -> None:
    assert scalar_value({"@value": "12.50"}) == "12.50"
    assert scalar_value([None, "", {"name": "Acme"}]) == "Acme"
    assert scalar_value({"nested": {"@value": 1}}) is None
    assert scalar_value("plain") == "plain"


# --- walking --------------------------------------------------------------------------------


def test_walk_finds_graph_members_and_marks_what_describes_something_else() -> None:
    graph = {
        "@graph": [
            {"@type": "WebSite", "name": "Shop"},
            {**PRODUCT, "isRelatedTo": {"@type": "Product", "name": "Lid"}},
        ]
    }
    nodes: list[TypedNode] = []
    walk_typed_nodes([graph], source="json-ld", start_order=0, out=nodes)
    found = [(sorted(n.types), n.node.get("name"), n.foreign, n.order) for n in nodes]
    assert found == [
        (["website"], "Shop", False, 0),
        (["product"], "Blue Kettle", False, 1),
        (["offer"], None, False, 2),
        (["product"], "Lid", True, 3),
    ]
    assert nodes[2].parent_types == frozenset({"product"})


def test_walk_stops_at_max_depth() -> None:
    node: dict[str, Any] = dict(PRODUCT)
    for _ in range(MAX_DEPTH + 5):
        node = {"@type": "WebPage", "mainEntity": node}
    nodes: list[TypedNode] = []
    walk_typed_nodes([node], source="json-ld", start_order=0, out=nodes)
    assert nodes and all("product" not in n.types for n in nodes)


def test_top_level_nodes_are_what_the_page_says_about_itself() -> None:
    review = {
        "@type": "Review",
        "itemReviewed": PRODUCT,
    }
    page = {"@type": "WebPage", "mainEntity": {"@type": "https://schema.org/NewsArticle"}}
    graph = {"@graph": [{"@type": ["Product", "Car"], "name": "Roadster"}]}
    found = [(kind, node.get("name")) for kind, node in top_level_nodes([review, page, graph])]
    assert found == [
        ("review", None),
        ("webpage", None),
        ("newsarticle", None),
        ("product", "Roadster"),
        ("car", "Roadster"),
    ]


def test_top_level_nodes_follow_only_a_few_levels() -> None:
    deep: dict[str, Any] = {"@type": "Product"}
    for _ in range(4):
        deep = {"@type": "WebPage", "mainEntity": deep}
    assert [kind for kind, _ in top_level_nodes([deep])] == ["webpage"] * 4
