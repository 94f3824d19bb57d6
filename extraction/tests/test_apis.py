"""POST /api/v1/extract/ through the HTTP API, end to end with the real extractor."""

from __future__ import annotations

import json
import sys
from typing import Any
from urllib.parse import urlsplit

import pytest
from bson import ObjectId
from rest_framework.test import APIClient

from buyhive.product import urls as product_urls
from carts.models import Item

pytestmark = pytest.mark.django_db

URL = "https://shop.example.com/p/espresso-machine-x200?utm_source=newsletter&color=red"
PAGE = """<!doctype html><html lang="en-GB"><head><title>Espresso Machine X200 | Shop</title>
<script type="application/ld+json">
{"@context": "https://schema.org", "@type": "Product", "name": "Espresso Machine X200",
 "sku": "X200-RED", "brand": {"@type": "Brand", "name": "Brewline"},
 "image": "/img/x200.jpg",
 "offers": {"@type": "Offer", "price": "249.99", "priceCurrency": "GBP",
            "availability": "https://schema.org/InStock"}}
</script></head>
<body><h1>Espresso Machine X200</h1><p class="price">£249.99</p>
<button>Add to basket</button></body></html>"""


def extract(client: APIClient, **body: Any) -> Any:
    return client.post("/api/v1/extract/", body, format="json")


def test_extract_returns_the_product_with_provenance(auth_client: APIClient) -> None:
    response = extract(auth_client, url=URL, html=PAGE)
    assert response.status_code == 200, response.content
    body = response.json()
    product = body["product"]
    assert product["title"] == "Espresso Machine X200"
    assert product["price"] == "249.99"
    assert product["currency"] == "GBP"
    assert product["availability"] == "InStock"
    assert product["brand"] == "Brewline"
    assert product["sku"] == "X200-RED"
    assert product["image"] == "https://shop.example.com/img/x200.jpg"
    assert "utm_source" not in product["canonical_url"]
    assert "color=red" in product["canonical_url"]
    assert body["provenance"]["price"]["source"] == "json-ld"
    # No key in the test settings: the LLM step says so rather than pretending to run.
    assert body["llm"] == {"status": "not_configured", "provider": None}
    assert body["cached"] is False
    assert body["item"] is None
    # Both checks answer the shared shape whatever the models' state.
    for check, key in ((body["page_check"], "is_product"), (body["image_check"], "match")):
        assert check["status"] in {"ok", "unavailable"}
        assert key in check and "reason" in check and "threshold" in check
    # The page check also says what kind of page it is (issue 17).
    assert body["page_check"]["page_type"] in {None, "product", "collection", "other"}
    if body["page_check"]["status"] == "ok":
        page_check = body["page_check"]
        assert page_check["is_product"] is (page_check["page_type"] == "product")


def test_a_repeated_extraction_is_served_from_the_cache(auth_client: APIClient) -> None:
    first = extract(auth_client, url=URL, html=PAGE).json()
    second = extract(auth_client, url=URL, html=PAGE).json()
    assert first["cached"] is False
    assert second["cached"] is True
    assert second["product"] == first["product"]


def test_a_field_the_page_does_not_give_is_null(auth_client: APIClient) -> None:
    page = "<html><body><h1>Plain Mug</h1><p>Price: 12.50 EUR</p></body></html>"
    body = extract(auth_client, url="https://mugs.example.org/plain", html=page).json()
    assert body["product"]["gtin"] is None
    assert body["product"]["brand"] is None
    assert "gtin" not in body["provenance"]


def test_text_only_input_still_finds_a_price(auth_client: APIClient) -> None:
    text = "Espresso Machine X200\nBrewline\nPrice £249.99\nIn stock\nAdd to basket"
    body = extract(auth_client, url=URL, text=text).json()
    assert body["product"]["price"] == "249.99"


# What the extension sends: the body's text (innerText holds no <title>) and, beside it, the
# document's title.
BODY_TEXT = (
    "Recently viewed\nMilk Frother M1\n£39.99\nAdd to basket\nHome › Coffee\n"
    "Espresso Machine X200\n£249.99\nAdd to basket\nIn stock"
)


