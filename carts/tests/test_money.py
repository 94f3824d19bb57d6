"""Prices in every ISO 4217 currency: validation, storage, the API, totals, mail, shared page
and the migration of data stored with two decimals."""

from __future__ import annotations

import importlib
from decimal import Decimal
from typing import Any

import pytest
from bson import Decimal128, ObjectId
from django.apps import apps
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from carts import services
from carts.models import Cart, CartItem, Item

pytestmark = pytest.mark.django_db

API = "/api/v1"
NBSP = "\u00a0"


def _post_item(client: APIClient, **fields: Any) -> Any:
    return client.post(f"{API}/items/", {"url": "https://shop.example.com/p/1", **fields}, "json")


def _price_refused(response: Any) -> list[str]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"]["code"] == "validation_error"
    assert set(body["error"]["fields"]) == {"price"}
    return list(body["error"]["fields"]["price"])


# --------------------------------------------------------------------------- saving and reading


@pytest.mark.parametrize(
    ("price", "currency", "shown"),
    [("12.345", "KWD", "12.345"), ("1500", "JPY", "1500"), (1500, "JPY", "1500"),
     ("9.9", "USD", "9.90"), ("25", None, "25.00")],
)  # fmt: skip
def test_a_price_saves_and_comes_back_with_its_currencys_decimals(
    auth_client: APIClient, price: Any, currency: str | None, shown: str
) -> None:
    created = _post_item(auth_client, price=price, currency=currency)
    assert created.status_code == 201, created.content
    assert (created.json()["price"], created.json()["currency"]) == (shown, currency)
    item = Item.objects.get(pk=ObjectId(created.json()["id"]))
    assert format(item.price, "f") == shown  # stored at the exponent, not as "1500.00"
    again = auth_client.get(f"{API}/items/{item.pk}/")
    assert again.json()["price"] == shown


@pytest.mark.parametrize(
    ("price", "currency"),
    [("1500.5", "JPY"), ("9.999", "USD"), ("12.3456", "KWD"), ("1.999", None)],
)
def test_more_decimals_than_the_currency_has_is_a_400_on_price(
    auth_client: APIClient, price: str, currency: str | None
) -> None:
    messages = _price_refused(_post_item(auth_client, price=price, currency=currency))
    assert "decimal places" in messages[0] or "whole amount" in messages[0]
    assert not Item.objects.exists()


def test_a_price_sent_alone_must_fit_the_items_currency(auth_client: APIClient) -> None:
    item_id = _post_item(auth_client, price="1500", currency="JPY").json()["id"]
    url = f"{API}/items/{item_id}/"
    _price_refused(auth_client.patch(url, {"price": "1500.5"}, format="json"))
    assert auth_client.patch(url, {"price": "1600"}, format="json").json()["price"] == "1600"
    # Saving the same page again (an upsert) with a price alone checks the stored currency too.
    _price_refused(_post_item(auth_client, price="1600.25"))
    assert Item.objects.get().price == Decimal("1600")


def test_a_new_currency_rechecks_and_rewrites_the_price(auth_client: APIClient) -> None:
    item_id = _post_item(auth_client, price="9.99", currency="USD").json()["id"]
    url = f"{API}/items/{item_id}/"
    _price_refused(auth_client.patch(url, {"currency": "JPY"}, format="json"))
    back = auth_client.patch(url, {"price": "10", "currency": "USD"}, format="json")
    assert back.status_code == 200
    moved = auth_client.patch(url, {"currency": "JPY"}, format="json")
    assert (moved.json()["price"], moved.json()["currency"]) == ("10", "JPY")
    assert format(Item.objects.get().price, "f") == "10"
    kwd = auth_client.patch(url, {"currency": "KWD"}, format="json")
    assert kwd.json()["price"] == "10.000"


def test_cart_items_and_snapshots_keep_their_currency_decimals(
    auth_client: APIClient, cart: Cart
) -> None:
    added = auth_client.post(
        f"{API}/carts/{cart.pk}/items/",
        {"url": "https://shop.example.jp/tea", "title": "Tea", "price": "1500", "currency": "JPY"},
        format="json",
    )
    assert added.status_code == 201, added.content
    assert (added.json()["price"], added.json()["price_at_add"]) == ("1500", "1500")
    listed = auth_client.get(f"{API}/carts/{cart.pk}/items/").json()["results"]
    assert [(row["price"], row["price_at_add"], row["currency_at_add"]) for row in listed] == [
        ("1500", "1500", "JPY")
    ]
    everything = auth_client.get(f"{API}/items/").json()["results"]
    assert [row["price"] for row in everything] == ["1500"]


# ------------------------------------------------------------------------------------ totals


