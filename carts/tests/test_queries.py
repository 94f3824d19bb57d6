"""What a cart read sends to MongoDB, watched with a pymongo command listener.

The ``commands`` fixture (``carts/tests/conftest.py``) reconnects Django's client with a
listener; see ``carts/tests/mongo_commands.py`` for why and how.

For every command on the carts collections during a cart read, the test asserts:

* it is a read the server can plan on an index: an ``aggregate`` (the ORM's) or a ``find``
  (the hot cart read's, ``carts.cart_view``: the cart, which keeps its view, by ``_id``, and
  when the view is out of date the memberships and the items it is built from);
* no ``$lookup`` anywhere in the pipeline (no join over the items collection);
* the filter (a pipeline's leading ``$match``, a find's ``filter``) is made only of equality
  or ``$in`` conditions;
* one of the filtered fields leads an index of that collection (read back from MongoDB), so
  the server walks an index range, not the collection;
* items are only read by ``_id $in`` (the answer's ids), and no read returns more documents
  than the answer holds;
* the server, asked to ``explain`` the very same command, reports no collection scan and
  examines no more documents than the answer holds (SecantusDB plans only single-field
  filters on an index, see ``carts.selectors``; mongod reports the same shape);

and that the number and shape of the commands is the same with 50 and with 500 other items
stored (plus the user's own items that are in other carts).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bson import ObjectId
from django.db import connection
from django.utils import timezone

from accounts.models import User
from carts import services
from carts.models import Cart, CartItem, Item
from carts.read_model import drop_views
from carts.tests.mongo_commands import Command, Recorder

pytestmark = pytest.mark.django_db

API = "/api/v1"
CART_COLLECTIONS = {"carts_cart", "carts_item", "carts_cartitem"}


def _walk_stages(pipeline: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for stage in pipeline:
        yield stage
        for value in stage.values():
            if isinstance(value, dict):
                for sub in value.values():
                    if isinstance(sub, list) and all(isinstance(s, dict) for s in sub):
                        yield from _walk_stages(sub)


def _conditions(match: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, operator) pairs of a $match made of a conjunction."""
    pairs: list[tuple[str, str]] = []
    for key, value in match.items():
        if key == "$and":
            for part in value:
                pairs.extend(_conditions(part))
        elif key.startswith("$"):
            pairs.append((key, key))  # $expr, $or...: not a plain indexed filter
        elif isinstance(value, dict) and any(k.startswith("$") for k in value):
            pairs.extend((key, operator) for operator in value)
        else:
            pairs.append((key, "$eq"))
    return pairs


def _leading_index_keys(collection: str) -> set[str]:
    info = connection.get_collection(collection).index_information()
    return {index["key"][0][0] for index in info.values()}


#: The parts of a ``find`` command that decide its plan and answer (not its session or
#: batching), sent again inside ``explain``.
_FIND_OPTIONS = ("filter", "sort", "skip", "limit", "projection", "hint")


