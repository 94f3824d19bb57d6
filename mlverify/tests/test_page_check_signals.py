"""Page signals and their combination with the model score (no model needed)."""

from __future__ import annotations

import pytest

from mlverify.page_check.scoring import COMBINED_THRESHOLD, combine_scores
from mlverify.page_check.signals import PageSignals, extract_page_signals


def page(head: str = "", body: str = "") -> str:
    return f"<html><head><title>t</title>{head}</head><body>{body}</body></html>"


def test_product_in_json_ld_graph_with_offer() -> None:
    html = page(
        '<script type="application/ld+json">{"@context": "https://schema.org", "@graph": ['
        '{"@type": "WebSite", "name": "Shop"}, {"@type": ["Product"], "name": "Lamp",'
        ' "offers": [{"@type": "Offer", "price": 12}]}]}</script>'
    )
    signals = extract_page_signals(html)
    assert signals.product_structured
    assert signals.offers
    assert not signals.article_structured


def test_a_product_reviewed_inside_an_article_does_not_make_a_product_page() -> None:
    html = page(
        '<script type="application/ld+json">{"@type": "Review", "itemReviewed":'
        ' {"@type": "Product", "name": "Bike"}, "author": "A"}</script>'
        '<script type="application/ld+json">{"@type": "BlogPosting", "headline": "Review"}</script>'
    )
    signals = extract_page_signals(html)
    assert not signals.product_structured
    assert signals.article_structured


def test_microdata_product_and_price_itemprop() -> None:
    html = page(
        body='<div itemscope itemtype="http://schema.org/Product"><span itemprop="name">Mug</span>'
        '<div itemprop="offers" itemscope itemtype="https://schema.org/Offer">'
        '<meta itemprop="price" content="9.99"></div></div>'
    )
    signals = extract_page_signals(html)
    assert signals.product_structured
    assert signals.offers


def test_open_graph_product_type_and_price_meta() -> None:
    html = page(
        '<meta property="og:type" content="product">'
        '<meta property="product:price:amount" content="19.50">'
    )
    signals = extract_page_signals(html)
    assert signals.og_product
    assert signals.offers
    assert not signals.product_structured


@pytest.mark.parametrize(
    "body",
    [
        "<button type='submit'>In den Warenkorb</button>",
        "<button><span>Ajouter au panier</span></button>",
        "<input type='submit' value='Dodaj do koszyka'>",
        "<a class='btn btn-primary' href='#'>Add to bag</a>",
        "<button class='product-form__add-to-cart'>+</button>",
        "<form action='/cart/add' method='post'><button>OK</button></form>".replace(
            "/cart/add", "/checkout/addToCart"
        ),
        "<div role='button' data-action='add-to-basket'>Kup</div>",
        "<button>加入購物車</button>",
    ],
)
def test_add_to_cart_controls_in_several_languages(body: str) -> None:
    assert extract_page_signals(page(body=body)).add_to_cart


def test_a_long_paragraph_mentioning_add_to_cart_is_not_a_control() -> None:
    text = "Readers can add to cart any of the deals we list below, says our editor. " * 3
    assert not extract_page_signals(page(body=f"<p>{text}</p><button>Share</button>")).add_to_cart


def test_article_signals_and_broken_json_ld_is_ignored() -> None:
    html = page(
        '<meta property="og:type" content="article">'
        '<script type="application/ld+json">{"@type": "Product", broken</script>'
    )
    signals = extract_page_signals(html)
    assert signals.article_structured
    assert not signals.product_structured


def test_bytes_are_decoded_by_their_declared_charset() -> None:
    button = "<button>\u0412 \u043a\u043e\u0440\u0437\u0438\u043d\u0443</button>"  # "V korzinu"
    html = page('<meta charset="windows-1251">', button).encode("cp1251")
    assert extract_page_signals(html).add_to_cart


def test_empty_or_non_html_gives_no_signals() -> None:
    assert extract_page_signals("") == PageSignals()
    assert not extract_page_signals("just text").any


def test_signals_from_mapping_ignores_unknown_keys() -> None:
    signals = PageSignals.from_mapping({"og_product": 1, "other": True})
    assert signals == PageSignals(og_product=True)
    assert PageSignals.from_mapping(signals.as_dict()) == signals


def test_combination_keeps_the_model_decision_without_signals() -> None:
    none = PageSignals()
    assert combine_scores(0.62, 0.6, none) > COMBINED_THRESHOLD
    assert combine_scores(0.58, 0.6, none) < COMBINED_THRESHOLD
    assert combine_scores(0.6, 0.6, none) == pytest.approx(0.5)


def test_structured_product_lifts_and_article_lowers_the_score() -> None:
    model = 0.3  # the model alone says "not a product page" at threshold 0.5
    product = PageSignals(product_structured=True, offers=True)
    article = PageSignals(article_structured=True)
    assert combine_scores(model, 0.5, product) > COMBINED_THRESHOLD
    assert combine_scores(0.8, 0.5, article) < COMBINED_THRESHOLD
    both = PageSignals(product_structured=True, article_structured=True)
    assert combine_scores(model, 0.5, both) == pytest.approx(model, abs=1e-9)  # +3 - 3


def test_page_only_score_needs_a_signal() -> None:
    assert combine_scores(None, 0.5, PageSignals()) < COMBINED_THRESHOLD
    assert combine_scores(None, 0.5, PageSignals(og_product=True)) > COMBINED_THRESHOLD