def test_text_only_input_is_read_with_the_title_sent_beside_it(auth_client: APIClient) -> None:
    url = "https://shop.example.com/p/48213"
    title = "Espresso Machine X200 | Shop"
    body = extract(auth_client, url=url, text=BODY_TEXT, title=title).json()
    assert (body["product"]["title"], body["product"]["price"]) == (
        "Espresso Machine X200",
        "249.99",
    )
    # The title is part of what the answer is cached by: the same text without it is read
    # again, not answered from the cache.
    blind = extract(auth_client, url=url, text=BODY_TEXT).json()
    assert blind["cached"] is False
    assert (blind["product"]["title"], blind["product"]["price"]) == (None, "39.99")


def test_extract_saves_into_the_given_carts(auth_client: APIClient, user: Any) -> None:
    cart = auth_client.post("/api/v1/carts/", {"name": "Kitchen"}, format="json").json()
    response = extract(auth_client, url=URL, html=PAGE, cart_ids=[cart["id"]])
    assert response.status_code == 200, response.content
    item = response.json()["item"]
    assert item["title"] == "Espresso Machine X200"
    assert item["price"] == "249.99"
    assert item["cart_ids"] == [cart["id"]]
    assert item["extraction"]["provenance"]["price"]["source"] == "json-ld"
    items = auth_client.get(f"/api/v1/carts/{cart['id']}/items/").json()
    assert items["count"] == 1
    # Saving the same page again updates the item, never duplicates it.
    again = extract(auth_client, url=URL, html=PAGE, cart_ids=[cart["id"]]).json()["item"]
    assert again["id"] == item["id"]
    assert auth_client.get("/api/v1/items/").json()["count"] == 1


