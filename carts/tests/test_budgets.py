"""Database commands per request: the budgets of issue 16, watched with a command listener.

Each test makes the request once to warm what a real client has warm (the user in the auth
cache, ``accounts.auth_cache``), then counts every command Django sends to MongoDB during the
measured request and asserts the exact sequence, so that a command added anywhere (in the
authentication, a selector, a service, the rendering) fails here. A ``startTransaction`` is
not a command of its own (it rides on the transaction's first command); ``commitTransaction``
is one. Reads through the ORM are ``aggregate`` commands (a ``count`` too); the hot cart read
sends ``find`` commands.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import User
from carts import services
from carts.models import Cart, CartItem, Item
from carts.tests.mongo_commands import Recorder

pytestmark = pytest.mark.django_db

API = "/api/v1"


def _sent(recorder: Recorder) -> list[tuple[str, str | None]]:
    return [(command.name, command.collection) for command in recorder.commands]


def _fill(cart: Cart, user: User, count: int, *, tag: str = "") -> list[Item]:
    """``count`` items in ``cart``, inserted in bulk (the services' behaviour is not what is
    measured here, and 50 transactions would only slow the test), with their read model
    (``Item.cart_ids``) as the services keep it."""
    now = timezone.now()
    items = Item.objects.bulk_create(
        [
            Item(
                owner=user,
                url=f"https://shop.example.com/{tag}{cart.pk}/{n}",
                canonical_url=f"https://shop.example.com/{tag}{cart.pk}/{n}",
                store_domain="shop.example.com",
                title=f"Item {n}",
                price="2.50",
                currency="EUR",
                cart_ids=[cart.pk],
                created_at=now,
                updated_at=now,
            )
            for n in range(count)
        ]
    )
    CartItem.objects.bulk_create(
        [
            CartItem(cart=cart, item=item, owner=user, added_at=now, price_at_add=item.price)
            for item in items
        ]
    )
    return items


def _warm(client: Any) -> None:
    assert client.get(f"{API}/auth/me/").status_code == 200


def test_cart_read_of_50_items_sends_one_command(
    auth_client: Any, user: User, commands: Recorder
) -> None:
    """``GET carts/{id}/items/?limit=50`` on a 50-item cart, authentication included (issue
    16's budget: 2). With the cart's view current (``carts.read_model``), one command:
    ``find carts_cart``, the cart document by ``_id``: its owner (404 for anyone else), the
    counter its writes move and its kept view, current at that counter: the count and every
    item, rendered in added order.

    The first read after a write builds the view: that find, the memberships and the items
    (plain finds, each answered in its first batch: no ``getMore``, no ``killCursors``),
    and the conditional update of the cart that keeps it. The user comes from the auth
    cache: no ``accounts_user`` read. No ``$lookup`` anywhere.
    """
    cart = services.cart_create(owner=user, name="Fifty")
    _fill(cart, user, 50)
    _warm(auth_client)
    commands.clear()
    first = auth_client.get(f"{API}/carts/{cart.pk}/items/?limit=50")
    assert first.status_code == 200
    assert _sent(commands) == [
        ("find", "carts_cart"),
        ("find", "carts_cartitem"),
        ("find", "carts_item"),
        ("update", "carts_cart"),
    ]
    assert "$lookup" not in repr([command.body for command in commands.commands])
    commands.clear()
    response = auth_client.get(f"{API}/carts/{cart.pk}/items/?limit=50")
    assert response.status_code == 200
    assert _sent(commands) == [("find", "carts_cart")]
    assert response.content == first.content
    body = response.json()
    assert body["count"] == 50 and len(body["results"]) == 50 and body["next"] is None
    assert {tuple(result["cart_ids"]) for result in body["results"]} == {(str(cart.pk),)}


def test_cart_read_pages_are_slices_of_the_view(
    auth_client: Any, user: User, commands: Recorder
) -> None:
    cart = services.cart_create(owner=user, name="Big")
    _fill(cart, user, 12)
    _warm(auth_client)
    whole = auth_client.get(f"{API}/carts/{cart.pk}/items/").json()["results"]
    commands.clear()
    response = auth_client.get(f"{API}/carts/{cart.pk}/items/?limit=5&offset=5")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 12 and body["results"] == whole[5:10]
    assert body["next"] and body["previous"]
    assert _sent(commands) == [("find", "carts_cart")]  # no count

    last = auth_client.get(f"{API}/carts/{cart.pk}/items/?limit=5&offset=10").json()
    assert last["count"] == 12 and last["results"] == whole[10:] and last["next"] is None
    past = auth_client.get(f"{API}/carts/{cart.pk}/items/?limit=5&offset=40").json()
    assert past["count"] == 12 and past["results"] == []


def test_cart_read_of_an_empty_or_foreign_cart(
    auth_client: Any, user: User, other_user: User, commands: Recorder
) -> None:
    empty = services.cart_create(owner=user, name="Empty")
    foreign = services.cart_create(owner=other_user, name="Theirs")
    _fill(foreign, other_user, 3)
    foreign_empty = services.cart_create(owner=other_user, name="Theirs too")
    response = auth_client.get(f"{API}/carts/{empty.pk}/items/")
    assert response.status_code == 200
    assert response.json()["count"] == 0
    for cart in (foreign, foreign_empty):
        missing = auth_client.get(f"{API}/carts/{cart.pk}/items/")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
    assert auth_client.get(f"{API}/carts/not-an-id/items/").status_code == 404


def test_cart_list_of_20_carts_sends_one_command_once_kept(
    auth_client: Any, user: User, commands: Recorder
) -> None:
    """``GET carts/`` with 20 carts, their counts and totals, authentication included (issue
    16's budget: 3). With every cart's kept summary current (``carts.cart_list``):

    1. ``find carts_cart``: all the user's carts (at most ``MAX_CARTS_PER_USER``) on
       ``(owner, created_at)``, with their summaries, paged in memory (no count command).

    The first list after a write computes the summaries of the carts it changed: that find,
    ``aggregate carts_cartitem`` (their memberships, ``cart_id $in``), ``aggregate
    carts_item`` (the prices of their items, ``_id $in``) and the ``update`` that keeps them.
    """
    carts = [services.cart_create(owner=user, name=f"Cart {n}") for n in range(20)]
    _fill(carts[0], user, 3)
    _fill(carts[5], user, 2, tag="b")
    _warm(auth_client)
    commands.clear()
    first = auth_client.get(f"{API}/carts/")
    assert first.status_code == 200
    assert _sent(commands) == [
        ("find", "carts_cart"),
        ("aggregate", "carts_cartitem"),
        ("aggregate", "carts_item"),
        ("update", "carts_cart"),
    ]
    commands.clear()
    response = auth_client.get(f"{API}/carts/")
    assert response.status_code == 200
    assert _sent(commands) == [("find", "carts_cart")]
    assert response.content == first.content
    body = response.json()
    assert body["count"] == 20
    counts = {cart["name"]: cart["item_count"] for cart in body["results"]}
    assert counts["Cart 0"] == 3 and counts["Cart 5"] == 2 and counts["Cart 1"] == 0
    assert body["results"][0]["totals"] == [{"currency": "EUR", "amount": "7.50"}]
    paged = auth_client.get(f"{API}/carts/?limit=5&offset=15").json()
    assert paged["count"] == 20
    assert [cart["name"] for cart in paged["results"]] == [f"Cart {n}" for n in range(15, 20)]

    # A write to one cart: the next list computes that cart's summary alone.
    services.cart_add_item(cart=carts[7], data={"url": "https://shop.example.com/x", "price": "4"})
    commands.clear()
    after = auth_client.get(f"{API}/carts/").json()
    assert [name for name, _collection in _sent(commands)] == [
        "find",
        "aggregate",
        "aggregate",
        "update",
    ]
    memberships_read = commands.commands[1].body["pipeline"][0]["$match"]["cart_id"]["$in"]
    assert list(memberships_read) == [carts[7].pk]
    assert {c["name"]: c["item_count"] for c in after["results"]}["Cart 7"] == 1
    commands.clear()
    assert auth_client.get(f"{API}/carts/").json() == after
    assert _sent(commands) == [("find", "carts_cart")]


def test_adding_a_new_item_sends_six_commands(
    auth_client: Any, user: User, commands: Recorder
) -> None:
    """``POST carts/{id}/items/`` with a new product, authentication included:

    1. ``aggregate carts_cart``: the cart, scoped to the user (404 otherwise);
    2. ``insert carts_item``: the item, inserted without a lookup first (a product saved
       before fails on the unique index and the transaction is retried with the lookup),
       already un-orphaned and with this cart as its ``cart_ids`` (no second write of it);
    3. ``update carts_cart``: ``updated_at``, the write that makes concurrent adds conflict;
    4. ``aggregate carts_cartitem``: the count for the cap;
    5. ``insert carts_cartitem``: the membership;
    6. ``commitTransaction``.

    The answer's ``cart_ids`` are the item's own: no read.
    """
    cart = services.cart_create(owner=user, name="Target")
    _warm(auth_client)
    commands.clear()
    response = auth_client.post(
        f"{API}/carts/{cart.pk}/items/",
        {"url": "https://budget.example.com/p/1", "price": "5.00", "currency": "EUR"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["cart_ids"] == [str(cart.pk)]
    assert _sent(commands) == [
        ("aggregate", "carts_cart"),
        ("insert", "carts_item"),
        ("update", "carts_cart"),
        ("aggregate", "carts_cartitem"),
        ("insert", "carts_cartitem"),
        ("commitTransaction", None),
    ]
    item = Item.objects.get(pk=response.json()["id"])
    assert item.orphaned_at is None
    assert item.cart_ids == [cart.pk]
    assert CartItem.objects.filter(cart_id=cart.pk).count() == 1


def test_adding_a_saved_item_sends_seven_commands(
    auth_client: Any, user: User, commands: Recorder
) -> None:
    """``POST carts/{id}/items/`` with ``item_id`` (an item in another cart), auth included:

    1. ``aggregate carts_cart``: the cart, scoped to the user;
    2. ``aggregate carts_item``: the item, scoped to the user, with its ``cart_ids``;
    3. ``update carts_cart``: ``updated_at``, the write that makes concurrent adds conflict;
    4. ``update carts_item``: ``cart_ids`` with this cart added, conditional on those read
       in 2 (no read of its memberships), ``orphaned_at`` cleared in the same write;
    5. ``aggregate carts_cartitem``: the count for the cap;
    6. ``insert carts_cartitem``: the membership;
    7. ``commitTransaction``.
    """
    first = services.cart_create(owner=user, name="First")
    second = services.cart_create(owner=user, name="Second")
    (item,) = _fill(first, user, 1)
    _warm(auth_client)
    commands.clear()
    response = auth_client.post(
        f"{API}/carts/{second.pk}/items/", {"item_id": str(item.pk)}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["cart_ids"] == [str(first.pk), str(second.pk)]
    assert _sent(commands) == [
        ("aggregate", "carts_cart"),
        ("aggregate", "carts_item"),
        ("update", "carts_cart"),
        ("update", "carts_item"),
        ("aggregate", "carts_cartitem"),
        ("insert", "carts_cartitem"),
        ("commitTransaction", None),
    ]
    assert Item.objects.get(pk=item.pk).cart_ids == [first.pk, second.pk]


def test_adding_a_product_saved_before_updates_it_through_the_retry(
    auth_client: Any, user: User
) -> None:
    """The insert-first path: the same product again is the same item, updated, in both
    carts, and nothing is left of the failed insert."""
    first = services.cart_create(owner=user, name="First")
    second = services.cart_create(owner=user, name="Second")
    url = "https://budget.example.com/p/2"
    one = auth_client.post(
        f"{API}/carts/{first.pk}/items/", {"url": url, "title": "Old"}, format="json"
    )
    assert one.status_code == 201
    two = auth_client.post(
        f"{API}/carts/{second.pk}/items/", {"url": url, "title": "New"}, format="json"
    )
    assert two.status_code == 201, two.content
    assert two.json()["id"] == one.json()["id"]
    assert sorted(two.json()["cart_ids"]) == sorted([str(first.pk), str(second.pk)])
    assert Item.objects.filter(owner=user).count() == 1
    assert Item.objects.get(owner=user).title == "New"
    again = auth_client.post(
        f"{API}/carts/{second.pk}/items/", {"url": url, "quantity": 3}, format="json"
    )
    assert again.status_code == 200
    assert again.json()["quantity"] == 3


@override_settings(MAX_ITEMS_PER_CART=2)
def test_adding_a_new_item_to_a_full_cart_is_409_and_saves_nothing(
    auth_client: Any, user: User
) -> None:
    cart = services.cart_create(owner=user, name="Full")
    _fill(cart, user, 2)
    response = auth_client.post(
        f"{API}/carts/{cart.pk}/items/", {"url": "https://budget.example.com/p/3"}, format="json"
    )
    assert response.status_code == 409
    assert not Item.objects.filter(url="https://budget.example.com/p/3").exists()


def test_moving_an_item_sends_eight_commands(
    auth_client: Any, user: User, commands: Recorder
) -> None:
    """``PUT items/{id}/carts/`` moving an item from one cart to another, auth included:

    1. ``aggregate carts_item``: the item, scoped to the user, with its ``cart_ids``;
    2. ``aggregate carts_cart``: the target carts (``_id $in``), owner checked;
    3. ``update carts_item``: its new ``cart_ids`` (and ``orphaned_at``), conditional on the
       ``cart_ids`` read in 1 (no read of its memberships: a stale read matches nothing and
       is re-read in the transaction); also what makes concurrent moves of it conflict;
    4. ``delete carts_cartitem``: the memberships left;
    5. ``update carts_cart``: ``updated_at`` of every cart concerned, left and joined, in one
       write (for the joined ones, the write that serialises concurrent adds);
    6. ``aggregate carts_cartitem``: the count of the joined cart, for the cap;
    7. ``insert carts_cartitem``: the new membership;
    8. ``commitTransaction``.
    """
    source = services.cart_create(owner=user, name="From")
    target = services.cart_create(owner=user, name="To")
    (item,) = _fill(source, user, 1)
    Item.objects.filter(pk=item.pk).update(orphaned_at=None)
    _warm(auth_client)
    commands.clear()
    response = auth_client.put(
        f"{API}/items/{item.pk}/carts/", {"cart_ids": [str(target.pk)]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert _sent(commands) == [
        ("aggregate", "carts_item"),
        ("aggregate", "carts_cart"),
        ("update", "carts_item"),
        ("delete", "carts_cartitem"),
        ("update", "carts_cart"),
        ("aggregate", "carts_cartitem"),
        ("insert", "carts_cartitem"),
        ("commitTransaction", None),
    ]
    assert list(CartItem.objects.filter(item_id=item.pk).values_list("cart_id", flat=True)) == [
        target.pk
    ]
    assert Item.objects.get(pk=item.pk).cart_ids == [target.pk]
    assert response.json()["cart_ids"] == [str(target.pk)]


def test_moving_an_orphaned_item_into_a_cart_clears_its_orphan_mark(
    auth_client: Any, user: User
) -> None:
    target = services.cart_create(owner=user, name="Home")
    item, _created = services.item_upsert(owner=user, data={"url": "https://o.example.com/1"})
    assert Item.objects.get(pk=item.pk).orphaned_at is not None
    response = auth_client.put(
        f"{API}/items/{item.pk}/carts/", {"cart_ids": [str(target.pk)]}, format="json"
    )
    assert response.status_code == 200
    assert Item.objects.get(pk=item.pk).orphaned_at is None
