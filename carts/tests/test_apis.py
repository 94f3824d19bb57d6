"""Every carts endpoint through HTTP, with real tokens: shapes, statuses and bad input."""

from __future__ import annotations

from typing import Any

import pytest
from bson import ObjectId
from django.test import override_settings
from rest_framework.test import APIClient

from carts import services
from carts.models import Cart, CartItem, Item

pytestmark = pytest.mark.django_db

API = "/api/v1"


def _product(n: int, **extra: Any) -> dict[str, Any]:
    return {"url": f"https://shop.example.com/p/{n}", "title": f"Thing {n}", **extra}


def _assert_envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert "request_id" in body
    return body


# ------------------------------------------------------------------------------------ carts


def test_carts_crud(auth_client: APIClient) -> None:
    created = auth_client.post(
        f"{API}/carts/", {"name": "Gifts", "description": "xmas"}, format="json"
    )
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "Gifts"
    assert body["item_count"] == 0
    assert body["totals"] == []
    assert body["share_url"] is None
    assert set(body) == {
        "id",
        "name",
        "description",
        "item_count",
        "totals",
        "share_url",
        "total_converted",  # null unless asked for with ?currency=
        "created_at",
        "updated_at",
    }
    assert body["total_converted"] is None
    cart_id = body["id"]

    listed = auth_client.get(f"{API}/carts/")
    assert listed.status_code == 200
    assert listed.json()["count"] == 1
    assert listed.json()["results"][0]["id"] == cart_id

    assert auth_client.get(f"{API}/carts/{cart_id}/").json()["description"] == "xmas"
    patched = auth_client.patch(f"{API}/carts/{cart_id}/", {"name": "Presents"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["name"] == "Presents"
    assert patched.json()["description"] == "xmas"

    assert auth_client.delete(f"{API}/carts/{cart_id}/").status_code == 204
    _assert_envelope(auth_client.get(f"{API}/carts/{cart_id}/"), 404, "not_found")


def test_cart_list_shows_counts_and_totals(auth_client: APIClient, user: Any) -> None:
    cart = services.cart_create(owner=user, name="Mixed")
    services.cart_create(owner=user, name="Empty")
    a, _ = services.item_upsert(
        owner=user, data=_product(1, price="10.10", currency="usd"), cart_ids=[cart.pk]
    )
    services.item_upsert(
        owner=user, data=_product(2, price="1", currency="EUR"), cart_ids=[cart.pk]
    )
    services.item_add_to_cart(cart=cart, item=a, quantity=3)

    results = auth_client.get(f"{API}/carts/").json()["results"]
    by_name = {row["name"]: row for row in results}
    assert by_name["Mixed"]["item_count"] == 2
    assert by_name["Mixed"]["totals"] == [
        {"currency": "EUR", "amount": "1.00"},
        {"currency": "USD", "amount": "30.30"},
    ]
    assert by_name["Empty"]["item_count"] == 0


def test_cart_list_is_paginated(auth_client: APIClient, user: Any) -> None:
    for n in range(5):
        services.cart_create(owner=user, name=f"Cart {n}")
    page = auth_client.get(f"{API}/carts/?limit=2&offset=2").json()
    assert page["count"] == 5
    assert [row["name"] for row in page["results"]] == ["Cart 2", "Cart 3"]
    assert page["next"]
    assert page["previous"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "description": "d" * 1001}, "description"),
        ({"name": ["list"]}, "name"),
        ({"name": "tab\tname"}, "name"),
    ],
)
def test_cart_create_bad_input_is_a_400_envelope(
    auth_client: APIClient, payload: dict[str, Any], field: str
) -> None:
    body = _assert_envelope(
        auth_client.post(f"{API}/carts/", payload, format="json"), 400, "validation_error"
    )
    assert field in body["error"]["fields"]


def test_duplicate_cart_name_is_a_400_and_cap_a_409(auth_client: APIClient, user: Any) -> None:
    services.cart_create(owner=user, name="Gifts")
    body = _assert_envelope(
        auth_client.post(f"{API}/carts/", {"name": "gifts"}, format="json"),
        400,
        "validation_error",
    )
    assert "name" in body["error"]["fields"]
    cart = services.cart_create(owner=user, name="Other")
    _assert_envelope(
        auth_client.patch(f"{API}/carts/{cart.pk}/", {"name": "GIFTS"}, format="json"),
        400,
        "validation_error",
    )
    with override_settings(MAX_CARTS_PER_USER=2):
        _assert_envelope(
            auth_client.post(f"{API}/carts/", {"name": "Third"}, format="json"),
            409,
            "limit_exceeded",
        )


