"""The learning package's pure parts: locations, candidate records, applying a lesson.

The database and endpoint side is in ``test_learning_apis.py``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from extraction.deterministic import extract_deterministic
from extraction.evaluation import load_pages
from extraction.learning.apply import LEARNED_CONFIDENCE, apply_learned
from extraction.learning.candidates import MAX_RECORD_BYTES, page_candidates, record_matches
from extraction.learning.locations import ld_leaves, resolve_ld, stable_token
from extraction.learning.page import page_view, value_key
from extraction.tests.learning_pages import PAGE_A, PAGE_B, shop_page

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "product-pages"


def test_generated_or_product_specific_tokens_are_not_stable() -> None:
    assert stable_token("price-now")
    assert stable_token("h1")
    assert not stable_token("product-48213")  # a product's own id
    assert not stable_token("css-1a2b3c4")  # a generated class
    assert not stable_token("a b")
    assert not stable_token(None)


def test_a_dom_location_from_page_a_names_the_same_place_on_page_b() -> None:
    view_a = page_view(html=PAGE_A[1], url=PAGE_A[0])
    assert view_a is not None
    record = page_candidates(view_a)
    (place,) = record_matches(record, "price", "39.99")
    assert place.startswith("dom:") and "nth" not in place
    view_b = page_view(html=PAGE_B[1], url=PAGE_B[0])
    assert view_b is not None
    assert view_b.read("price", place) == Decimal("89.50")
    assert view_b.read("currency", place) == "USD"


def test_a_dom_path_ignores_product_specific_ids() -> None:
    html = shop_page("Oak Stool", "59.99", "39.99").replace(
        '<div class="deal">', '<div class="deal" id="deal-889123">'
    )
    view = page_view(html=html, url=PAGE_A[0])
    assert view is not None
    (place,) = record_matches(page_candidates(view), "price", "39.99")
    assert "889123" not in place


def test_json_ld_key_paths_read_back() -> None:
    node = {"@type": "Product", "name": "Kettle", "offers": [{"price": "19.99"}, {"price": 5}]}
    leaves = {path: value for path, _key, value in ld_leaves(node)}
    assert leaves["offers[0].price"] == "19.99"
    assert resolve_ld(node, "offers[1].price") == 5
    assert resolve_ld(node, "offers[7].price") is None
    assert resolve_ld(node, "offers") is None  # a list is not a value


def test_a_learned_place_wins_only_when_it_validates() -> None:
    url, html = PAGE_B
    result = extract_deterministic(url=url, html=html)
    assert result.product["price"] == Decimal("120.00")
    view = page_view(html=html, url=url)
    assert view is not None
    place = "dom:div.product-card>div.deal>span.amt"
    applied = apply_learned(result, view, {"price": ["dom:div.nothing>span.here", place]})
    assert applied == ["price"]
    assert result.product["price"] == Decimal("89.50")
    assert result.provenance["price"] == {"source": "heuristic", "confidence": LEARNED_CONFIDENCE}
    # The title heading holds no price: that lesson is ignored and the rules' value stays.
    kept = extract_deterministic(url=url, html=html)
    assert apply_learned(kept, view, {"price": ["dom:main>div.product-card>h1"]}) == []
    assert kept.product["price"] == Decimal("120.00")


def test_values_are_compared_in_a_compact_form() -> None:
    assert value_key("price", "89.5") == value_key("price", Decimal("89.50")) == "89.5"
    assert value_key("currency", "usd") == "USD"
    assert value_key("availability", "https://schema.org/InStock") == "InStock"
    title = value_key("title", "Oak  Stool")
    assert title == value_key("title", "oak stool") and title is not None
    assert title.startswith("h:") and len(title) == 14


def test_garbage_pages_give_no_view_or_an_empty_record() -> None:
    assert page_view(html=None, url="https://x.example/") is None
    assert page_view(html="   ", url="https://x.example/") is None
    view = page_view(html="\x00\x01<<<>>>", url="https://x.example/")
    assert view is None or page_candidates(view) == {}


@pytest.mark.skipif(not DATA.exists(), reason="the product-pages data set is not here")
def test_on_real_shop_pages_records_stay_small_and_every_place_reads_back() -> None:
    for page in load_pages(DATA)[::4]:
        view = page_view(html=page.html, url=page.url)
        assert view is not None
        record = page_candidates(view)
        size = len(json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode())
        assert size <= MAX_RECORD_BYTES, page.key
        assert record.get("price"), page.key  # every product page offers price candidates
        for field_name, entries in record.items():
            for location, held in entries:
                assert value_key(field_name, view.read(field_name, location)) == held, location


def _offers_page(name: str, first: str, second: str) -> str:
    return (
        '<html lang="en-GB"><head><script type="application/ld+json">'
        f'{{"@context": "https://schema.org", "@type": "Product", "name": "{name}", '
        f'"offers": [{{"@type": "Offer", "price": "{first}", "priceCurrency": "GBP"}}, '
        f'{{"@type": "Offer", "price": "{second}", "priceCurrency": "GBP"}}]}}'
        f"</script></head><body><h1>{name}</h1></body></html>"
    )


def test_a_json_ld_key_path_is_learned_and_followed() -> None:
    """A shop listing a refurbished offer first: the user's price is the second offer's."""
    url = "https://www.lanterns.example/p/"
    view_a = page_view(html=_offers_page("Brass Lantern", "12.00", "30.00"), url=url + "1")
    assert view_a is not None
    places = record_matches(page_candidates(view_a), "price", "30")
    assert places == ["ld:offers[1].price"]
    page_b = _offers_page("Tin Lantern", "8.00", "19.50")
    result = extract_deterministic(url=url + "2", html=page_b)
    view_b = page_view(html=page_b, url=url + "2")
    assert view_b is not None
    assert apply_learned(result, view_b, {"price": places}) == ["price"]
    assert result.product["price"] == Decimal("19.50")
    assert result.provenance["price"]["source"] == "json-ld"


def _generated_page(name: str, was: str, now: str, salt: str) -> str:
    # Class names regenerated on every page (a CSS-in-JS build): no DOM path is stable.
    return (
        f'<html lang="en"><body><main><h1 class="t-{salt}a1f9c3">{name}</h1>'
        f'<div class="p-{salt}77e1b0"><span class="x-{salt}0c4d2e">${was}</span></div>'
        f'<div class="q-{salt}5be093"><span class="l-{salt}9d1e44">Our price:</span>'
        f'<span class="v-{salt}3a8f21">${now}</span></div>'
        "<button>Add to cart</button></main></body></html>"
    )


def test_a_label_location_survives_generated_class_names() -> None:
    url = "https://www.glowshop.example/p/"
    view_a = page_view(html=_generated_page("Desk Lamp", "80.00", "64.00", "1"), url=url + "1")
    assert view_a is not None
    places = record_matches(page_candidates(view_a), "price", "64.00")
    assert "label:Our price:" in places
    page_b = _generated_page("Floor Lamp", "150.00", "119.00", "2")
    view_b = page_view(html=page_b, url=url + "2")
    assert view_b is not None
    assert view_b.read("price", "label:Our price:") == Decimal("119.00")
    assert view_b.read("price", "label:Was:") is None
