"""The per-cart read model (``carts.read_model``, ``carts.cart_view``): after every kind of
write, each cart's ``GET carts/{id}/items/`` answers exactly what the serializer makes of the
memberships and items as they are, byte for byte; and so does ``GET carts/``, whose counts
and totals are kept on the carts (``carts.cart_list``).

Each check reads every cart first, so that every cart keeps a view when the next write
comes: a write that forgot to drop a view it changed would then be served stale and fail
here. The reference answer is built the slow way: model instances through
``CartItemOutputSerializer`` and DRF's paginated response, rendered by its ``JSONRenderer``.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections
from django.test import override_settings
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import UserFactory
from buyhive.transactions import run_in_transaction
from carts import cart_list, cart_view, read_model, services
from carts.apis.common import _render_cart_items, _render_carts
from carts.models import Cart, CartItem, Item
from carts.services.memberships import items_refresh_cart_ids
from carts.tests.mongo_commands import Recorder
from carts.watch import services as watch
from conftest import bearer_client_for, otp_admin_client_for

pytestmark = pytest.mark.django_db

API = "/api/v1"


def _reference(cart: Cart) -> bytes:
    """The answer of ``GET carts/{id}/items/`` (default page) without the read model."""
    memberships = list(CartItem.objects.filter(cart_id=cart.pk).order_by("added_at", "pk"))
    items = {item.pk: item for item in Item.objects.filter(pk__in=[m.item_id for m in memberships])}
    page = [(m, items[m.item_id]) for m in memberships[:50]]
    results = _render_cart_items(cart.owner_id, page)
    next_link = (
        f"http://testserver{API}/carts/{cart.pk}/items/?limit=50&offset=50"
        if len(memberships) > 50
        else None
    )
    body = {"count": len(memberships), "next": next_link, "previous": None, "results": results}
    return bytes(JSONRenderer().render(body))


def _answer(client: APIClient, cart: Cart) -> bytes:
    response = client.get(f"{API}/carts/{cart.pk}/items/")
    assert response.status_code == 200, response.content
    return bytes(response.content)


def _views_current(owner: User) -> int:
    """How many of ``owner``'s carts keep a current view."""
    carts = connections["default"].get_collection(Cart._meta.db_table)
    return sum(
        read_model.current_entries(cart, version=cart_view.RENDER_VERSION) is not None
        for cart in carts.find({"owner_id": owner.pk})
    )


def _list_reference(owner: User) -> bytes:
    """The answer of ``GET carts/`` (default page) without the kept summaries: model
    instances, the summaries computed, ``CartOutputSerializer``."""
    carts = list(Cart.objects.filter(owner=owner).order_by("created_at", "pk"))
    body = {
        "count": len(carts),
        "next": None,
        "previous": None,
        "results": _render_carts(owner, carts),
    }
    return bytes(JSONRenderer().render(body))


def _summaries_current(owner: User) -> int:
    """How many of ``owner``'s carts keep a current summary."""
    carts = connections["default"].get_collection(Cart._meta.db_table)
    return sum(
        read_model.current_summary(cart, version=cart_list.SUMMARY_VERSION) is not None
        for cart in carts.find({"owner_id": owner.pk})
    )


def _check(client: APIClient, owner: User) -> None:
    """Every cart of ``owner`` answers its reference, then keeps its view (read twice); the
    list of carts too, then keeps every summary."""
    carts = list(Cart.objects.filter(owner=owner))
    for cart in carts:
        expected = _reference(cart)
        assert _answer(client, cart) == expected, cart.name  # built, or kept from before
        assert _answer(client, cart) == expected, cart.name  # kept
    assert _views_current(owner) == len(carts)
    expected = _list_reference(owner)
    for _kept in (False, True):
        response = client.get(f"{API}/carts/")
        assert response.status_code == 200, response.content
        assert response.content == expected
    assert _summaries_current(owner) == len(carts)


def _product(n: int, **extra: Any) -> dict[str, Any]:
    return {"url": f"https://view.example.com/p/{n}", "title": f"Thing {n}", **extra}


