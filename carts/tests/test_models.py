"""The storage layout: indexes as MongoDB reports them, and the derived columns."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection

from buyhive.product.urls import CanonicalUrl
from carts.models import Cart, CartItem, Item, normalize_cart_name, store_domain_of
from carts.tests.factories import CartFactory, ItemFactory

pytestmark = pytest.mark.django_db


def _indexes(collection: str) -> dict[str, dict[str, Any]]:
    return connection.get_collection(collection).index_information()


def _keys(info: dict[str, Any]) -> list[str]:
    return [name for name, _direction in info["key"]]


def test_cart_indexes_back_every_hot_read() -> None:
    indexes = _indexes(Cart._meta.db_table)
    by_keys = {tuple(_keys(info)): info for info in indexes.values()}
    # GET carts/: the owner's carts in creation order.
    assert ("owner_id", "created_at") in by_keys
    # Case-insensitive unique name per owner.
    unique_name = by_keys[("owner_id", "name_lower")]
    assert unique_name["unique"] is True
    # The public link token: unique, partial so that unshared carts (null) do not collide.
    token = by_keys[("share_token",)]
    assert token["unique"] is True
    assert token["partialFilterExpression"]["share_token"] == {"$type": "string"}
    assert by_keys[("owner_id", "legacy_id")]["unique"] is True
    # No redundant single-field owner index: the compound ones start with owner_id.
    assert ("owner_id",) not in by_keys


def test_item_indexes_back_every_hot_read() -> None:
    by_keys = {tuple(_keys(info)): info for info in _indexes(Item._meta.db_table).values()}
    assert by_keys[("owner_id", "canonical_url")]["unique"] is True
    for keys in [
        ("owner_id", "created_at"),
        ("owner_id", "store_domain"),
        ("owner_id", "availability"),
        ("owner_id", "price"),
        ("orphaned_at",),
    ]:
        assert keys in by_keys, keys
    assert by_keys[("owner_id", "legacy_id")]["unique"] is True


def test_membership_indexes_back_every_hot_read() -> None:
    by_keys = {tuple(_keys(info)): info for info in _indexes(CartItem._meta.db_table).values()}
    assert by_keys[("cart_id", "item_id")]["unique"] is True
    assert ("cart_id", "added_at") in by_keys  # a cart's items, in added order, paginated
    assert ("item_id",) in by_keys  # an item's carts
    assert ("owner_id", "added_at") in by_keys


def test_cart_name_is_unique_per_owner_case_insensitively_in_the_database(user: Any) -> None:
    CartFactory(owner=user, name="Gifts")
    with pytest.raises(IntegrityError):
        CartFactory(owner=user, name="  GIFTS ")
    CartFactory(name="Gifts")  # another owner may use it


def test_item_is_unique_per_owner_and_canonical_url_in_the_database(user: Any) -> None:
    ItemFactory(owner=user, url="https://shop.example.com/p/1?utm_source=a")
    with pytest.raises(IntegrityError):
        ItemFactory(owner=user, url="https://SHOP.example.com/p/1?gclid=zz")
    ItemFactory(url="https://shop.example.com/p/1")  # another owner


def test_items_without_url_do_not_collide(user: Any) -> None:
    first = ItemFactory(owner=user, url="")
    second = ItemFactory(owner=user, url="")
    assert first.canonical_url is None
    assert second.canonical_url is None


def test_many_carts_can_be_unshared_at_once(user: Any) -> None:
    CartFactory(owner=user, share_token=None)
    CartFactory(owner=user, share_token=None)
    CartFactory(owner=user, share_token="x" * 43)
    with pytest.raises(IntegrityError):
        CartFactory(owner=user, share_token="x" * 43)


def test_item_save_derives_canonical_url_and_store(user: Any) -> None:
    item = ItemFactory(
        owner=user, url="https://www.Shop.example.com/p/1?size=M&utm_campaign=x#reviews"
    )
    assert item.canonical_url == "https://www.shop.example.com/p/1?size=M"
    assert item.store_domain == "shop.example.com"
    item.url = "https://other.example.org/q"
    item.save(update_fields=["url"])
    item.refresh_from_db()
    assert item.canonical_url == "https://other.example.org/q"
    assert item.store_domain == "other.example.org"


def test_a_canonical_form_handed_in_is_trusted_only_for_its_own_address(user: Any) -> None:
    """A request canonicalises its address once and passes it down (Item.use_canonical); a
    pair for another address, or a url changed afterwards, is canonicalised again."""
    url = "https://shop.example.com/p/1?utm_source=mail&size=M"
    item = ItemFactory.build(owner=user, url=url)
    item.use_canonical(CanonicalUrl.of("https://elsewhere.example.org/p/9"))
    item.save()
    assert item.canonical_url == "https://shop.example.com/p/1?size=M"

    item.use_canonical(CanonicalUrl.of(url))
    item.url = "https://shop.example.com/p/2?gclid=x"
    item.save(update_fields=["url"])
    item.refresh_from_db()
    assert item.canonical_url == "https://shop.example.com/p/2"


def test_cart_rename_through_update_fields_keeps_the_key(user: Any) -> None:
    cart = CartFactory(owner=user, name="Books")
    cart.name = "Straße"
    cart.save(update_fields=["name"])
    cart.refresh_from_db()
    assert cart.name_lower == normalize_cart_name("STRASSE")


@pytest.mark.parametrize(
    ("url", "domain"),
    [
        ("https://www.example.com/x", "example.com"),
        ("http://EXAMPLE.co.uk.:8080/x", "example.co.uk"),
        ("not a url", ""),
        ("http://[::1", ""),
    ],
)
def test_store_domain_of(url: str, domain: str) -> None:
    assert store_domain_of(url) == domain


def test_string_forms(user: Any) -> None:
    cart = CartFactory(owner=user, name="Books")
    item = ItemFactory(owner=user, title="")
    assert str(cart) == "Books"
    assert str(item) == item.canonical_url
