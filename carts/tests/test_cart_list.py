"""``GET carts/`` from the cart documents (``carts.cart_list``): the rendering equals the
serializer's, and a kept summary is served only when it is current.

That every kind of write makes the kept summaries out of date is checked with the cart views
in ``test_cart_view.py`` (``_check`` reads the list after each write, twice); the commands
each list sends, in ``test_budgets.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connections
from pymongo.collection import Collection
from pymongo.errors import OperationFailure
from rest_framework.test import APIClient

from accounts.models import User
from carts import cart_list, read_model, selectors, services
from carts.models import Cart
from carts.serializers import CartOutputSerializer
from carts.tests.mongo_commands import Recorder

pytestmark = pytest.mark.django_db

API = "/api/v1"


def _documents(owner: User) -> list[dict[str, Any]]:
    return cart_list.cart_documents(user=owner)


def _raw_carts() -> Collection[dict[str, Any]]:
    return connections["default"].get_collection(Cart._meta.db_table)


def _counts(client: APIClient) -> dict[str, int]:
    response = client.get(f"{API}/carts/")
    assert response.status_code == 200, response.content
    return {cart["name"]: cart["item_count"] for cart in response.json()["results"]}


def test_each_cart_renders_as_the_serializer_does(user: User) -> None:
    """Every kind of value a cart answer holds: a description, a share link, no items,
    several currencies (two decimals, none, three), an item without a price or without a
    currency, a quantity above one."""
    plain = services.cart_create(owner=user, name="Plain")
    full = services.cart_create(owner=user, name="Full", description="Gifts for May")
    services.cart_share_link_create(cart=full)
    for n, (price, currency) in enumerate(
        [("19.99", "USD"), ("1500", "JPY"), ("2.125", "KWD"), (None, "EUR"), ("7", None)]
    ):
        data = {"url": f"https://list.example.com/p/{n}", "title": f"Thing {n}"}
        data |= {"price": price} if price else {}
        data |= {"currency": currency} if currency else {}
        services.cart_add_item(cart=full, data=data, quantity=3 if n == 0 else None)
    documents = _documents(user)
    assert [doc["name"] for doc in documents] == ["Plain", "Full"]
    summaries = cart_list.summaries(user=user, carts=documents)
    for document, summary in zip(documents, summaries, strict=True):
        cart = Cart.objects.get(pk=document["_id"])
        cart.summary = summary  # type: ignore[attr-defined]
        expected = dict(CartOutputSerializer(cart).data)
        assert cart_list.cart_to_api(document, summary, lambda _totals: None) == expected
    assert summaries[0].item_count == 0 and plain.pk == documents[0]["_id"]
    assert summaries[1].item_count == 5
    assert summaries[1].totals_list() == [
        {"currency": "JPY", "amount": "1500"},
        {"currency": "KWD", "amount": "2.125"},
        {"currency": "USD", "amount": "59.97"},
        {"currency": None, "amount": "7.00"},
    ]
    # Read back from the kept summaries, every answer is the same.
    documents = _documents(user)
    kept = [read_model.current_summary(doc, version=cart_list.SUMMARY_VERSION) for doc in documents]
    assert [(s.item_count, s.totals) for s in summaries] == kept


def test_a_summary_computed_before_a_write_is_not_kept(user: User) -> None:
    cart = services.cart_create(owner=user, name="Racing")
    (document,) = _documents(user)
    computed = selectors.summaries_by_cart_id(owner=user.pk, cart_ids=[cart.pk])[cart.pk]
    services.cart_add_item(cart=cart, data={"url": "https://list.example.com/late"})
    read_model.store_summaries(
        [(document, computed.item_count, computed.totals)], version=cart_list.SUMMARY_VERSION
    )
    (now,) = _documents(user)
    assert read_model.SUMMARY_FIELD not in now  # the write moved the counter first
    assert read_model.current_summary(now, version=cart_list.SUMMARY_VERSION) is None


def test_a_summary_of_another_version_or_counter_is_computed_again(
    auth_client: APIClient, user: User
) -> None:
    cart = services.cart_create(owner=user, name="Kept")
    services.cart_add_item(cart=cart, data={"url": "https://list.example.com/1"})
    assert _counts(auth_client) == {"Kept": 1}
    (document,) = _documents(user)
    kept = document[read_model.SUMMARY_FIELD]
    assert kept["version"] == cart_list.SUMMARY_VERSION and kept["count"] == 1
    for wrong in ({"version": "an older one"}, {"gen": -1}, {"totals": "not a list"}):
        _raw_carts().update_one(
            {"_id": cart.pk}, {"$set": {read_model.SUMMARY_FIELD: kept | wrong | {"count": 99}}}
        )
        assert _counts(auth_client) == {"Kept": 1}, wrong
        (again,) = _documents(user)
        assert again[read_model.SUMMARY_FIELD]["count"] == 1


def test_a_summary_that_cannot_be_kept_is_still_answered(
    auth_client: APIClient, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write conflict on the keeping write: the answer is right, nothing is kept, and the
    next list computes again."""
    cart = services.cart_create(owner=user, name="Busy")
    services.cart_add_item(cart=cart, data={"url": "https://list.example.com/1"})
    real = Collection.bulk_write

    def conflicting(self: Collection[Any], *args: Any, **kwargs: Any) -> Any:
        if self.name == Cart._meta.db_table:
            raise OperationFailure("Write conflict", code=112)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Collection, "bulk_write", conflicting)
    assert _counts(auth_client) == {"Busy": 1}
    (document,) = _documents(user)
    assert read_model.SUMMARY_FIELD not in document
    monkeypatch.setattr(Collection, "bulk_write", real)
    assert _counts(auth_client) == {"Busy": 1}
    (document,) = _documents(user)
    assert document[read_model.SUMMARY_FIELD]["count"] == 1