def test_unauthenticated_requests_are_401(api_client: APIClient, cart: Cart) -> None:
    for method, path in [
        ("get", "/carts/"),
        ("post", "/carts/"),
        ("get", f"/carts/{cart.pk}/"),
        ("get", f"/carts/{cart.pk}/items/"),
        ("get", "/items/"),
        ("put", f"/items/{ObjectId()}/carts/"),
        ("post", f"/carts/{cart.pk}/share/"),
    ]:
        response = getattr(api_client, method)(f"{API}{path}", {}, format="json")
        _assert_envelope(response, 401, "not_authenticated")


def test_malformed_json_and_wrong_method_answer_envelopes(
    auth_client: APIClient, cart: Cart
) -> None:
    response = auth_client.post(f"{API}/carts/", data="{not json", content_type="application/json")
    _assert_envelope(response, 400, "validation_error")
    _assert_envelope(auth_client.put(f"{API}/carts/{cart.pk}/", {}, format="json"), 405,
                     "method_not_allowed")  # fmt: skip
    _assert_envelope(auth_client.get(f"{API}/carts/not-an-id/"), 404, "not_found")


# ------------------------------------------------------------------------------- cart items


def test_add_new_item_to_cart_then_list_and_remove(auth_client: APIClient, cart: Cart) -> None:
    url = f"{API}/carts/{cart.pk}/items/"
    created = auth_client.post(
        url,
        {**_product(1, price="12.50", currency="GBP"), "quantity": 2, "note": "size M"},
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert body["title"] == "Thing 1"
    assert (body["quantity"], body["note"]) == (2, "size M")
    assert (body["price_at_add"], body["currency_at_add"]) == ("12.50", "GBP")
    assert body["cart_ids"] == [str(cart.pk)]
    item_id = body["id"]

    again = auth_client.post(url, {"item_id": item_id, "quantity": 3}, format="json")
    assert again.status_code == 200
    assert again.json()["quantity"] == 3

    listed = auth_client.get(url).json()
    assert listed["count"] == 1
    assert listed["results"][0]["id"] == item_id
    assert auth_client.get(f"{API}/carts/{cart.pk}/").json()["totals"] == [
        {"currency": "GBP", "amount": "37.50"}
    ]

    assert auth_client.delete(f"{url}{item_id}/").status_code == 204
    assert auth_client.get(url).json()["count"] == 0
    assert Item.objects.filter(pk=item_id).exists()  # still in "all items"
    _assert_envelope(auth_client.delete(f"{url}{item_id}/"), 404, "not_found")


def test_cart_items_are_paginated_in_added_order(
    auth_client: APIClient, user: Any, cart: Cart
) -> None:
    items = [services.item_upsert(owner=user, data=_product(n))[0] for n in range(5)]
    for item in reversed(items):
        services.item_add_to_cart(cart=cart, item=item)
    page = auth_client.get(f"{API}/carts/{cart.pk}/items/?limit=2&offset=1").json()
    assert page["count"] == 5
    assert [row["id"] for row in page["results"]] == [str(items[3].pk), str(items[2].pk)]


def test_add_existing_item_by_id(auth_client: APIClient, cart: Cart, item: Item) -> None:
    response = auth_client.post(
        f"{API}/carts/{cart.pk}/items/", {"item_id": str(item.pk)}, format="json"
    )
    assert response.status_code == 201
    assert CartItem.objects.filter(cart=cart, item=item).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "item_id"),
        ({"item_id": "nope"}, "item_id"),
        ({"item_id": str(ObjectId())}, "item_id"),
        ({"item_id": "x", "url": "https://a.example.com/"}, "item_id"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "https://a.example.com/", "quantity": 0}, "quantity"),
        ({"url": "https://a.example.com/", "quantity": "many"}, "quantity"),
        ({"url": "https://a.example.com/", "note": "n" * 1001}, "note"),
    ],
)
def test_add_to_cart_bad_input(
    auth_client: APIClient, cart: Cart, payload: dict[str, Any], field: str
) -> None:
    body = _assert_envelope(
        auth_client.post(f"{API}/carts/{cart.pk}/items/", payload, format="json"),
        400,
        "validation_error",
    )
    assert field in body["error"]["fields"]


def test_add_someone_elses_item_by_id_is_a_400(
    auth_client: APIClient, cart: Cart, other_user: Any
) -> None:
    theirs, _ = services.item_upsert(owner=other_user, data=_product(1))
    body = _assert_envelope(
        auth_client.post(
            f"{API}/carts/{cart.pk}/items/", {"item_id": str(theirs.pk)}, format="json"
        ),
        400,
        "validation_error",
    )
    assert "item_id" in body["error"]["fields"]
    assert not CartItem.objects.exists()


@override_settings(MAX_ITEMS_PER_CART=1)
def test_full_cart_is_a_409(auth_client: APIClient, cart: Cart) -> None:
    url = f"{API}/carts/{cart.pk}/items/"
    assert auth_client.post(url, _product(1), format="json").status_code == 201
    _assert_envelope(auth_client.post(url, _product(2), format="json"), 409, "limit_exceeded")