def _explain(command: Command) -> dict[str, Any]:
    if command.name == "find":
        explained: dict[str, Any] = {"find": command.collection}
        explained.update({k: command.body[k] for k in _FIND_OPTIONS if k in command.body})
    else:
        explained = {
            "aggregate": command.collection,
            "pipeline": command.body["pipeline"],
            "cursor": {},
        }
    return connection.database.command("explain", explained, verbosity="executionStats")


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key, inner
            yield from _walk(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _walk(inner)


def _assert_planned_on_an_index(command: Command, max_docs: int) -> None:
    explained = _explain(command)
    stages = [v for k, v in _walk(explained) if k == "stage"]
    assert stages, (command.collection, explained)  # an explain that says nothing proves nothing
    assert "COLLSCAN" not in stages, (command.collection, command.body["pipeline"][0], stages)
    examined = [v for k, v in _walk(explained) if k == "totalDocsExamined"]
    assert all(n <= max_docs for n in examined), (command.collection, examined)


def _filter_of(command: Command) -> dict[str, Any]:
    """The filter the server plans: a find's ``filter``, a pipeline's leading ``$match``."""
    assert command.name in {"aggregate", "find"}, command.body
    if command.name == "find":
        assert command.body.get("filter"), f"{command.collection} read unfiltered: {command.body}"
        return dict(command.body["filter"])
    pipeline = command.body["pipeline"]
    for stage in _walk_stages(pipeline):
        assert "$lookup" not in stage, f"join in {command.collection}: {stage}"
    assert "$match" in pipeline[0], f"{command.collection} not filtered first: {pipeline}"
    return dict(pipeline[0]["$match"])


def _assert_index_backed(command: Command) -> set[str]:
    conditions = _conditions(_filter_of(command))
    for field_name, operator in conditions:
        assert operator in {"$eq", "$in"}, (command.collection, field_name, operator)
    fields = {field_name for field_name, _operator in conditions}
    assert fields & _leading_index_keys(command.collection), (command.collection, fields)
    return fields


def _store_other_items(count: int, *, owner: User | None = None) -> None:
    """``count`` items of other users (or of ``owner``), inserted in bulk."""
    owners = [owner] if owner else []
    if not owners:
        stamp = ObjectId()
        User.objects.bulk_create(
            [User(email=f"other{stamp}{n}@example.com", password="!") for n in range(5)]
        )
        owners = list(User.objects.filter(email__startswith=f"other{stamp}"))
    now = timezone.now()
    Item.objects.bulk_create(
        [
            Item(
                owner=owners[n % len(owners)],
                url=f"https://bulk.example.com/{ObjectId()}",
                canonical_url=f"https://bulk.example.com/{ObjectId()}",
                store_domain="bulk.example.com",
                title=f"Bulk {n}",
                price="3.00",
                currency="USD",
                created_at=now,
                updated_at=now,
            )
            for n in range(count)
        ]
    )


@pytest.fixture
def twenty_item_cart(user: User) -> Cart:
    cart = services.cart_create(owner=user, name="Big")
    for n in range(20):
        services.item_upsert(
            owner=user,
            data={"url": f"https://shop.example.com/{n}", "price": "2.50", "currency": "EUR"},
            cart_ids=[cart.pk],
        )
    services.cart_create(owner=user, name="Small")
    return cart


def _read_cart(client: Any, cart: Cart, recorder: Recorder) -> list[Command]:
    # The user is then in the auth cache (accounts.auth_cache) for both reads compared.
    assert client.get(f"{API}/auth/me/").status_code == 200
    # Both ways of the cart read: building its view (as after a write), then the view kept.
    drop_views(cart_ids=[cart.pk])
    recorder.clear()
    for _read in ("built", "kept"):
        items = client.get(f"{API}/carts/{cart.pk}/items/?limit=50")
        assert items.status_code == 200
        assert items.json()["count"] == 20
    listing = client.get(f"{API}/carts/")
    assert listing.status_code == 200
    assert listing.json()["results"][0]["item_count"] == 20
    return list(recorder.commands)


def _shape(commands: list[Command]) -> list[tuple[str, str | None, tuple[str, ...]]]:
    shape = []
    for command in commands:
        stages: tuple[str, ...] = ()
        if command.name == "aggregate":
            stages = tuple(next(iter(stage)) for stage in command.body["pipeline"])
        elif command.name == "find":
            stages = tuple(k for k in _FIND_OPTIONS if k in command.body)
        shape.append((command.name, command.collection, stages))
    return shape


def test_cart_reads_are_index_backed_and_do_not_grow_with_the_database(
    auth_client: Any, user: User, twenty_item_cart: Cart, commands: Recorder
) -> None:
    _store_other_items(50)
    small_db = _read_cart(auth_client, twenty_item_cart, commands)

    _store_other_items(450)
    _store_other_items(100, owner=user)  # the user's own items, in no cart
    assert Item.objects.count() == 20 + 50 + 450 + 100
    big_db = _read_cart(auth_client, twenty_item_cart, commands)

    assert len(big_db) == len(small_db)
    assert _shape(big_db) == _shape(small_db)

    cart_commands = [
        c for c in big_db if c.collection in CART_COLLECTIONS and c.name in {"aggregate", "find"}
    ]
    assert cart_commands, "the listener saw no cart command"
    for command in cart_commands:
        fields = _assert_index_backed(command)
        if command.collection == "carts_item":
            assert "_id" in fields  # items are read by the answer's ids only
        if command.returned is not None:
            assert command.returned <= 20, (command.collection, command.returned)
        _assert_planned_on_an_index(command, max_docs=20)
    assert any(c.collection == "carts_item" for c in cart_commands)
    assert any(c.collection == "carts_cartitem" for c in cart_commands)


def test_items_filtered_by_cart_read_memberships_first(
    auth_client: Any, user: User, twenty_item_cart: Cart, commands: Recorder
) -> None:
    _store_other_items(200)
    commands.clear()
    response = auth_client.get(f"{API}/items/?cart={twenty_item_cart.pk}&ordering=price")
    assert response.status_code == 200
    assert response.json()["count"] == 20
    for command in commands.on(CART_COLLECTIONS):
        fields = _assert_index_backed(command)
        if command.collection == "carts_item":
            assert "_id" in fields
        _assert_planned_on_an_index(command, max_docs=20)


def test_item_set_carts_writes_only_the_item_memberships(
    user: User, twenty_item_cart: Cart, commands: Recorder
) -> None:
    """PUT items/{id}/carts/ filters on indexed fields too (no scan of memberships)."""
    other = Cart.objects.get(owner=user, name="Small")
    item = Item.objects.get(pk=CartItem.objects.filter(cart=twenty_item_cart).first().item_id)
    commands.clear()
    services.item_set_carts(item=item, cart_ids=[other.pk])
    reads = [c for c in commands.on(CART_COLLECTIONS) if c.name in {"aggregate", "find"}]
    assert reads
    for command in reads:
        _assert_index_backed(command)
        _assert_planned_on_an_index(command, max_docs=20)
