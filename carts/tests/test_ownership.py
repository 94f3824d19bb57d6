"""User B against each of user A's objects, on every verb: 404 (or 400 for ids in a body).

After the whole matrix, A's carts, items and memberships are exactly as they were.
"""

from __future__ import annotations

from typing import Any

import pytest

from buyhive.mail.models import OutboundMail
from carts import services
from carts.models import Cart, CartItem, Item

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def alice_data(user: Any) -> dict[str, Any]:
    cart = services.cart_create(owner=user, name="Alice's cart")
    item, _ = services.item_upsert(
        owner=user,
        data={"url": "https://shop.example.com/a", "title": "A", "price": "5", "currency": "USD"},
        cart_ids=[cart.pk],
    )
    services.cart_share_link_create(cart=cart)
    return {"cart": cart, "item": item}


@pytest.fixture
def bob_data(other_user: Any) -> dict[str, Any]:
    cart = services.cart_create(owner=other_user, name="Bob's cart")
    item, _ = services.item_upsert(
        owner=other_user, data={"url": "https://shop.example.com/b", "title": "B"}
    )
    return {"cart": cart, "item": item}


def _snapshot() -> tuple[list[dict[str, Any]], ...]:
    return (
        list(Cart.objects.order_by("pk").values()),
        list(Item.objects.order_by("pk").values()),
        list(CartItem.objects.order_by("pk").values()),
    )


def _matrix(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], int]]:
    cart, item = a["cart"].pk, a["item"].pk
    own_cart, own_item = b["cart"].pk, b["item"].pk
    return [
        # A's cart, every verb
        ("get", f"/carts/{cart}/", {}, 404),
        ("patch", f"/carts/{cart}/", {"name": "Mine now"}, 404),
        ("delete", f"/carts/{cart}/", {}, 404),
        ("get", f"/carts/{cart}/items/", {}, 404),
        ("post", f"/carts/{cart}/items/", {"item_id": str(own_item)}, 404),
        ("post", f"/carts/{cart}/items/", {"url": "https://x.example.com/"}, 404),
        ("delete", f"/carts/{cart}/items/{item}/", {}, 404),
        ("delete", f"/carts/{cart}/items/{own_item}/", {}, 404),
        ("post", f"/carts/{cart}/share/", {"emails": ["eve@example.com"]}, 404),
        ("post", f"/carts/{cart}/share-link/", {}, 404),
        ("delete", f"/carts/{cart}/share-link/", {}, 404),
        # A's item, every verb
        ("get", f"/items/{item}/", {}, 404),
        ("patch", f"/items/{item}/", {"title": "Mine now"}, 404),
        ("delete", f"/items/{item}/", {}, 404),
        ("put", f"/items/{item}/carts/", {"cart_ids": [str(own_cart)]}, 404),
        ("delete", f"/carts/{own_cart}/items/{item}/", {}, 404),
        # A's ids inside B's own requests: 400 on the field, nothing written
        ("put", f"/items/{own_item}/carts/", {"cart_ids": [str(cart)]}, 400),
        ("post", f"/carts/{own_cart}/items/", {"item_id": str(item)}, 400),
        ("post", "/items/", {"url": "https://x.example.com/", "cart_ids": [str(cart)]}, 400),
        ("get", f"/items/?cart={cart}", {}, 400),
    ]


def test_user_b_cannot_touch_any_of_user_a_objects(
    other_client: Any, alice_data: dict[str, Any], bob_data: dict[str, Any]
) -> None:
    before = _snapshot()
    for method, path, payload, status in _matrix(alice_data, bob_data):
        response = getattr(other_client, method)(f"{API}{path}", payload, format="json")
        assert response.status_code == status, (method, path, response.content)
        body = response.json()
        expected = "not_found" if status == 404 else "validation_error"
        assert body["error"]["code"] == expected, (method, path, body)
        # Nothing about A leaks into the answer.
        assert "Alice" not in response.content.decode()
    after = _snapshot()
    # B's own rows may not change either (the refused writes wrote nothing).
    assert after == before
    assert not OutboundMail.objects.exists()


def test_user_b_lists_see_nothing_of_user_a(
    other_client: Any, alice_data: dict[str, Any], bob_data: dict[str, Any]
) -> None:
    carts = other_client.get(f"{API}/carts/").json()
    assert [row["id"] for row in carts["results"]] == [str(bob_data["cart"].pk)]
    items = other_client.get(f"{API}/items/").json()
    assert [row["id"] for row in items["results"]] == [str(bob_data["item"].pk)]


def test_user_a_still_reaches_everything(
    auth_client: Any, alice_data: dict[str, Any], bob_data: dict[str, Any]
) -> None:
    cart, item = alice_data["cart"].pk, alice_data["item"].pk
    assert auth_client.get(f"{API}/carts/{cart}/").status_code == 200
    assert auth_client.get(f"{API}/carts/{cart}/items/").json()["count"] == 1
    assert auth_client.get(f"{API}/items/{item}/").status_code == 200
    # And A cannot reach B's either.
    assert auth_client.get(f"{API}/carts/{bob_data['cart'].pk}/").status_code == 404
    assert auth_client.get(f"{API}/items/{bob_data['item'].pk}/").status_code == 404