def test_the_list_shows_only_the_users_carts(
    auth_client: APIClient, user: User, other_user: User
) -> None:
    services.cart_create(owner=user, name="Mine")
    theirs = services.cart_create(owner=other_user, name="Theirs")
    services.cart_add_item(cart=theirs, data={"url": "https://list.example.com/theirs"})
    assert _counts(auth_client) == {"Mine": 0}
    # A document of another owner handed to the summaries is refused, never summarised.
    with pytest.raises(ValueError, match="another owner"):
        cart_list.summaries(user=user, carts=_documents(other_user))
    (their_cart,) = _documents(other_user)
    assert read_model.SUMMARY_FIELD not in their_cart


def test_the_list_does_not_ship_the_carts_kept_views(
    auth_client: APIClient, user: User, commands: Recorder
) -> None:
    """Each cart keeps its items' answer rendered on its document (``read_model.VIEW_FIELD``):
    the list's one ``find`` projects it out, so the database does not send it."""
    cart = services.cart_create(owner=user, name="Viewed")
    services.cart_add_item(cart=cart, data={"url": "https://list.example.com/v", "title": "V"})
    assert auth_client.get(f"{API}/carts/{cart.pk}/items/").status_code == 200
    assert read_model.VIEW_FIELD in _raw_carts().find_one({"_id": cart.pk})
    assert auth_client.get(f"{API}/carts/").status_code == 200  # the summary kept
    commands.clear()
    response = auth_client.get(f"{API}/carts/")
    assert response.status_code == 200
    assert response.json()["results"][0]["item_count"] == 1
    finds = [c for c in commands.commands if (c.name, c.collection) == ("find", "carts_cart")]
    assert len(finds) == 1 and finds[0].body.get("projection") == {read_model.VIEW_FIELD: 0}
    assert [doc["_id"] for doc in _documents(user)] == [cart.pk]
    assert all(read_model.VIEW_FIELD not in doc for doc in _documents(user))