def test_totals_respect_each_currencys_exponent(auth_client: APIClient, user: Any) -> None:
    cart = services.cart_create(owner=user, name="World")
    rows = [
        ("https://a.example.jp/1", "1500", "JPY", 3),
        ("https://b.example.kw/1", "12.345", "KWD", 2),
        ("https://c.example.com/1", "19.99", "USD", 3),
        ("https://d.example.com/1", "0.5", None, 1),
    ]
    for url, price, currency, quantity in rows:
        item, _ = services.item_upsert(
            owner=user, data={"url": url, "price": price, "currency": currency}
        )
        services.item_add_to_cart(cart=cart, item=item, quantity=quantity)
    expected = [
        {"currency": "JPY", "amount": "4500"},
        {"currency": "KWD", "amount": "24.690"},
        {"currency": "USD", "amount": "59.97"},
        {"currency": None, "amount": "0.50"},
    ]
    assert auth_client.get(f"{API}/carts/{cart.pk}/").json()["totals"] == expected
    listed = auth_client.get(f"{API}/carts/").json()["results"]
    assert [c["totals"] for c in listed if c["name"] == "World"] == [expected]


# --------------------------------------------------------------------- for people: mail, page


@pytest.fixture
def yen_cart(user: Any, cart: Cart) -> Cart:
    for url, title, price, currency, quantity in (
        ("https://shop.example.jp/tea", "Tea", "1500", "JPY", 2),
        ("https://shop.example.kw/dates", "Dates", "12.345", "KWD", 1),
    ):
        item, _ = services.item_upsert(
            owner=user, data={"url": url, "title": title, "price": price, "currency": currency}
        )
        services.item_add_to_cart(cart=cart, item=item, quantity=quantity)
    return cart


def test_share_email_formats_prices_for_people(
    auth_client: APIClient, yen_cart: Cart, worker: Any
) -> None:
    response = auth_client.post(
        f"{API}/carts/{yen_cart.pk}/share/", {"emails": ["friend@example.com"]}, format="json"
    )
    assert response.status_code == 202, response.content
    [message] = worker.wait_for_messages(to="friend@example.com")
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert f"- Tea x2: 1{NBSP}500{NBSP}JPY" in text
    assert f"- Dates: 12.345{NBSP}KWD" in text
    assert f"Total: 3{NBSP}000{NBSP}JPY + 12.345{NBSP}KWD" in text
    assert f"1{NBSP}500{NBSP}JPY" in html
    assert f"Total: 3{NBSP}000{NBSP}JPY + 12.345{NBSP}KWD" in html
    assert "1500.00" not in text + html


def test_shared_page_formats_prices_for_people_and_json_stays_plain(
    api_client: APIClient, yen_cart: Cart
) -> None:
    token, _ = services.cart_share_link_create(cart=yen_cart)
    body = api_client.get(f"{API}/shared/{token}/").json()
    assert [(row["price"], row["currency"]) for row in body["items"]] == [
        ("1500", "JPY"),
        ("12.345", "KWD"),
    ]
    assert body["totals"] == [
        {"currency": "JPY", "amount": "3000"},
        {"currency": "KWD", "amount": "12.345"},
    ]
    page = api_client.get(f"{API}/shared/{token}/", HTTP_ACCEPT="text/html").content.decode()
    assert f"1{NBSP}500{NBSP}JPY &times; 2" in page
    assert f"12.345{NBSP}KWD" in page
    assert f"total 3{NBSP}000{NBSP}JPY + 12.345{NBSP}KWD" in page


# --------------------------------------------------------------------------------- migration


def test_migration_rewrites_prices_stored_with_two_decimals(user: Any, cart: Cart) -> None:
    """Documents written the old way (``Decimal128("1500.00")``) end at their exponent."""
    migration = importlib.import_module("carts.migrations.0002_prices_at_currency_exponent")
    items = connection.get_collection(Item._meta.db_table)
    memberships = connection.get_collection(CartItem._meta.db_table)
    now = timezone.now()
    old = {
        "yen": ("https://a.example.jp/1", "1500.00", "JPY"),
        "odd_yen": ("https://a.example.jp/2", "1500.50", "JPY"),
        "euro": ("https://a.example.com/3", "19.90", "EUR"),
        "nothing": ("https://a.example.com/4", "3.00", None),
    }
    ids = {}
    for key, (url, price, currency) in old.items():
        item, _ = services.item_upsert(owner=user, data={"url": url})
        services.item_add_to_cart(cart=cart, item=item)
        ids[key] = item.pk
        items.update_one(
            {"_id": item.pk},
            {"$set": {"price": Decimal128(price), "currency": currency, "updated_at": now}},
        )
        memberships.update_one(
            {"item_id": item.pk},
            {"$set": {"price_at_add": Decimal128(price), "currency_at_add": currency}},
        )
    kwd, _ = services.item_upsert(
        owner=user, data={"url": "https://b.example.kw/1", "price": "12.345", "currency": "KWD"}
    )

    with connection.schema_editor() as editor:
        migration.rewrite_prices(apps, editor)
        migration.rewrite_prices(apps, editor)  # idempotent

    stored = {key: format(Item.objects.get(pk=pk).price, "f") for key, pk in ids.items()}
    assert stored == {"yen": "1500", "odd_yen": "1501", "euro": "19.90", "nothing": "3.00"}
    snapshots = {
        key: format(CartItem.objects.get(item_id=pk).price_at_add, "f") for key, pk in ids.items()
    }
    assert snapshots == stored
    assert format(Item.objects.get(pk=kwd.pk).price, "f") == "12.345"
    assert items.find_one({"_id": ids["yen"]})["price"] == Decimal128("1500")