def test_every_kind_of_write_keeps_every_cart_answer_exact(
    auth_client: APIClient, user: User
) -> None:
    a, b, c = (services.cart_create(owner=user, name=name) for name in ("A", "B", "C"))
    _check(auth_client, user)

    one, _ = services.item_upsert(
        owner=user, data=_product(1, price="9.99", currency="EUR"), cart_ids=[a.pk, b.pk]
    )
    _check(auth_client, user)
    # The same product saved again into C: its fields and its cart_ids change in A and B.
    services.item_upsert(owner=user, data=_product(1, title="Renamed"), cart_ids=[c.pk])
    _check(auth_client, user)
    # Saved again without carts (the extension's re-save): its fields change everywhere.
    services.item_upsert(owner=user, data=_product(1, title="Again", price="8.50"))
    _check(auth_client, user)

    two, _ms, _created, _new = services.cart_add_item(cart=a, data=_product(2))
    _check(auth_client, user)
    services.cart_add_item(cart=b, item_id=str(two.pk), quantity=3)  # A shows it in B now
    _check(auth_client, user)
    services.cart_add_item(cart=b, item_id=str(two.pk), note="a note")  # the membership only
    _check(auth_client, user)

    three, _ = services.item_upsert(owner=user, data=_product(3))  # in no cart
    services.item_add_to_cart(cart=c, item=Item.objects.get(pk=three.pk))
    _check(auth_client, user)

    services.item_remove_from_cart(cart=a, item=Item.objects.get(pk=one.pk))  # B, C show it
    _check(auth_client, user)
    services.item_set_carts(item=Item.objects.get(pk=one.pk), cart_ids=[c.pk, a.pk])
    _check(auth_client, user)

    services.item_update(item=Item.objects.get(pk=two.pk), data={"title": "Edited"}, by_owner=True)
    _check(auth_client, user)

    # The price watch moves what the owner sees of a product.
    item = Item.objects.get(pk=one.pk)
    seen = watch.view_of(item)
    moved = watch.View(price=Decimal("7.25"), currency="EUR", availability=seen.availability)
    watch.observation_record(item=item, view=moved, kind="edit", before=seen)
    assert Item.objects.get(pk=one.pk).price == Decimal("7.25")
    _check(auth_client, user)

    services.cart_update(cart=Cart.objects.get(pk=b.pk), name="B renamed")
    _check(auth_client, user)

    services.item_delete(item=Item.objects.get(pk=three.pk))
    _check(auth_client, user)
    services.cart_delete(cart=Cart.objects.get(pk=c.pk))  # one and two leave C everywhere
    _check(auth_client, user)

    # A bulk writer of memberships (``import_legacy``) recomputes the items' cart_ids.
    def bulk() -> None:
        CartItem.objects.bulk_create(
            [CartItem(cart_id=b.pk, item_id=one.pk, owner_id=user.pk, added_at=timezone.now())]
        )
        items_refresh_cart_ids(item_ids=[one.pk])

    run_in_transaction(bulk, label="test_bulk")
    _check(auth_client, user)


def test_an_add_from_a_stale_item_drops_the_carts_it_had_not_seen(
    auth_client: APIClient, user: User
) -> None:
    """The item as the caller read it lists fewer carts than it is in now: the add finds the
    current ones in its transaction, and drops the views of those the read missed (their
    answer shows the item's cart_ids)."""
    a, b, c = (services.cart_create(owner=user, name=name) for name in ("A", "B", "C"))
    item, _ = services.item_upsert(owner=user, data=_product(1), cart_ids=[a.pk])
    stale = Item.objects.get(pk=item.pk)  # in A only
    services.item_add_to_cart(cart=c, item=Item.objects.get(pk=item.pk))
    _check(auth_client, user)  # every cart keeps a view: C's shows cart_ids [A, C]
    services.item_add_to_cart(cart=b, item=stale)
    _check(auth_client, user)  # C's answer now shows [A, C, B]