# ------------------------------------------------------------------------------------ items


def test_items_create_201_then_200_for_the_same_product(
    auth_client: APIClient, user: Any, cart: Cart
) -> None:
    payload = {
        "url": "https://shop.example.com/p/1?utm_source=ig&size=M",
        "title": "Shirt",
        "brand": "Knit",
        "price": "29.90",
        "currency": "eur",
        "availability": "http://schema.org/InStock",
        "image_url": "https://cdn.example.com/shirt.png",
        "sku": "S-1",
        "gtin": "4006381333931",
        "mpn": "M1",
        "variant": {"size": "M", "colour": "navy"},
        "cart_ids": [str(cart.pk)],
        "owner": "someone-else",
        "store_domain": "evil.example.com",
    }
    first = auth_client.post(f"{API}/items/", payload, format="json")
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["canonical_url"] == "https://shop.example.com/p/1?size=M"
    assert body["store_domain"] == "shop.example.com"
    assert (body["price"], body["currency"], body["availability"]) == ("29.90", "EUR", "InStock")
    assert body["variant"] == {"size": "M", "colour": "navy"}
    assert body["cart_ids"] == [str(cart.pk)]
    assert Item.objects.get(pk=body["id"]).owner_id == user.pk

    second = auth_client.post(
        f"{API}/items/",
        {"url": "https://shop.example.com/p/1?size=M&fbclid=x", "price": "25"},
        format="json",
    )
    assert second.status_code == 200
    assert second.json()["id"] == body["id"]
    assert second.json()["price"] == "25.00"
    assert second.json()["title"] == "Shirt"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "no url"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "data:text/html,<b>x</b>"}, "url"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "https://example.com/" + "a" * 2048}, "url"),
        ({"url": "https:///nohost"}, "url"),
        ({"url": "https://exa mple.com/"}, "url"),
        ({"url": "https://user:pw@example.com/"}, "url"),
        ({"url": "https://a.example.com/", "price": "-1"}, "price"),
        ({"url": "https://a.example.com/", "price": "1000000000"}, "price"),
        ({"url": "https://a.example.com/", "price": "1.999"}, "price"),
        ({"url": "https://a.example.com/", "price": "NaN"}, "price"),
        ({"url": "https://a.example.com/", "price": "12 dollars"}, "price"),
        ({"url": "https://a.example.com/", "currency": "XYZ"}, "currency"),
        ({"url": "https://a.example.com/", "currency": "dollars"}, "currency"),
        ({"url": "https://a.example.com/", "availability": "maybe"}, "availability"),
        ({"url": "https://a.example.com/", "image_url": "javascript:x"}, "image_url"),
        ({"url": "https://a.example.com/", "title": "t" * 501}, "title"),
        ({"url": "https://a.example.com/", "brand": "b" * 201}, "brand"),
        ({"url": "https://a.example.com/", "description": "d" * 5001}, "description"),
        ({"url": "https://a.example.com/", "sku": "s" * 101}, "sku"),
        ({"url": "https://a.example.com/", "variant": ["M"]}, "variant"),
        ({"url": "https://a.example.com/", "variant": {"$where": "1"}}, "variant"),
        ({"url": "https://a.example.com/", "variant": {str(n): "x" for n in range(21)}}, "variant"),
        ({"url": "https://a.example.com/", "cart_ids": "abc"}, "cart_ids"),
        ({"url": "https://a.example.com/", "cart_ids": [str(ObjectId())]}, "cart_ids"),
    ],
)
def test_items_create_bad_input_is_a_400_envelope(
    auth_client: APIClient, payload: dict[str, Any], field: str
) -> None:
    body = _assert_envelope(
        auth_client.post(f"{API}/items/", payload, format="json"), 400, "validation_error"
    )
    assert field in body["error"]["fields"], body
    assert not Item.objects.exists()


