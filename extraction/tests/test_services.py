"""The extraction pipeline's own rules: image choice, saving, a cache outage, and what of the
LLM's answer reaches the product."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from buyhive.exceptions import ValidationFailed
from extraction import services
from extraction.tests.fake_llm_server import FakeLLMServer, FakeReply, configured_fake_llm
from extraction.types import LLM_FILLABLE_FIELDS

PAGE = """<!doctype html><html lang="en"><head><title>Walnut Desk Lamp</title>
<script type="application/ld+json">
{"@type": "Product", "name": "Walnut Desk Lamp", "sku": "WDL-1",
 "offers": {"price": "%s", "priceCurrency": "EUR", "availability": "InStock"},
 "image": "https://cdn.shop.example/banners/summer-sale-banner.jpg"}
</script></head><body><h1>Walnut Desk Lamp</h1></body></html>"""


@pytest.mark.heavy
def test_without_clip_the_image_whose_name_matches_the_product_is_chosen(
    settings: Any, tmp_path: Any
) -> None:
    """CLIP weights absent: candidates are ranked by file name/alt text with MiniLM."""
    from mlverify.registry import reset_models

    settings.CLIP_WEIGHTS = tmp_path / "missing.safetensors"
    reset_models()
    try:
        result = services.extract(
            url="https://shop.example/lamp",
            html=PAGE % "49.90",
            image_urls=["https://cdn.shop.example/products/walnut-desk-lamp.jpg"],
            use_cache=False,
        )
    finally:
        reset_models()
    check = result.body["image_check"]
    assert check["status"] == "ok", check
    assert check["method"] == "text"
    assert result.body["product"]["image"] == (
        "https://cdn.shop.example/products/walnut-desk-lamp.jpg"
    )
    assert result.body["provenance"]["image"]["source"] == "heuristic"


def test_no_title_means_no_image_check() -> None:
    result = services.extract(url="https://shop.example/x", text="Price 12.00 EUR", use_cache=False)
    assert result.body["image_check"]["status"] == "unavailable"
    assert "no product name" in result.body["image_check"]["reason"]


@pytest.mark.django_db
def test_a_value_the_item_refuses_is_dropped_and_the_rest_saved(user: Any) -> None:
    """An image address longer than an item may store: the product is saved without it."""
    from carts.services import cart_create

    cart = cart_create(owner=user, name="Desk")
    long_image = "https://cdn.shop.example/" + "i" * 2100 + ".jpg"
    page = (PAGE % "49.90").replace(
        "https://cdn.shop.example/banners/summer-sale-banner.jpg", long_image
    )
    body = services.extract(url="https://shop.example/lamp", html=page, use_cache=False).body
    assert body["product"]["image"] == long_image
    item = services.save_extraction(
        owner=user, url="https://shop.example/lamp", body=body, cart_ids=[str(cart.pk)]
    )
    assert item.title == "Walnut Desk Lamp"
    assert str(item.price) == "49.90" and item.currency == "EUR"
    assert item.image_url == ""


def test_text_alone_is_checked_with_the_title_sent_beside_it() -> None:
    """The page check's URL layer was trained on the URL with the document title: it reads the
    title that came with the text, not the product name the text gave."""
    from mlverify.page_check.services import classify_url

    url = "https://kettles.example/p/12345"
    text = "Home › Kettles\nBlue Kettle\n£24.99\nAdd to basket"
    title = "Blue Kettle | Kettle Shop"
    result = services.extract(url=url, text=text, title=title, use_cache=False)
    assert result.body["product"]["title"] == "Blue Kettle"
    check = result.body["page_check"]
    with_title = classify_url(url=url, title=title)
    with_name = classify_url(url=url, title="Blue Kettle")
    assert with_title.status == "ok" and with_title.score != with_name.score
    assert (check["status"], check["score"], check["method"]) == ("ok", with_title.score, "model")


def test_a_cache_outage_costs_speed_not_the_answer(settings: Any) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    first = services.extract(url="https://shop.example/lamp", html=PAGE % "49.90")
    second = services.extract(url="https://shop.example/lamp", html=PAGE % "49.90")
    assert first.body["product"]["price"] == "49.90"
    assert second.cached is False  # nothing could be cached, and nothing failed


def test_item_data_maps_and_bounds_the_product() -> None:
    product = {
        "title": "x" * 900,
        "price": "10.00",
        "currency": None,
        "image": "https://cdn.example/a.jpg",
        "images": ["https://cdn.example/a.jpg"],
        "brand": "",
        "canonical_url": "https://shop.example/p",
    }
    data = services.item_data_from_product(product, url="https://shop.example/p?utm_source=x")
    assert len(data["title"]) == 500
    assert data["image_url"] == "https://cdn.example/a.jpg"
    assert data["url"] == "https://shop.example/p?utm_source=x"
    assert "brand" not in data and "images" not in data


@pytest.mark.django_db
def test_extract_and_save_answers_the_item_only_when_carts_are_given(user: Any) -> None:
    from carts.services import cart_create

    cart = cart_create(owner=user, name="Desk")
    url = "https://shop.example/lamp?utm_campaign=spring"
    page = PAGE % "49.90"
    alone = services.product_extract_and_save(user=user, url=url, html=page, text=None)
    assert alone.item is None
    assert alone.body["product"]["canonical_url"] == "https://shop.example/lamp"
    saved = services.product_extract_and_save(
        user=user, url=url, html=page, text=None, cart_ids=[str(cart.pk)]
    )
    assert saved.cached is True  # same page, same address: the first answer was cached
    assert saved.item is not None
    assert saved.item.title == "Walnut Desk Lamp"
    assert saved.item.url == url
    assert saved.item.canonical_url == "https://shop.example/lamp"


@pytest.mark.django_db
def test_extract_and_save_refuses_unknown_carts_before_extracting(user: Any) -> None:
    url = "https://shop.example/lamp-never-extracted"
    with pytest.raises(ValidationFailed) as refused:
        services.product_extract_and_save(
            user=user, url=url, html=PAGE % "49.90", text=None, cart_ids=["0" * 24]
        )
    assert "cart_ids" in (refused.value.fields or {})
    # Nothing was extracted, so nothing was cached: the next extraction of the page is fresh.
    assert services.extract(url=url, html=PAGE % "49.90").cached is False


CURRENCY_PAGE = """<!doctype html><html lang="en"><head><title>Tea set</title>
<script type="application/ld+json">
{"@type": "Product", "name": "Tea set",
 "offers": {"price": "%s", "priceCurrency": "%s", "availability": "InStock"}}
