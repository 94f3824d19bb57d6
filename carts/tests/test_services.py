"""Writes: carts, items, memberships, caps, transactions, orphans and sharing links."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, connection, connections
from django.test import override_settings
from django.utils import timezone

from accounts.tests.factories import UserFactory
from buyhive.exceptions import LimitExceeded, NotFound, ValidationFailed
from buyhive.transactions import is_transient_transaction_error, run_in_transaction
from carts import services
from carts.models import Cart, CartItem, CartOwner, Item
from carts.tests.factories import CartFactory, CartItemFactory, ItemFactory

pytestmark = pytest.mark.django_db


def _memberships(item: Item) -> set[Any]:
    return set(CartItem.objects.filter(item_id=item.pk).values_list("cart_id", flat=True))


def _product(n: int) -> dict[str, Any]:
    return {"url": f"https://shop.example.com/p/{n}", "title": f"Thing {n}", "price": "5.00"}


# ------------------------------------------------------------------------------------ carts


def test_cart_create_stores_trimmed_name_and_description(user: Any) -> None:
    cart = services.cart_create(owner=user, name="  Birthday   ideas ", description=" for Sam ")
    assert cart.name == "Birthday ideas"
    assert cart.description == "for Sam"
    assert cart.owner_id == user.pk
    assert CartOwner.objects.filter(owner=user).exists()


def test_cart_create_refuses_a_duplicate_name_case_insensitively(user: Any) -> None:
    services.cart_create(owner=user, name="Gifts")
    with pytest.raises(ValidationFailed) as exc:
        services.cart_create(owner=user, name="GIFTS")
    assert "name" in exc.value.fields
    assert Cart.objects.filter(owner=user).count() == 1


def test_cart_names_are_per_owner(user: Any, other_user: Any) -> None:
    services.cart_create(owner=user, name="Gifts")
    services.cart_create(owner=other_user, name="Gifts")
    assert Cart.objects.count() == 2


@pytest.mark.parametrize("name", ["", "   ", "a" * 101, "line\nbreak", None])
def test_cart_create_refuses_bad_names(user: Any, name: Any) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.cart_create(owner=user, name=name)
    assert "name" in exc.value.fields


@override_settings(MAX_CARTS_PER_USER=2)
def test_cart_create_stops_at_the_cap(user: Any) -> None:
    services.cart_create(owner=user, name="One")
    services.cart_create(owner=user, name="Two")
    with pytest.raises(LimitExceeded):
        services.cart_create(owner=user, name="Three")
    assert Cart.objects.filter(owner=user).count() == 2


@override_settings(MAX_CARTS_PER_USER=3)
def test_concurrent_cart_creation_never_overshoots_the_cap(user: Any) -> None:
    services.cart_create(owner=user, name="Existing")
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def create(n: int) -> None:
        barrier.wait()
        try:
            services.cart_create(owner=user, name=f"Concurrent {n}")
            outcomes.append("created")
        except LimitExceeded:
            outcomes.append("limit")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["created", "created", "limit", "limit"]
    assert Cart.objects.filter(owner=user).count() == 3


def test_cart_update_renames_and_refuses_a_taken_name(user: Any) -> None:
    cart = services.cart_create(owner=user, name="Books")
    services.cart_create(owner=user, name="Games")
    services.cart_update(cart=cart, name="BOOKS")  # same name, new case: fine
    assert Cart.objects.get(pk=cart.pk).name == "BOOKS"
    with pytest.raises(ValidationFailed) as exc:
        services.cart_update(cart=cart, name="games")
    assert "name" in exc.value.fields
    services.cart_update(cart=cart, description="Read later")
    cart.refresh_from_db()
    assert (cart.name, cart.description) == ("BOOKS", "Read later")


def test_cart_update_without_changes_writes_nothing(user: Any) -> None:
    cart = services.cart_create(owner=user, name="Books")
    cart.refresh_from_db()  # MongoDB keeps milliseconds
    before = cart.updated_at
    assert services.cart_update(cart=cart) is cart
    cart.refresh_from_db()
    assert cart.updated_at == before


def test_cart_delete_removes_memberships_but_keeps_items(user: Any) -> None:
    gifts = services.cart_create(owner=user, name="Gifts")
    later = services.cart_create(owner=user, name="Later")
    shared_item, _ = services.item_upsert(
        owner=user, data=_product(1), cart_ids=[gifts.pk, later.pk]
    )
    only_here, _ = services.item_upsert(owner=user, data=_product(2), cart_ids=[gifts.pk])

    services.cart_delete(cart=gifts)

    assert not Cart.objects.filter(pk=gifts.pk).exists()
    assert not CartItem.objects.filter(cart_id=gifts.pk).exists()
    assert _memberships(shared_item) == {later.pk}
    assert Item.objects.filter(pk__in=[shared_item.pk, only_here.pk]).count() == 2
    assert Item.objects.get(pk=shared_item.pk).orphaned_at is None
    assert Item.objects.get(pk=only_here.pk).orphaned_at is not None


# ------------------------------------------------------------------------------------ items


def test_item_upsert_creates_then_updates_the_same_product(user: Any) -> None:
    item, created = services.item_upsert(
        owner=user,
        data={"url": "https://shop.example.com/p/1?utm_source=mail", "title": "Old", "price": "9"},
    )
    assert created
    assert item.price == Decimal("9.00")
    assert item.orphaned_at is not None  # saved in no cart yet

    again, created = services.item_upsert(
        owner=user,
        data={"url": "https://shop.example.com/p/1?gclid=abc", "title": "New"},
    )
    assert not created
    assert again.pk == item.pk
    item.refresh_from_db()
    assert item.title == "New"
    assert item.price == Decimal("9.00")  # not in the second save: kept
    assert Item.objects.filter(owner=user).count() == 1


def test_item_upsert_keeps_variants_apart(user: Any) -> None:
    red, _ = services.item_upsert(owner=user, data={"url": "https://s.example.com/p?colour=red"})
    blue, created = services.item_upsert(
        owner=user, data={"url": "https://s.example.com/p?colour=blue"}
    )
    assert created
    assert red.pk != blue.pk


def test_item_upsert_with_cart_ids_adds_to_those_carts(user: Any, cart: Cart) -> None:
    other = services.cart_create(owner=user, name="Other")
    item, _ = services.item_upsert(owner=user, data=_product(1), cart_ids=[str(cart.pk)])
    assert _memberships(item) == {cart.pk}
    services.item_upsert(owner=user, data=_product(1), cart_ids=[str(other.pk)])
    assert _memberships(item) == {cart.pk, other.pk}  # added, never removed
    assert Item.objects.get(pk=item.pk).orphaned_at is None


def test_item_upsert_into_a_foreign_cart_is_refused_and_writes_nothing(
    user: Any, other_user: Any
) -> None:
    foreign = services.cart_create(owner=other_user, name="Theirs")
    for cart_ids in ([str(foreign.pk)], ["not-an-id"], ["5f1d7f1d7f1d7f1d7f1d7f1d"], "abc"):
        with pytest.raises(ValidationFailed) as exc:
            services.item_upsert(owner=user, data=_product(1), cart_ids=cart_ids)
        assert exc.value.fields == {"cart_ids": ["One or more carts do not exist."]}
    assert not Item.objects.exists()
    assert not CartItem.objects.exists()


def test_item_upsert_refuses_fields_a_client_may_not_set(user: Any, other_user: Any) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.item_upsert(owner=user, data={**_product(1), "owner": other_user})
    assert "owner" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        services.item_upsert(owner=user, data={"title": "no url"})
    assert "url" in exc.value.fields


def test_item_upsert_records_extraction_details(user: Any) -> None:
    details = {"provenance": {"title": {"source": "json-ld", "confidence": 0.9}}}
    item, _ = services.item_upsert(owner=user, data=_product(1), extraction=details)
    assert Item.objects.get(pk=item.pk).extraction == details


def test_add_to_cart_snapshots_the_price_and_a_later_change_shows(cart: Cart, item: Item) -> None:
    membership, created = services.item_add_to_cart(cart=cart, item=item, quantity=2, note="red")
    assert created
    assert (membership.price_at_add, membership.currency_at_add) == (Decimal("19.99"), "EUR")
    services.item_update(item=item, data={"price": "24.50"})
    membership.refresh_from_db()
    assert membership.price_at_add == Decimal("19.99")
    assert Item.objects.get(pk=item.pk).price == Decimal("24.50")


def test_add_to_cart_twice_keeps_one_membership_and_applies_changes(cart: Cart, item: Item) -> None:
    first, _ = services.item_add_to_cart(cart=cart, item=item)
    second, created = services.item_add_to_cart(cart=cart, item=item, quantity=3)
    assert not created
    assert second.pk == first.pk
    assert CartItem.objects.get(pk=first.pk).quantity == 3
    assert CartItem.objects.filter(cart=cart).count() == 1


def test_add_to_someone_elses_cart_is_not_found(item: Item, other_user: Any) -> None:
    foreign = services.cart_create(owner=other_user, name="Theirs")
    with pytest.raises(NotFound):
        services.item_add_to_cart(cart=foreign, item=item)
    assert not CartItem.objects.exists()


@pytest.mark.parametrize("quantity", [0, -1, 1000, True, "2"])
def test_add_to_cart_refuses_bad_quantities(cart: Cart, item: Item, quantity: Any) -> None:
    with pytest.raises(ValidationFailed):
        services.item_add_to_cart(cart=cart, item=item, quantity=quantity)


@override_settings(MAX_ITEMS_PER_CART=2)
def test_add_to_cart_stops_at_the_cap(user: Any, cart: Cart) -> None:
    for n in range(2):
        services.item_upsert(owner=user, data=_product(n), cart_ids=[cart.pk])
    extra, _ = services.item_upsert(owner=user, data=_product(9))
    with pytest.raises(LimitExceeded):
        services.item_add_to_cart(cart=cart, item=extra)
    assert CartItem.objects.filter(cart=cart).count() == 2
    # Re-adding an item already there is not a new one: no limit.
    member = CartItem.objects.filter(cart=cart).first()
    assert member is not None
    services.item_add_to_cart(cart=cart, item=Item.objects.get(pk=member.item_id), quantity=2)


@override_settings(MAX_ITEMS_PER_CART=3)
def test_concurrent_adds_never_overshoot_the_cap(user: Any, cart: Cart) -> None:
    services.item_upsert(owner=user, data=_product(0), cart_ids=[cart.pk])
    items = [services.item_upsert(owner=user, data=_product(n))[0] for n in range(1, 5)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(items))

    def add(item: Item) -> None:
        barrier.wait()
        try:
            services.item_add_to_cart(cart=cart, item=item)
            outcomes.append("added")
        except LimitExceeded:
            outcomes.append("limit")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=add, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["added", "added", "limit", "limit"]
    assert CartItem.objects.filter(cart=cart).count() == 3


def _hold_cart(cart: Cart) -> Any:
    """A raw client transaction that has written the cart and not committed yet."""
    session = connection.connection.start_session()
    session.start_transaction()
    connection.database[Cart._meta.db_table].update_one(
        {"_id": cart.pk}, {"$set": {"description": "held by another writer"}}, session=session
    )
    return session


def test_a_write_conflict_is_a_transient_error_without_retry(cart: Cart, item: Item) -> None:
    session = _hold_cart(cart)
    try:
        with pytest.raises(DatabaseError) as exc:
            run_in_transaction(
                lambda: services.item_add_to_cart(cart=cart, item=item), label="t", attempts=1
            )
        assert is_transient_transaction_error(exc.value)
    finally:
        session.abort_transaction()
        session.end_session()
    assert not CartItem.objects.exists()


def test_add_to_cart_retries_until_a_concurrent_transaction_commits(cart: Cart, item: Item) -> None:
    session = _hold_cart(cart)
    timer = threading.Timer(0.1, session.commit_transaction)
    timer.start()
    try:
        membership, created = services.item_add_to_cart(cart=cart, item=item)
    finally:
        timer.join()
        session.end_session()
    assert created
    cart.refresh_from_db()
    assert cart.description == "held by another writer"  # both transactions committed
    assert CartItem.objects.filter(pk=membership.pk).exists()


def test_remove_from_cart_keeps_the_item_and_marks_it_orphaned(
    cart: Cart, item_in_cart: Item
) -> None:
    services.item_remove_from_cart(cart=cart, item=item_in_cart)
    assert not CartItem.objects.exists()
    assert Item.objects.get(pk=item_in_cart.pk).orphaned_at is not None
    with pytest.raises(NotFound):
        services.item_remove_from_cart(cart=cart, item=item_in_cart)


# ------------------------------------------------------------------------ item_set_carts


def test_set_carts_moves_and_copies(user: Any, cart: Cart, item_in_cart: Item) -> None:
    other = services.cart_create(owner=user, name="Other")
    kept = CartItem.objects.get(cart=cart, item=item_in_cart)
    services.item_set_carts(item=item_in_cart, cart_ids=[str(cart.pk), str(other.pk)])  # copy
    assert _memberships(item_in_cart) == {cart.pk, other.pk}
    assert CartItem.objects.get(cart=cart, item=item_in_cart).pk == kept.pk  # untouched
    services.item_set_carts(item=item_in_cart, cart_ids=[str(other.pk)])  # move
    assert _memberships(item_in_cart) == {other.pk}
    services.item_set_carts(item=item_in_cart, cart_ids=[])
    assert _memberships(item_in_cart) == set()
    assert Item.objects.get(pk=item_in_cart.pk).orphaned_at is not None


def test_set_carts_with_a_foreign_cart_changes_nothing(
    cart: Cart, item_in_cart: Item, other_user: Any
) -> None:
    foreign = services.cart_create(owner=other_user, name="Theirs")
    with pytest.raises(ValidationFailed) as exc:
        services.item_set_carts(item=item_in_cart, cart_ids=[str(foreign.pk)])
    assert list(exc.value.fields) == ["cart_ids"]
    assert _memberships(item_in_cart) == {cart.pk}


@override_settings(MAX_ITEMS_PER_CART=1)
def test_set_carts_failing_halfway_leaves_memberships_as_they_were(user: Any) -> None:
    """A cap reached on the second cart rolls back the removal and the first addition."""
    source = services.cart_create(owner=user, name="Source")
    roomy = services.cart_create(owner=user, name="Roomy")
    full = services.cart_create(owner=user, name="Full")
    item, _ = services.item_upsert(owner=user, data=_product(1), cart_ids=[source.pk])
    services.item_upsert(owner=user, data=_product(2), cart_ids=[full.pk])
    before = list(CartItem.objects.order_by("pk").values())
    roomy_updated_at = Cart.objects.get(pk=roomy.pk).updated_at

    with pytest.raises(LimitExceeded):
        services.item_set_carts(item=item, cart_ids=[str(roomy.pk), str(full.pk)])

    assert list(CartItem.objects.order_by("pk").values()) == before
    assert _memberships(item) == {source.pk}
    assert Cart.objects.get(pk=roomy.pk).updated_at == roomy_updated_at
    assert Item.objects.get(pk=item.pk).orphaned_at is None


# ------------------------------------------------------------------------ update, delete


def test_item_update_changes_allowed_fields(item: Item) -> None:
    services.item_update(
        item=item,
        data={"title": " Kettle 2 ", "availability": "https://schema.org/OutOfStock"},
    )
    item.refresh_from_db()
    assert (item.title, item.availability) == ("Kettle 2", "OutOfStock")
    assert services.item_update(item=item, data={}) is item


def test_item_update_to_the_url_of_another_item_is_refused(user: Any, item: Item) -> None:
    other, _ = services.item_upsert(owner=user, data=_product(7))
    with pytest.raises(ValidationFailed) as exc:
        services.item_update(item=other, data={"url": item.url + "&utm_medium=x"})
    assert "url" in exc.value.fields
    services.item_update(item=other, data={"url": "https://new.example.com/p/7"})
    other.refresh_from_db()
    assert other.store_domain == "new.example.com"


def test_item_delete_removes_it_from_every_cart(user: Any, cart: Cart, item_in_cart: Item) -> None:
    other = services.cart_create(owner=user, name="Other")
    services.item_add_to_cart(cart=other, item=item_in_cart)
    services.item_delete(item=item_in_cart)
    assert not Item.objects.filter(pk=item_in_cart.pk).exists()
    assert not CartItem.objects.exists()
    assert Cart.objects.filter(owner=user).count() == 2


# ---------------------------------------------------------------------------- share links


def test_share_link_is_created_once_and_revoked(cart: Cart) -> None:
    token, created = services.cart_share_link_create(cart=cart)
    assert created
    assert len(token) >= 43
    again, created = services.cart_share_link_create(cart=Cart.objects.get(pk=cart.pk))
    assert (again, created) == (token, False)
    assert services.cart_share_link_revoke(cart=cart)
    assert Cart.objects.get(pk=cart.pk).share_token is None
    assert not services.cart_share_link_revoke(cart=cart)
    new, created = services.cart_share_link_create(cart=cart)
    assert created
    assert new != token


def test_share_link_created_concurrently_is_the_same_token(cart: Cart) -> None:
    stale = Cart.objects.get(pk=cart.pk)
    token, _ = services.cart_share_link_create(cart=cart)
    again, created = services.cart_share_link_create(cart=stale)  # stale copy: no token seen
    assert (again, created) == (token, False)


# ------------------------------------------------------------------ orphans and staff edits


def test_items_delete_orphans_keeps_items_in_a_cart(user: Any) -> None:
    in_cart = CartItemFactory(cart=CartFactory(owner=user)).item
    orphan = ItemFactory(owner=user)
    deleted, kept = services.items_delete_orphans(item_ids=[in_cart.pk, orphan.pk], dry_run=True)
    assert (deleted, kept) == (1, 1)
    assert Item.objects.count() == 2
    assert services.items_delete_orphans(item_ids=[in_cart.pk, orphan.pk]) == (1, 1)
    assert list(Item.objects.values_list("pk", flat=True)) == [in_cart.pk]
    with pytest.raises(ValueError):
        services.items_delete_orphans()


def test_items_delete_orphans_by_age(user: Any) -> None:
    now = timezone.now()
    old = ItemFactory(owner=user, orphaned_at=now - timedelta(days=40))
    recent = ItemFactory(owner=user, orphaned_at=now - timedelta(days=2))
    # Marked long ago but put back in a cart since (the mark is stale): kept.
    back = CartItemFactory(cart=CartFactory(owner=user)).item
    Item.objects.filter(pk=back.pk).update(orphaned_at=now - timedelta(days=90))
    deleted, kept = services.items_delete_orphans(orphaned_before=now - timedelta(days=30))
    assert (deleted, kept) == (1, 1)
    assert set(Item.objects.values_list("pk", flat=True)) == {recent.pk, back.pk}
    assert not Item.objects.filter(pk=old.pk).exists()


def test_services_accept_an_owner_pk(user: Any) -> None:
    other = UserFactory()
    carts = services.resolve_carts(owner=other.pk, cart_ids=[])
    assert carts == []


def test_services_refuse_to_run_inside_djangos_no_op_atomic(user: Any) -> None:
    from django.db import transaction
    from django.db.transaction import TransactionManagementError

    with transaction.atomic(), pytest.raises(TransactionManagementError):
        services.cart_create(owner=user, name="Inside")
    assert not Cart.objects.exists()