def test_items_list_filters_search_and_ordering(
    auth_client: APIClient, user: Any, cart: Cart
) -> None:
    a, _ = services.item_upsert(
        owner=user, data=_product(1, title="Red kettle", price="30"), cart_ids=[cart.pk]
    )
    b, _ = services.item_upsert(owner=user, data=_product(2, title="Blue mug", price="5"))
    c, _ = services.item_upsert(
        owner=user,
        data={"url": "https://other.example.org/x", "title": "Kettle descaler", "price": "9"},
    )

    def ids(query: str) -> list[str]:
        response = auth_client.get(f"{API}/items/{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids("") == [str(c.pk), str(b.pk), str(a.pk)]
    assert ids("?ordering=price") == [str(b.pk), str(c.pk), str(a.pk)]
    assert ids("?ordering=-price") == [str(a.pk), str(c.pk), str(b.pk)]
    assert ids("?ordering=title") == [str(b.pk), str(c.pk), str(a.pk)]
    assert ids("?search=KETTLE&ordering=added_at") == [str(a.pk), str(c.pk)]
    assert ids("?store=other.example.org") == [str(c.pk)]
    assert ids(f"?cart={cart.pk}") == [str(a.pk)]
    assert ids("?availability=InStock") == []
    assert ids("?limit=1&offset=1") == [str(b.pk)]


@pytest.mark.parametrize(
    "query",
    [
        "?search=" + "x" * 101,
        "?ordering=owner",
        "?availability=Sometimes",
        "?cart=nope",
        f"?cart={ObjectId()}",
        "?store=" + "s" * 300,
    ],
)
def test_items_list_bad_filters_are_400(auth_client: APIClient, query: str) -> None:
    _assert_envelope(auth_client.get(f"{API}/items/{query}"), 400, "validation_error")


def test_item_detail_patch_delete(auth_client: APIClient, user: Any, item_in_cart: Item) -> None:
    url = f"{API}/items/{item_in_cart.pk}/"
    body = auth_client.get(url).json()
    assert body["title"] == "Kettle"
    assert len(body["cart_ids"]) == 1

    patched = auth_client.patch(
        url,
        {"title": "Kettle XL", "price": None, "owner": "x", "canonical_url": "y"},
        format="json",
    )
    assert patched.status_code == 200
    assert patched.json()["title"] == "Kettle XL"
    assert patched.json()["price"] is None
    item_in_cart.refresh_from_db()
    assert item_in_cart.owner_id == user.pk
    assert item_in_cart.canonical_url.startswith("https://shop.example.com/products/kettle")

    bad = auth_client.patch(url, {"currency": "ABC"}, format="json")
    _assert_envelope(bad, 400, "validation_error")
    _assert_envelope(
        auth_client.patch(url, {"url": "javascript:x"}, format="json"), 400, "validation_error"
    )

    assert auth_client.delete(url).status_code == 204
    assert not CartItem.objects.exists()
    _assert_envelope(auth_client.get(url), 404, "not_found")


def test_put_item_carts_moves_copies_and_validates(
    auth_client: APIClient, user: Any, cart: Cart, item_in_cart: Item, other_user: Any
) -> None:
    other = services.cart_create(owner=user, name="Other")
    url = f"{API}/items/{item_in_cart.pk}/carts/"
    response = auth_client.put(url, {"cart_ids": [str(other.pk), str(cart.pk)]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"cart_ids": [str(other.pk), str(cart.pk)]}
    response = auth_client.put(url, {"cart_ids": [str(other.pk)]}, format="json")
    assert response.json() == {"cart_ids": [str(other.pk)]}

    foreign = services.cart_create(owner=other_user, name="Theirs")
    for cart_ids in ([str(foreign.pk)], [str(ObjectId())], ["junk"]):
        body = _assert_envelope(
            auth_client.put(url, {"cart_ids": cart_ids}, format="json"), 400, "validation_error"
        )
        assert body["error"]["fields"] == {"cart_ids": ["One or more carts do not exist."]}
    body = _assert_envelope(auth_client.put(url, {}, format="json"), 400, "validation_error")
    assert "cart_ids" in body["error"]["fields"]
    _assert_envelope(auth_client.put(url, {"cart_ids": "x"}, format="json"), 400,
                     "validation_error")  # fmt: skip
    assert set(CartItem.objects.values_list("cart_id", flat=True)) == {other.pk}


@override_settings(MAX_ITEMS_PER_CART=1)
def test_put_item_carts_failing_halfway_changes_nothing(
    auth_client: APIClient, user: Any, cart: Cart, item_in_cart: Item
) -> None:
    roomy = services.cart_create(owner=user, name="Roomy")
    full = services.cart_create(owner=user, name="Full")
    services.item_upsert(owner=user, data=_product(5), cart_ids=[full.pk])
    response = auth_client.put(
        f"{API}/items/{item_in_cart.pk}/carts/",
        {"cart_ids": [str(roomy.pk), str(full.pk)]},
        format="json",
    )
    _assert_envelope(response, 409, "limit_exceeded")
    assert set(CartItem.objects.filter(item=item_in_cart).values_list("cart_id", flat=True)) == {
        cart.pk
    }


def test_write_rate_limit_answers_429(auth_client: APIClient) -> None:
    with override_settings(RATE_WRITE_USER="2/h"):
        for n in range(2):
            assert (
                auth_client.post(f"{API}/carts/", {"name": f"C{n}"}, format="json").status_code
                == 201
            )
        response = auth_client.post(f"{API}/carts/", {"name": "C3"}, format="json")
    _assert_envelope(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1