</script></head><body><h1>Tea set</h1></body></html>"""


@pytest.mark.parametrize(
    ("shown", "currency", "extracted"),
    [("1500.5", "JPY", "1501"), ("1500", "JPY", "1500"), ("69.990", "USD", "69.99"),
     ("12.345", "KWD", "12.345"), ("20", "EUR", "20.00")],
)  # fmt: skip
def test_the_extractor_rounds_a_shown_price_to_its_currencys_decimals(
    shown: str, currency: str, extracted: str
) -> None:
    result = services.extract(
        url="https://shop.example/tea",
        html=CURRENCY_PAGE % (shown, currency),
        use_cache=False,
    )
    assert (result.body["product"]["price"], result.body["product"]["currency"]) == (
        extracted,
        currency,
    )


@pytest.mark.django_db
def test_an_extracted_price_with_too_many_decimals_is_saved_rounded(user: Any) -> None:
    """What a page shows is rounded, not refused: ``1500.5`` JPY is saved as ``1501``."""
    from carts.services import cart_create

    cart = cart_create(owner=user, name="Tea")
    url = "https://shop.example/tea"
    result = services.extract(url=url, html=CURRENCY_PAGE % ("1500.5", "JPY"), use_cache=False)
    item = services.save_extraction(owner=user, url=url, body=result.body, cart_ids=[cart.pk])
    item.refresh_from_db()
    assert (format(item.price, "f"), item.currency) == ("1501", "JPY")


# -- the LLM step's answer in the product ---------------------------------------------------
@pytest.fixture
def fake_llm(settings: Any) -> Iterator[FakeLLMServer]:
    """The real groq SDK against a loopback fake, as the only configured provider."""
    with configured_fake_llm(settings, openai=False) as server:
        yield server


#: A page's visible text that gives every field only to the LLM: the deterministic step finds
#: some of them, all below the confidence that makes a field "missing".
DESK_TEXT = (
    "Nordic Walnut Desk 120\n"
    "A desk from Hjem, article HJ-4471, model NWD-120, barcode 4006381333931.\n"
    "Now 1.299,00 € - in stock"
)
#: The model's answer: a value for every product field, asked for or not, each on the page.
DESK_ANSWER = {
    "title": "Nordic Walnut Desk 120",
    "price": "1299.00",
    "currency": "EUR",
    "availability": "InStock",
    "brand": "Hjem",
    "sku": "HJ-4471",
    "gtin": "4006381333931",
    "mpn": "NWD-120",
    "description": "A desk from Hjem, article HJ-4471.",
    "image": "https://cdn.shop.example/desk.jpg",
}


def asked_fields(fake_llm: FakeLLMServer) -> list[str]:
    """The fields the one request to the model asked for ("Fields to fill: a, b.")."""
    (request,) = fake_llm.requests
    first_line = request.user.split("\n", 1)[0]
    return first_line.removeprefix("Fields to fill: ").removesuffix(".").split(", ")


def test_the_llms_answer_for_each_fillable_field_reaches_the_product(
    fake_llm: FakeLLMServer,
) -> None:
    fake_llm.default = FakeReply.json(DESK_ANSWER)

    body = services.extract(url="https://shop.example/desk", text=DESK_TEXT, use_cache=False).body

    assert body["llm"] == {"status": "used", "provider": "groq"}
    assert asked_fields(fake_llm) == list(LLM_FILLABLE_FIELDS)
    for name in LLM_FILLABLE_FIELDS:
        assert body["product"][name] == DESK_ANSWER[name], name
        assert body["provenance"][name]["source"] == "llm", name


def test_a_field_the_llm_was_not_asked_for_is_ignored(fake_llm: FakeLLMServer) -> None:
    """The page's JSON-LD gives the title, price, currency, availability and image: the model
    is asked for the rest, and what else it answers (another title printed on the page, a
    description, an image) is left out of the product."""
    fake_llm.default = FakeReply.json(DESK_ANSWER)
    page = (PAGE % "49.90").replace(
        "<h1>Walnut Desk Lamp</h1>", f"<h1>Walnut Desk Lamp</h1><p>{DESK_TEXT}</p>"
    )

    body = services.extract(url="https://shop.example/lamp", html=page, use_cache=False).body

    assert body["llm"]["status"] == "used"
    asked = asked_fields(fake_llm)
    assert "title" not in asked and "price" not in asked
    product, provenance = body["product"], body["provenance"]
    assert product["title"] == "Walnut Desk Lamp"
    assert product["price"] == "49.90"
    assert product["description"] is None
    assert product["image"] == "https://cdn.shop.example/banners/summer-sale-banner.jpg"
    from_llm = {name for name, entry in provenance.items() if entry["source"] == "llm"}
    assert from_llm and from_llm <= set(asked)
