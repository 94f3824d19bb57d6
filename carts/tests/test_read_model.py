"""``Item.cart_ids``, the read model of an item's memberships, stays exact.

Every write of a membership writes it in the same transaction (``carts.services.memberships``),
migration 0005 fills it for older data, and the hot cart read renders it from the raw
documents (``carts.serializers.cart_item_to_api``) exactly as the serializer would.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import connection, connections
from django.test import override_settings

from accounts.models import User
from buyhive.exceptions import LimitExceeded, NotFound
from carts import selectors, services
from carts.apis.common import _render_cart_items
from carts.models import Cart, CartItem, Item

pytestmark = pytest.mark.django_db

API = "/api/v1"


def _product(n: int, **extra: Any) -> dict[str, Any]:
    return {"url": f"https://read-model.example.com/p/{n}", "title": f"Thing {n}", **extra}


def _assert_read_model(owner: Any) -> None:
    """Each of ``owner``'s items lists exactly its memberships' carts, in added order, and is
    marked orphaned exactly when it is in no cart."""
    rows = sorted(
        CartItem.objects.filter(owner=owner).values_list("added_at", "pk", "item_id", "cart_id")
    )
    expected: dict[Any, list[Any]] = {}
    for _added_at, _pk, item_id, cart_id in rows:
        expected.setdefault(item_id, []).append(cart_id)
    for item in Item.objects.filter(owner=owner):
        assert item.cart_ids == expected.get(item.pk, []), item
        if item.cart_ids:
            assert item.orphaned_at is None, item


def test_every_membership_write_keeps_the_read_model(user: User) -> None:
    a, b, c = (services.cart_create(owner=user, name=name) for name in ("A", "B", "C"))

    one, _ = services.item_upsert(owner=user, data=_product(1), cart_ids=[a.pk, b.pk])
    assert one.cart_ids == [a.pk, b.pk]
    _assert_read_model(user)

    again, created = services.item_upsert(owner=user, data=_product(1), cart_ids=[c.pk])
    assert not created and again.cart_ids == [a.pk, b.pk, c.pk]
    _assert_read_model(user)

    two, _ms, _created, item_created = services.cart_add_item(cart=a, data=_product(2))
    assert item_created and two.cart_ids == [a.pk]
    _assert_read_model(user)

    services.cart_add_item(cart=b, item_id=str(two.pk), quantity=2)
    services.cart_add_item(cart=b, item_id=str(two.pk), note="again: no new membership")
    _assert_read_model(user)
    assert Item.objects.get(pk=two.pk).cart_ids == [a.pk, b.pk]

    three, _ = services.item_upsert(owner=user, data=_product(3))
    assert Item.objects.get(pk=three.pk).orphaned_at is not None
    services.item_add_to_cart(cart=c, item=three)
    _assert_read_model(user)

    services.item_set_carts(item=Item.objects.get(pk=one.pk), cart_ids=[c.pk, a.pk])  # b left
    assert Item.objects.get(pk=one.pk).cart_ids == [a.pk, c.pk]  # kept ones keep their place
    _assert_read_model(user)

    services.item_set_carts(item=Item.objects.get(pk=two.pk), cart_ids=[])
    assert Item.objects.get(pk=two.pk).orphaned_at is not None
    _assert_read_model(user)

    services.item_remove_from_cart(cart=c, item=Item.objects.get(pk=three.pk))
    assert Item.objects.get(pk=three.pk).orphaned_at is not None
    _assert_read_model(user)
    with pytest.raises(NotFound):
        services.item_remove_from_cart(cart=c, item=Item.objects.get(pk=three.pk))

    services.item_set_carts(item=Item.objects.get(pk=three.pk), cart_ids=[a.pk, c.pk])
    services.cart_delete(cart=a)
    assert Item.objects.get(pk=one.pk).cart_ids == [c.pk]
    assert Item.objects.get(pk=three.pk).cart_ids == [c.pk]
    _assert_read_model(user)

    services.cart_delete(cart=c)
    for pk in (one.pk, three.pk):
        assert Item.objects.get(pk=pk).orphaned_at is not None
    _assert_read_model(user)
    services.item_delete(item=Item.objects.get(pk=one.pk))
    _assert_read_model(user)


def test_a_stale_item_is_checked_against_the_database(user: User) -> None:
    """The services start from the ``cart_ids`` the view read; when the item changed since,
    the conditional write misses and the transaction reads the current list instead."""
    a, b, c = (services.cart_create(owner=user, name=name) for name in ("A", "B", "C"))
    item, _ = services.item_upsert(owner=user, data=_product(1), cart_ids=[a.pk])
    stale = Item.objects.get(pk=item.pk)
    services.item_set_carts(item=Item.objects.get(pk=item.pk), cart_ids=[a.pk, b.pk])

    services.item_set_carts(item=stale, cart_ids=[c.pk])  # stale says: in a only
    assert sorted(CartItem.objects.filter(item_id=item.pk).values_list("cart_id", flat=True)) == [
        c.pk
    ]
    _assert_read_model(user)

    stale = Item.objects.get(pk=item.pk)  # in c
    services.item_add_to_cart(cart=b, item=Item.objects.get(pk=item.pk))
    services.item_remove_from_cart(cart=b, item=stale)  # stale does not know about b
    _assert_read_model(user)
    assert Item.objects.get(pk=item.pk).cart_ids == [c.pk]


@override_settings(MAX_ITEMS_PER_CART=1)
def test_a_failed_move_leaves_memberships_and_read_model_as_they_were(user: User) -> None:
    a, full = services.cart_create(owner=user, name="A"), services.cart_create(owner=user, name="F")
    services.item_upsert(owner=user, data=_product(9), cart_ids=[full.pk])
    item, _ = services.item_upsert(owner=user, data=_product(1), cart_ids=[a.pk])
    with pytest.raises(LimitExceeded):
        services.item_set_carts(item=Item.objects.get(pk=item.pk), cart_ids=[full.pk])
    assert Item.objects.get(pk=item.pk).cart_ids == [a.pk]
    _assert_read_model(user)


def test_concurrent_moves_of_one_item_keep_the_read_model(user: User) -> None:
    carts = [services.cart_create(owner=user, name=f"Cart {n}") for n in range(4)]
    item, _ = services.item_upsert(owner=user, data=_product(1), cart_ids=[carts[0].pk])
    targets = [[carts[1].pk], [carts[2].pk, carts[3].pk], [carts[0].pk, carts[3].pk], []]
    barrier = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def move(target: list[Any]) -> None:
        try:
            fresh = Item.objects.get(pk=item.pk)
            barrier.wait()
            services.item_set_carts(item=fresh, cart_ids=target)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=move, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    final = Item.objects.get(pk=item.pk).cart_ids
    assert sorted(map(str, final)) in [sorted(map(str, target)) for target in targets]
    _assert_read_model(user)


def test_cart_read_answers_what_the_serializer_answers(
    auth_client: Any, user: User, other_user: User
) -> None:
    """The raw rendering of ``GET carts/{id}/items/`` against ``CartItemOutputSerializer``
    over every kind of value: currencies with 0, 2 and 3 decimals, no price, no currency,
    variants, extraction details, notes, several carts."""
    cart = services.cart_create(owner=user, name="Mixed")
    other_cart = services.cart_create(owner=user, name="Other")
    products = [
        _product(1, price="1500", currency="JPY", variant={"size": "M", "colour": "blue"}),
        _product(2, price="12.345", currency="KWD", brand="Brand", availability="InStock"),
        _product(3, price="19.90", currency="USD", description="Two\nlines"),
        _product(4),
        _product(5, price="7.50", image_url="https://cdn.example.com/5.jpg", sku="S-5"),
    ]
    for n, data in enumerate(products):
        item, _ms, _c, _ic = services.cart_add_item(cart=cart, data=data, quantity=n + 1)
        if n % 2:
            services.item_add_to_cart(cart=other_cart, item=item, note=f"note {n}")
    Item.objects.filter(url=products[0]["url"]).update(
        extraction={"provenance": {"title": {"source": "json-ld"}}, "checks": {"page": 0.91}}
    )
    services.cart_add_item(cart=cart, item_id=str(Item.objects.get(url=products[1]["url"]).pk))

    response = auth_client.get(f"{API}/carts/{cart.pk}/items/")
    assert response.status_code == 200
    fast = response.json()["results"]
    rows = selectors.membership_rows(user=user, cart=cart)
    slow = _render_cart_items(user, rows)
    assert len(fast) == len(products)
    assert fast == [dict(row) for row in slow]
    assert [tuple(body) for body in fast] == [tuple(row) for row in slow]  # key order too
    assert any(len(body["cart_ids"]) == 2 for body in fast)

    empty = services.cart_create(owner=user, name="Empty")
    assert auth_client.get(f"{API}/carts/{empty.pk}/items/").json()["results"] == []
    theirs = services.cart_create(owner=other_user, name="Theirs")
    services.cart_add_item(cart=theirs, data=_product(7))
    assert auth_client.get(f"{API}/carts/{theirs.pk}/items/").status_code == 404


def test_migration_fills_the_read_model_from_the_memberships(user: User) -> None:
    a, b = services.cart_create(owner=user, name="A"), services.cart_create(owner=user, name="B")
    one, _ = services.item_upsert(owner=user, data=_product(1), cart_ids=[b.pk, a.pk])
    two, _ = services.item_upsert(owner=user, data=_product(2), cart_ids=[a.pk])
    lonely, _ = services.item_upsert(owner=user, data=_product(3))
    raw = connection.get_collection(Item._meta.db_table)
    raw.update_many({}, {"$unset": {"cart_ids": ""}})  # as before the field existed
    raw.update_one({"_id": two.pk}, {"$set": {"cart_ids": [b.pk]}})  # and a wrong one

    migration = importlib.import_module("carts.migrations.0005_item_cart_ids")

    class Editor:
        connection = connections["default"]

    migration.fill_cart_ids(django_apps, Editor())
    assert Item.objects.get(pk=one.pk).cart_ids == [b.pk, a.pk]
    assert Item.objects.get(pk=two.pk).cart_ids == [a.pk]
    assert Item.objects.get(pk=lonely.pk).cart_ids == []
    _assert_read_model(user)
    migration.fill_cart_ids(django_apps, Editor())  # idempotent
    _assert_read_model(user)


def test_cart_delete_of_a_cart_no_item_is_in_writes_no_item(user: User) -> None:
    cart = services.cart_create(owner=user, name="Nothing")
    services.cart_delete(cart=cart)
    assert not Cart.objects.filter(pk=cart.pk).exists()