@pytest.fixture
def canonicalisations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every address canonicalize_url is called with, wherever a module imported it from
    (a spy: the real function still runs)."""
    calls: list[str] = []
    original = product_urls.canonicalize_url

    def spy(url: str) -> str:
        calls.append(url)
        return original(url)

    for module in list(sys.modules.values()):
        if getattr(module, "canonicalize_url", None) is original:
            monkeypatch.setattr(module, "canonicalize_url", spy)
    return calls


def test_one_extract_and_save_canonicalises_the_address_once(
    auth_client: APIClient, canonicalisations: list[str]
) -> None:
    """The cache key, the product's canonical_url and the item's uniqueness key all come from
    one canonicalisation per request, whether the item is created or updated. (The price
    watch's match key normalises the host and path alone, without the query: a different
    string, not counted here.)"""
    cart = auth_client.post("/api/v1/carts/", {"name": "Kitchen"}, format="json").json()

    def of_the_page() -> list[str]:
        return [url for url in canonicalisations if urlsplit(url).query]

    canonicalisations.clear()
    created = extract(auth_client, url=URL, html=PAGE, cart_ids=[cart["id"]]).json()
    assert of_the_page() == [URL]
    other_campaign = URL.replace("utm_source=newsletter", "utm_source=ads")
    updated = extract(auth_client, url=other_campaign, html=PAGE, cart_ids=[cart["id"]]).json()
    assert of_the_page() == [URL, other_campaign]
    assert updated["item"]["id"] == created["item"]["id"]
    canonical = "https://shop.example.com/p/espresso-machine-x200?color=red"
    assert created["product"]["canonical_url"] == canonical
    assert Item.objects.get(pk=ObjectId(created["item"]["id"])).canonical_url == canonical


def test_extract_into_another_users_cart_is_refused_before_any_work(
    auth_client: APIClient, other_client: APIClient
) -> None:
    foreign = other_client.post("/api/v1/carts/", {"name": "Bob's"}, format="json").json()
    response = extract(auth_client, url=URL, html=PAGE, cart_ids=[foreign["id"]])
    assert response.status_code == 400
    assert "cart_ids" in response.json()["error"]["fields"]
    assert auth_client.get("/api/v1/items/").json()["count"] == 0
    assert other_client.get(f"/api/v1/carts/{foreign['id']}/items/").json()["count"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "javascript:alert(1)", "html": "<p>x</p>"}, "url"),
        ({"url": "file:///etc/passwd", "html": "<p>x</p>"}, "url"),
        ({"url": "https://shop.example.com/p"}, "html"),
        ({"url": "https://shop.example.com/p", "html": "", "text": ""}, "html"),
        ({"url": "https://shop.example.com/p", "text": "x" * 200_001}, "text"),
        ({"url": "https://shop.example.com/p", "text": "x", "title": "t" * 1001}, "title"),
        ({"url": "https://shop.example.com/p", "text": "x", "title": 42}, "title"),
        ({"url": "https://shop.example.com/p", "text": "x", "title": ["a"]}, "title"),
        (
            {"url": "https://shop.example.com/p", "html": "<p>x</p>", "image_urls": ["x"] * 51},
            "image_urls",
        ),
        (
            {
                "url": "https://shop.example.com/p",
                "html": "<p>x</p>",
                "image_urls": ["ftp://a/b.png"],
            },
            "image_urls",
        ),
        ({"url": "https://shop.example.com/p", "html": 42}, "html"),
        ({"url": ["a"], "html": "<p>x</p>"}, "url"),
        ({"url": "https://shop.example.com/p", "html": "<p>x</p>", "cart_ids": "abc"}, "cart_ids"),
    ],
)
def test_bad_input_answers_400_with_the_field(
    auth_client: APIClient, body: dict[str, Any], field: str
) -> None:
    response = extract(auth_client, **body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]


def test_extract_needs_a_token(api_client: APIClient) -> None:
    response = extract(api_client, url=URL, html=PAGE)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


GARBAGE = [
    "\x00\x01\x02" * 1000,
    "<" * 100_000,
    "<html>" + "<div>" * 20_000 + "</html>",
    '<script type="application/ld+json">' + "[" * 50_000 + "</script>",
    '<script type="application/ld+json">{"@type": "Product", "offers": ' * 3000 + "</script>",
    "".join(chr(c) for c in range(0xD7FF, 0xD7FF - 3000, -1)),
    "<html><body>" + "<p>1,99 € 2.99 $ ¥3</p>" * 20_000 + "</body></html>",
]


@pytest.mark.parametrize("html", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_pages_answer_a_product_never_a_500(auth_client: APIClient, html: str) -> None:
    response = extract(auth_client, url="https://junk.example.net/x", html=html)
    assert response.status_code == 200, response.content[:500]
    assert set(response.json()["product"]) >= {"title", "price", "currency"}


def test_a_json_body_that_is_not_an_object_is_400(auth_client: APIClient) -> None:
    response = auth_client.post("/api/v1/extract/", "[1, 2]", content_type="application/json")
    assert response.status_code == 400
    response = auth_client.post("/api/v1/extract/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_extract_is_rate_limited_per_user(auth_client: APIClient, settings: Any) -> None:
    settings.RATE_EXTRACT_USER = "2/h"
    for _ in range(2):
        assert extract(auth_client, url=URL, html=PAGE).status_code == 200
    limited = extract(auth_client, url=URL, html=PAGE)
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"


def test_extract_product_command_prints_one_json_per_line(tmp_path: Any) -> None:
    import io
    import sys

    from django.core.management import call_command

    lines = [
        json.dumps({"url": URL, "html": PAGE}),
        "not json",
        json.dumps({"url": "ftp://x"}),
        json.dumps({"url": URL, "text": "Mug £5.00"}),
    ]
    stdin, out = io.StringIO("\n".join(lines) + "\n"), io.StringIO()
    old = sys.stdin
    sys.stdin = stdin
    try:
        call_command("extract_product", "--no-cache", stdout=out)
    finally:
        sys.stdin = old
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(rows) == 4
    assert rows[0]["product"]["price"] == "249.99"
    assert rows[0]["page_check"]["page_type"] in {None, "product", "collection", "other"}
    assert rows[1]["error"]["code"] == "invalid_json"
    assert rows[2]["error"]["code"] == "validation_error"
    assert rows[3]["product"]["price"] in {"5.00", "5"}
    assert rows[3]["product"]["currency"] == "GBP"
    assert all(row.get("cached") is False for row in rows if "product" in row)  # --no-cache
