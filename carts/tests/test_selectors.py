"""Reads: scoping, totals, filters, search and ordering."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from bson import ObjectId

from buyhive.exceptions import NotFound, ValidationFailed
from carts import selectors, services
from carts.models import Cart, Item
from carts.tests.factories import CartFactory, CartItemFactory, ItemFactory

pytestmark = pytest.mark.django_db


def _save(user: Any, n: int, **fields: Any) -> Item:
    data = {"url": f"https://shop{n % 2}.example.com/p/{n}", "title": f"Product {n}", **fields}
    return services.item_upsert(owner=user, data=data)[0]


@pytest.mark.parametrize("value", [None, "", "abc", "5f1d7f1d7f1d7f1d7f1d7f1", 12, "z" * 24])
def test_parse_object_id_never_raises(value: Any) -> None:
    assert selectors.parse_object_id(value) is None


def test_parse_object_id_accepts_ids() -> None:
    oid = ObjectId()
    assert selectors.parse_object_id(oid) == oid
    assert selectors.parse_object_id(str(oid)) == oid


def test_cart_get_of_other_user_is_not_found(cart: Cart, other_user: Any, user: Any) -> None:
    assert selectors.cart_get(user=user, cart_id=str(cart.pk)) == cart
    for cart_id in (str(cart.pk), "nope", str(ObjectId())):
        with pytest.raises(NotFound):
            selectors.cart_get(user=other_user, cart_id=cart_id)


def test_item_get_of_other_user_is_not_found(item: Item, other_user: Any, user: Any) -> None:
    assert selectors.item_get(user=user, item_id=str(item.pk)) == item
    for item_id in (str(item.pk), "nope", str(ObjectId())):
        with pytest.raises(NotFound):
            selectors.item_get(user=other_user, item_id=item_id)


def test_cart_list_is_the_users_carts_oldest_first(user: Any, other_user: Any) -> None:
    first = services.cart_create(owner=user, name="First")
    second = services.cart_create(owner=user, name="Second")
    services.cart_create(owner=other_user, name="Not mine")
    assert list(selectors.cart_list(user=user)) == [first, second]


def test_cart_summaries_sum_quantity_times_current_price_per_currency(user: Any) -> None:
    cart = services.cart_create(owner=user, name="Mixed")
    empty = services.cart_create(owner=user, name="Empty")
    kettle = _save(user, 1, price="19.99", currency="EUR")
    mug = _save(user, 2, price="5.50", currency="EUR")
    book = _save(user, 3, price="12", currency="USD")
    unpriced = _save(user, 4)
    no_currency = _save(user, 5, price="3")
    services.item_add_to_cart(cart=cart, item=kettle, quantity=2)
    for item in (mug, book, unpriced, no_currency):
        services.item_add_to_cart(cart=cart, item=item)
    services.item_update(item=mug, data={"price": "6.00"})  # the current price counts

    summaries = selectors.cart_summaries(user=user, carts=[cart, empty])

    assert summaries[cart.pk].item_count == 5
    assert summaries[cart.pk].totals_list() == [
        {"currency": "EUR", "amount": "45.98"},
        {"currency": "USD", "amount": "12.00"},
        {"currency": None, "amount": "3.00"},
    ]
    assert summaries[empty.pk].item_count == 0
    assert summaries[empty.pk].totals_list() == []
    assert selectors.cart_summaries(user=user, carts=[]) == {}


def test_cart_summaries_ignore_other_users_rows(user: Any, other_user: Any, cart: Cart) -> None:
    # A membership row whose owner is someone else (never written by the services) is not
    # counted: every read is scoped by owner.
    stray = ItemFactory(owner=other_user, price=Decimal("100"))
    CartItemFactory(cart=cart, item=stray, owner=other_user)
    assert selectors.cart_summaries(user=user, carts=[cart])[cart.pk].item_count == 0


def test_item_list_filters(user: Any, other_user: Any) -> None:
    cart = services.cart_create(owner=user, name="Gifts")
    a = _save(user, 1, availability="InStock", brand="Acme")
    b = _save(user, 2, availability="OutOfStock", brand="Bolt")
    c = _save(user, 3, availability="InStock", title="Acme anvil")
    _save(other_user, 4, availability="InStock", brand="Acme")
    services.item_add_to_cart(cart=cart, item=b)
    services.item_add_to_cart(cart=cart, item=a)

    def ids(**kwargs: Any) -> list[Any]:
        return [item.pk for item in selectors.item_list(user=user, **kwargs)]

    assert ids() == [c.pk, b.pk, a.pk]  # newest first
    assert ids(ordering="added_at") == [a.pk, b.pk, c.pk]
    assert set(ids(store="shop1.example.com")) == {a.pk, c.pk}
    assert set(ids(store="www.SHOP1.example.com")) == {a.pk, c.pk}
    assert ids(availability="OutOfStock") == [b.pk]
    assert set(ids(search="acme")) == {a.pk, c.pk}
    assert ids(cart_id=str(cart.pk), ordering="added_at") == [b.pk, a.pk]  # added to the cart
    assert ids(cart_id=str(cart.pk)) == [a.pk, b.pk]
    assert ids(cart_id=str(cart.pk), availability="InStock") == [a.pk]


def test_item_list_orders_by_price_and_title(user: Any) -> None:
    cheap = _save(user, 1, price="1", title="Zebra")
    dear = _save(user, 2, price="100", title="Apple")
    mid = _save(user, 3, price="10.5", title="Mango")
    assert [i.pk for i in selectors.item_list(user=user, ordering="price")] == [
        cheap.pk,
        mid.pk,
        dear.pk,
    ]
    assert next(i.pk for i in selectors.item_list(user=user, ordering="-price")) == dear.pk
    assert [i.pk for i in selectors.item_list(user=user, ordering="title")] == [
        dear.pk,
        mid.pk,
        cheap.pk,
    ]
    cart = services.cart_create(owner=user, name="C")
    for item in (cheap, dear, mid):
        services.item_add_to_cart(cart=cart, item=item)
    assert [
        i.pk for i in selectors.item_list(user=user, cart_id=str(cart.pk), ordering="-title")
    ] == [cheap.pk, mid.pk, dear.pk]
    assert [
        i.pk for i in selectors.item_list(user=user, cart_id=str(cart.pk), ordering="price")
    ] == [cheap.pk, mid.pk, dear.pk]


@pytest.mark.parametrize(
    ("term", "matches"),
    [
        ("a.b", {"a.b kettle"}),  # "." is literal: "axb" does not match
        ("(", {"odd (thing)"}),  # no regex error
        ("[", set()),
        ("*", set()),
        ("\\", set()),
        ("$^", set()),
        ("KETTLE", {"a.b kettle", "axb kettle"}),
    ],
)
def test_search_is_literal_and_case_insensitive(user: Any, term: str, matches: set[str]) -> None:
    for n, title in enumerate(["a.b kettle", "axb kettle", "odd (thing)"]):
        _save(user, n, title=title)
    found = {item.title for item in selectors.item_list(user=user, search=term)}
    assert found == matches


def test_search_longer_than_the_cap_is_refused(user: Any) -> None:
    with pytest.raises(ValidationFailed) as exc:
        selectors.item_list(user=user, search="x" * 101)
    assert "search" in exc.value.fields
    assert list(selectors.item_list(user=user, search="   ")) == []


def test_item_list_refuses_unknown_ordering_and_foreign_cart(user: Any, other_user: Any) -> None:
    with pytest.raises(ValidationFailed):
        selectors.item_list(user=user, ordering="owner")
    foreign = CartFactory(owner=other_user)
    for cart_id in (str(foreign.pk), "bad"):
        with pytest.raises(ValidationFailed) as exc:
            selectors.item_list(user=user, cart_id=cart_id)
        assert "cart" in exc.value.fields


def test_item_cart_ids_and_membership_rows(user: Any) -> None:
    one = services.cart_create(owner=user, name="One")
    two = services.cart_create(owner=user, name="Two")
    item = _save(user, 1)
    lonely = _save(user, 2)
    services.item_set_carts(item=item, cart_ids=[one.pk, two.pk])
    assert selectors.item_cart_ids(user=user, items=[item, lonely]) == {
        item.pk: [str(one.pk), str(two.pk)],
        lonely.pk: [],
    }
    assert selectors.item_cart_ids(user=user, items=[]) == {}
    rows = selectors.membership_rows(user=user, cart=one)
    assert [(ms.cart_id, it.pk) for ms, it in rows] == [(one.pk, item.pk)]
    assert selectors.items_by_id(user=user, item_ids=[]) == {}


def test_shared_cart_get_by_token(cart: Cart) -> None:
    token, _ = services.cart_share_link_create(cart=cart)
    assert selectors.shared_cart_get(token=token) == cart
    for bad in ("short", token[:-1] + "!", "", "x" * 65):
        with pytest.raises(NotFound):
            selectors.shared_cart_get(token=bad)
    services.cart_share_link_revoke(cart=cart)
    with pytest.raises(NotFound):
        selectors.shared_cart_get(token=token)


def test_cart_counts_by_owner(user: Any, other_user: Any) -> None:
    CartFactory(owner=user)
    CartFactory(owner=user)
    CartFactory(owner=other_user)
    assert selectors.cart_counts_by_owner(owner_ids=[user.pk, other_user.pk]) == {
        user.pk: 2,
        other_user.pk: 1,
    }
    assert selectors.cart_counts_by_owner(owner_ids=[]) == {}