def test_the_admin_membership_inline_keeps_the_answers_exact(
    auth_client: APIClient, user: User
) -> None:
    """Staff change a membership in the cart's inline: it goes through the services, so
    the cart's view is dropped with the change."""
    staff = UserFactory(email="staff@example.com", password="pw-staff-1234", staff=True)
    staff_client = otp_admin_client_for(staff)
    cart = services.cart_create(owner=user, name="A")
    item, _ = services.item_upsert(owner=user, data=_product(9), cart_ids=[cart.pk])
    _check(auth_client, user)
    membership = CartItem.objects.get(item_id=item.pk)
    response = staff_client.post(
        f"/admin/carts/cart/{cart.pk}/change/",
        {
            "name": cart.name,
            "description": cart.description,
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "1",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-id": str(membership.pk),
            "memberships-0-cart": str(cart.pk),
            "memberships-0-item": str(item.pk),
            "memberships-0-quantity": "4",
            "memberships-0-note": "by staff",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert CartItem.objects.get(pk=membership.pk).quantity == 4
    _check(auth_client, user)


def test_a_view_built_before_a_write_is_never_served(auth_client: APIClient, user: User) -> None:
    """The race the counter closes: a read takes the cart's counter and builds the view, a
    write commits, then the read tries to keep what it built: the counter moved, so nothing
    is stored, and the next read builds the view again and shows the write."""
    cart = services.cart_create(owner=user, name="Race")
    services.cart_add_item(cart=cart, data=_product(1))
    carts = connections["default"].get_collection(Cart._meta.db_table)
    as_read = carts.find_one({"_id": cart.pk})
    built = cart_view.build_entries(cart=as_read)
    services.cart_add_item(cart=cart, data=_product(2))
    stored = read_model.store_entries(cart=as_read, entries=built, version=cart_view.RENDER_VERSION)
    now = carts.find_one({"_id": cart.pk})
    assert not stored
    assert read_model.VIEW_FIELD not in now
    assert read_model.current_entries(now, version=cart_view.RENDER_VERSION) is None
    body = auth_client.get(f"{API}/carts/{cart.pk}/items/").json()
    assert [result["title"] for result in body["results"]] == ["Thing 1", "Thing 2"]


def test_a_view_built_before_a_write_does_not_replace_a_current_one(user: User) -> None:
    """A slow reader that read the counter before a write stores nothing, even when a later
    reader has already kept the current view: the current one stays, and stays current."""
    cart = services.cart_create(owner=user, name="Slow")
    services.cart_add_item(cart=cart, data=_product(1))
    carts = connections["default"].get_collection(Cart._meta.db_table)
    slow = carts.find_one({"_id": cart.pk})
    slow_built = cart_view.build_entries(cart=slow)
    services.cart_add_item(cart=cart, data=_product(2))
    fast = carts.find_one({"_id": cart.pk})
    fast_built = cart_view.build_entries(cart=fast)
    version = cart_view.RENDER_VERSION
    assert read_model.store_entries(cart=fast, entries=fast_built, version=version)
    assert not read_model.store_entries(cart=slow, entries=slow_built, version=version)
    kept = read_model.current_entries(carts.find_one({"_id": cart.pk}), version=version)
    assert kept == fast_built and len(kept) == 2


def test_a_view_of_another_render_version_is_rebuilt(
    auth_client: APIClient, user: User, commands: Recorder
) -> None:
    cart = services.cart_create(owner=user, name="Old")
    services.cart_add_item(cart=cart, data=_product(1))
    expected = _answer(auth_client, cart)
    carts = connections["default"].get_collection(Cart._meta.db_table)
    field = read_model.VIEW_FIELD
    carts.update_one(
        {"_id": cart.pk}, {"$set": {f"{field}.version": "older", f"{field}.entries": [b"{}"]}}
    )
    commands.clear()
    assert _answer(auth_client, cart) == expected
    assert [(c.name, c.collection) for c in commands.commands] == [
        ("find", "carts_cart"),
        ("find", "carts_cartitem"),
        ("find", "carts_item"),
        ("update", "carts_cart"),
    ]
    assert carts.find_one({"_id": cart.pk})[field]["version"] == cart_view.RENDER_VERSION


def test_a_kept_view_is_never_anyone_elses(
    auth_client: APIClient, other_client: APIClient, user: User
) -> None:
    cart = services.cart_create(owner=user, name="Mine")
    services.cart_add_item(cart=cart, data=_product(1))
    _answer(auth_client, cart)  # the view is kept now
    missing = other_client.get(f"{API}/carts/{cart.pk}/items/")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert b"Thing 1" not in missing.content


def test_a_deleted_cart_or_account_leaves_no_view(
    user: User, other_user: User, password: str
) -> None:
    """A view holds the owner's item data: it goes with its cart, and with the account."""
    from accounts.user_data import user_delete

    kept = services.cart_create(owner=user, name="Kept")
    gone = services.cart_create(owner=user, name="Gone")
    theirs = services.cart_create(owner=other_user, name="Theirs")
    for cart, client in ((kept, bearer_client_for(user)), (gone, bearer_client_for(user))):
        services.cart_add_item(cart=cart, data=_product(1))
        _answer(client, cart)
    services.cart_add_item(cart=theirs, data=_product(1))
    _answer(bearer_client_for(other_user), theirs)
    carts = connections["default"].get_collection(Cart._meta.db_table)

    def with_views() -> set[Any]:
        return {doc["_id"] for doc in carts.find({read_model.VIEW_FIELD: {"$exists": True}})}

    assert with_views() == {kept.pk, gone.pk, theirs.pk}
    services.cart_delete(cart=gone)
    assert with_views() == {kept.pk, theirs.pk}
    user_delete(user=user, password=password)
    assert with_views() == {theirs.pk}


@override_settings(MAX_ITEMS_PER_CART=100)
def test_reads_racing_writes_end_on_the_exact_answer(user: User) -> None:
    """Readers build and keep views while a writer adds and moves items; when the writes
    stop, every cart answers exactly its reference.

    One writer: writers racing each other on one cart conflict and retry
    (``test_read_model``, ``test_services``), which is not what is tested here.
    """
    a, b = services.cart_create(owner=user, name="A"), services.cart_create(owner=user, name="B")
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        client = bearer_client_for(user)
        try:
            while not stop.is_set():
                for cart in (a, b):
                    assert client.get(f"{API}/carts/{cart.pk}/items/").status_code == 200
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    def writer(start: int) -> None:
        try:
            for n in range(start, start + 16):
                item, *_rest = services.cart_add_item(cart=a, data=_product(n))
                if n % 2:
                    services.item_set_carts(
                        item=Item.objects.get(pk=item.pk), cart_ids=[b.pk, a.pk]
                    )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    readers = [threading.Thread(target=reader) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(100,))]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()
    assert not errors, errors
    client = bearer_client_for(user)
    for cart in (a, b):
        assert _answer(client, cart) == _reference(cart)
    assert CartItem.objects.filter(cart_id=a.pk).count() == 16
