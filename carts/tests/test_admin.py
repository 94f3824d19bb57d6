"""The carts admin: lists without per-row queries, search, filters, inlines, actions, saves."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections
from django.db.models.signals import post_save
from django.test import Client, override_settings

from accounts.tests.factories import UserFactory
from carts import services
from carts.models import Cart, CartItem, Item
from carts.tests.factories import CartFactory, CartItemFactory, ItemFactory
from carts.tests.mongo_commands import Recorder
from conftest import otp_admin_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(db: Any) -> Client:
    admin = UserFactory(email="staff@example.com", password="pw-staff-1234", staff=True)
    return otp_admin_client_for(admin)


def _fill(n_carts: int) -> None:
    for _ in range(n_carts):
        cart = CartFactory()
        CartItemFactory(cart=cart)
        CartItemFactory(cart=cart)


def _read_commands(recorder: Recorder, client: Client, url: str) -> int:
    recorder.clear()
    response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return len(recorder.commands)


@pytest.mark.parametrize("path", ["/admin/carts/cart/", "/admin/carts/item/"])
def test_list_pages_make_the_same_number_of_queries_for_3_or_30_rows(
    staff_client: Client,
    commands: Recorder,
    path: str,
) -> None:
    _fill(3)
    few = _read_commands(commands, staff_client, path)
    _fill(27)
    many = _read_commands(commands, staff_client, path)
    assert many == few
    for command in commands.commands:
        pipeline = command.body.get("pipeline", [])
        assert not any("$lookup" in stage for stage in pipeline), command.body


def test_cart_list_shows_owner_and_item_count(staff_client: Client, user: Any) -> None:
    cart = services.cart_create(owner=user, name="Gifts")
    for n in range(3):
        services.item_upsert(
            owner=user, data={"url": f"https://s.example.com/{n}"}, cart_ids=[cart.pk]
        )
    page = staff_client.get("/admin/carts/cart/").content.decode()
    assert "alice@example.com" in page
    assert f'href="/admin/carts/item/?cart={cart.pk}">3</a>' in page
    assert f"/admin/accounts/user/{user.pk}/change/" in page


def test_search_by_cart_name_and_owner_email(
    staff_client: Client, user: Any, other_user: Any
) -> None:
    CartFactory(owner=user, name="Birthday")
    CartFactory(owner=other_user, name="Camping")
    by_email = staff_client.get("/admin/carts/cart/?q=bob@").content.decode()
    assert "Camping" in by_email
    assert "Birthday" not in by_email
    by_name = staff_client.get("/admin/carts/cart/?q=birth").content.decode()
    assert "Birthday" in by_name
    assert "Camping" not in by_name
    by_owner = staff_client.get(f"/admin/carts/cart/?owner={other_user.pk}").content.decode()
    assert "Camping" in by_owner
    assert "Birthday" not in by_owner
    items = staff_client.get(f"/admin/carts/item/?owner={user.pk}")
    assert items.status_code == 200


def test_item_search_and_filters(staff_client: Client, user: Any, other_user: Any) -> None:
    cart = CartFactory(owner=user)
    kettle = ItemFactory(
        owner=user, title="Kettle", url="https://kitchen.example.com/k", orphaned_at=None
    )
    CartItemFactory(cart=cart, item=kettle)
    ItemFactory(owner=other_user, title="Tent", url="https://outdoor.example.org/t", currency="EUR")

    def titles(query: str) -> set[str]:
        page = staff_client.get(f"/admin/carts/item/{query}").content.decode()
        return {t for t in ("Kettle", "Tent") if t in page}

    assert titles("") == {"Kettle", "Tent"}
    assert titles("?q=outdoor.example") == {"Tent"}  # URL
    assert titles("?q=alice@") == {"Kettle"}  # owner email
    assert titles("?q=kitchen.example.com") == {"Kettle"}  # the shop, by search
    assert titles("?currency=EUR") == {"Tent"}
    assert titles(f"?cart={cart.pk}") == {"Kettle"}
    assert titles("?orphan=yes") == {"Tent"}
    assert titles("?orphan=no") == {"Kettle"}
    assert titles("?availability=InStock") == {"Kettle", "Tent"}


def test_item_change_page_shows_extraction_read_only_and_its_carts(
    staff_client: Client, user: Any
) -> None:
    cart = CartFactory(owner=user, name="Presents")
    item = ItemFactory(owner=user, extraction={"provenance": {"title": {"source": "json-ld"}}})
    CartItemFactory(cart=cart, item=item)
    page = staff_client.get(f"/admin/carts/item/{item.pk}/change/").content.decode()
    assert "json-ld" in page
    assert 'name="extraction"' not in page  # read-only, not a form field
    assert "Presents" in page  # the inline labels its cart
    assert f"/admin/carts/cart/{cart.pk}/change/" in page


def test_item_pages_edit_exactly_what_a_client_may_set(staff_client: Client, user: Any) -> None:
    """Staff edit the fields the API lets a client set (``ITEM_FIELDS``), and no other."""
    item = ItemFactory(owner=user)
    change = staff_client.get(f"/admin/carts/item/{item.pk}/change/")
    assert set(change.context["adminform"].form.fields) == set(services.ITEM_FIELDS)
    add = staff_client.get("/admin/carts/item/add/")
    assert set(add.context["adminform"].form.fields) == {"owner", *services.ITEM_FIELDS}


def _inline_post(cart: Cart, rows: list[dict[str, str]], **fields: str) -> dict[str, str]:
    existing = list(CartItem.objects.filter(cart=cart).order_by("pk"))
    data = {
        "name": fields.get("name", cart.name),
        "description": cart.description,
        "memberships-TOTAL_FORMS": str(len(existing) + len(rows)),
        "memberships-INITIAL_FORMS": str(len(existing)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for index, membership in enumerate(existing):
        data.update(
            {
                f"memberships-{index}-id": str(membership.pk),
                f"memberships-{index}-cart": str(cart.pk),
                f"memberships-{index}-item": str(membership.item_id),
                f"memberships-{index}-quantity": str(membership.quantity),
                f"memberships-{index}-note": membership.note,
            }
        )
    for offset, row in enumerate(rows):
        index = len(existing) + offset
        data.update({f"memberships-{index}-{key}": value for key, value in row.items()})
        data[f"memberships-{index}-cart"] = str(cart.pk)
    return data


def test_inline_adds_an_item_atomically_with_bookkeeping(staff_client: Client, user: Any) -> None:
    cart = CartFactory(owner=user, name="Gifts")
    item = ItemFactory(owner=user, price=Decimal("7.00"), currency="GBP")  # in no cart yet
    seen: list[tuple[str, bool]] = []

    def record(sender: type, **kwargs: Any) -> None:
        seen.append((sender.__name__, connections["default"].in_atomic_block_mongo))

    post_save.connect(record, sender=Cart)
    post_save.connect(record, sender=CartItem)
    try:
        response = staff_client.post(
            f"/admin/carts/cart/{cart.pk}/change/",
            _inline_post(cart, [{"item": str(item.pk), "quantity": "2", "note": "hi"}], name="New"),
        )
    finally:
        post_save.disconnect(record, sender=Cart)
        post_save.disconnect(record, sender=CartItem)
    assert response.status_code == 302, response.content.decode()[:2000]
    membership = CartItem.objects.get(cart=cart, item=item)
    assert (membership.owner_id, membership.quantity, membership.note) == (user.pk, 2, "hi")
    assert (membership.price_at_add, membership.currency_at_add) == (item.price, "GBP")
    assert Item.objects.get(pk=item.pk).orphaned_at is None
    assert Cart.objects.get(pk=cart.pk).name == "New"
    assert seen == [("Cart", True), ("CartItem", True)]  # one transaction for the whole save


def test_inline_refuses_another_users_item(staff_client: Client, user: Any) -> None:
    cart = CartFactory(owner=user, name="Gifts")
    foreign = ItemFactory(owner=UserFactory())
    response = staff_client.post(
        f"/admin/carts/cart/{cart.pk}/change/",
        _inline_post(cart, [{"item": str(foreign.pk), "quantity": "1"}], name="Renamed"),
    )
    assert response.status_code == 200
    assert "This item and this cart belong to different users." in response.content.decode()
    assert not CartItem.objects.exists()
    assert Cart.objects.get(pk=cart.pk).name == "Gifts"


def test_inline_removal_marks_the_item_orphaned(staff_client: Client, user: Any) -> None:
    cart = CartFactory(owner=user, name="Gifts")
    membership = CartItemFactory(cart=cart)
    data = _inline_post(cart, [])
    data["memberships-0-DELETE"] = "on"
    response = staff_client.post(f"/admin/carts/cart/{cart.pk}/change/", data)
    assert response.status_code == 302
    assert not CartItem.objects.exists()
    assert Item.objects.get(pk=membership.item_id).orphaned_at is not None


def test_export_selected_carts_as_csv(staff_client: Client, user: Any) -> None:
    cart = services.cart_create(owner=user, name="=HYPERLINK(evil)")
    empty = services.cart_create(owner=user, name="Empty")
    services.cart_create(owner=user, name="Not selected")
    services.item_upsert(
        owner=user,
        data={"url": "https://s.example.com/1", "title": "Lamp", "price": "12.50"},
        cart_ids=[cart.pk],
    )
    response = staff_client.post(
        "/admin/carts/cart/",
        {"action": "export_csv", "_selected_action": [str(cart.pk), str(empty.pk)]},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 2
    lamp = next(row for row in rows if row["title"])
    assert lamp["cart_name"] == "'=HYPERLINK(evil)"  # not run as a formula
    assert (lamp["title"], lamp["price"], lamp["owner_email"]) == (
        "Lamp",
        "12.50",
        "alice@example.com",
    )
    assert next(row for row in rows if not row["title"])["cart_name"] == "Empty"


def test_delete_items_left_in_no_cart_action(staff_client: Client, user: Any) -> None:
    kept = CartItemFactory(cart=CartFactory(owner=user)).item
    orphan = ItemFactory(owner=user)
    response = staff_client.post(
        "/admin/carts/item/",
        {"action": "delete_orphans", "_selected_action": [str(kept.pk), str(orphan.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Deleted 1 item(s) in no cart; kept 1 still in a cart." in response.content.decode()
    assert list(Item.objects.values_list("pk", flat=True)) == [kept.pk]


def test_admin_cart_delete_keeps_items(staff_client: Client, user: Any) -> None:
    cart = CartFactory(owner=user)
    item = CartItemFactory(cart=cart).item
    response = staff_client.post(f"/admin/carts/cart/{cart.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Cart.objects.exists()
    assert not CartItem.objects.exists()
    assert Item.objects.get(pk=item.pk).orphaned_at is not None


def test_admin_bulk_delete_goes_through_the_services(staff_client: Client, user: Any) -> None:
    carts = [CartFactory(owner=user) for _ in range(2)]
    items = [CartItemFactory(cart=cart).item for cart in carts]
    response = staff_client.post(
        "/admin/carts/cart/",
        {
            "action": "delete_selected",
            "_selected_action": [str(c.pk) for c in carts],
            "post": "yes",
        },
    )
    assert response.status_code == 302
    assert not Cart.objects.exists()
    assert Item.objects.filter(orphaned_at__isnull=False).count() == 2
    item_delete = staff_client.post(f"/admin/carts/item/{items[0].pk}/delete/", {"post": "yes"})
    assert item_delete.status_code == 302
    assert Item.objects.count() == 1


def test_admin_adds_a_cart_and_an_item(staff_client: Client, user: Any) -> None:
    response = staff_client.post(
        "/admin/carts/cart/add/",
        {
            "owner": str(user.pk),
            "name": "Made by staff",
            "description": "",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Cart.objects.get(name="Made by staff").name_lower == "made by staff"
    add_item = staff_client.get("/admin/carts/item/add/")
    assert add_item.status_code == 200


def test_admin_refuses_duplicate_cart_names_and_item_urls(staff_client: Client, user: Any) -> None:
    CartFactory(owner=user, name="Gifts")
    response = staff_client.post(
        "/admin/carts/cart/add/",
        {
            "owner": str(user.pk),
            "name": "GIFTS",
            "description": "",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 200
    assert "already have a cart with this name" in response.content.decode()
    assert Cart.objects.count() == 1

    ItemFactory(owner=user, url="https://shop.example.com/p/1")
    response = staff_client.post(
        "/admin/carts/item/add/",
        {
            "owner": str(user.pk),
            "url": "https://shop.example.com/p/1?utm_source=x",
            "variant": "{}",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 200
    assert "already saved an item with this URL" in response.content.decode()
    assert Item.objects.count() == 1


def test_the_owner_cannot_be_changed_once_a_row_exists(
    staff_client: Client, user: Any, other_user: Any
) -> None:
    from carts.services import cart_create

    cart = cart_create(owner=user, name="Fixed owner")
    page = staff_client.get(f"/admin/carts/cart/{cart.pk}/change/")
    assert page.status_code == 200
    assert 'name="owner"' not in page.content.decode()  # shown read-only, not as an input
    staff_client.post(
        f"/admin/carts/cart/{cart.pk}/change/",
        {"owner": str(other_user.pk), "name": "Fixed owner", "description": ""},
    )
    cart.refresh_from_db()
    assert cart.owner_id == user.pk


# --------------------------------------------------------------- the services' rules apply


@override_settings(MAX_ITEMS_PER_CART=2)
def test_admin_cannot_push_a_cart_past_the_item_cap(staff_client: Client, user: Any) -> None:
    cart = services.cart_create(owner=user, name="Full")
    for n in range(2):
        services.item_upsert(
            owner=user, data={"url": f"https://s.example.com/{n}"}, cart_ids=[cart.pk]
        )
    third = ItemFactory(owner=user)
    response = staff_client.post(
        f"/admin/carts/cart/{cart.pk}/change/",
        _inline_post(cart, [{"item": str(third.pk), "quantity": "1"}], name="Renamed"),
    )
    assert response.status_code == 200
    assert "already holds the maximum of 2 items" in response.content.decode()
    assert CartItem.objects.filter(cart=cart).count() == 2
    assert Cart.objects.get(pk=cart.pk).name == "Full"  # the whole save was rolled back

    # Nor from the item's side: its carts inline meets the same cap.
    response = staff_client.post(
        f"/admin/carts/item/{third.pk}/change/",
        {
            "url": third.url,
            "title": "Renamed item",
            "variant": "{}",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-cart": str(cart.pk),
            "memberships-0-quantity": "1",
            "memberships-0-note": "",
        },
    )
    assert response.status_code == 200
    assert "already holds the maximum of 2 items" in response.content.decode()
    assert CartItem.objects.filter(cart=cart).count() == 2
    assert Item.objects.get(pk=third.pk).title == third.title


@override_settings(MAX_CARTS_PER_USER=1)
def test_admin_cannot_push_a_user_past_the_carts_cap(staff_client: Client, user: Any) -> None:
    services.cart_create(owner=user, name="The only one")
    response = staff_client.post(
        "/admin/carts/cart/add/",
        {
            "owner": str(user.pk),
            "name": "One too many",
            "description": "",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 200
    assert "You can have at most 1 carts." in response.content.decode()
    assert list(Cart.objects.values_list("name", flat=True)) == ["The only one"]


def test_admin_item_writes_clean_like_the_api(staff_client: Client, user: Any) -> None:
    """The service's quantity rule shows on the inline row; the item's fields are cleaned."""
    cart = services.cart_create(owner=user, name="Gifts")
    item = ItemFactory(owner=user)
    response = staff_client.post(
        f"/admin/carts/cart/{cart.pk}/change/",
        _inline_post(cart, [{"item": str(item.pk), "quantity": "5000"}]),
    )
    assert response.status_code == 200
    assert "Enter a whole number from 1 to 999." in response.content.decode()
    assert not CartItem.objects.exists()

    response = staff_client.post(
        "/admin/carts/item/add/",
        {
            "owner": str(user.pk),
            "url": "https://shop.example.com/p/9?utm_source=x",
            "title": "  Lamp  ",
            "price": "12.50",
            "currency": "eur",
            "variant": "{}",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-cart": str(cart.pk),
            "memberships-0-quantity": "2",
            "memberships-0-note": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    saved = Item.objects.get(canonical_url="https://shop.example.com/p/9")
    assert (saved.title, saved.currency, saved.orphaned_at) == ("Lamp", "EUR", None)
    membership = CartItem.objects.get(item=saved)
    assert (membership.cart_id, membership.quantity) == (cart.pk, 2)
    assert (membership.price_at_add, membership.currency_at_add) == (Decimal("12.50"), "EUR")


def test_the_user_admin_shows_each_users_number_of_carts(
    staff_client: Client, user: Any, other_user: Any
) -> None:
    """The column carts registers in buyhive.registries (accounts does not import carts)."""
    for name in ("One", "Two", "Three"):
        services.cart_create(owner=user, name=name)
    services.cart_create(owner=other_user, name="Only")
    page = staff_client.get("/admin/accounts/user/").content.decode()
    assert f'?owner={user.pk}">3</a>' in page
    assert f'?owner={other_user.pk}">1</a>' in page


def test_items_filter_by_what_the_page_check_said(staff_client: Client, user: Any) -> None:
    def checked(page_type: str) -> dict[str, Any]:
        return {"page_check": {"status": "ok", "is_product": page_type == "product",
                               "page_type": page_type, "score": 0.3}}  # fmt: skip

    ItemFactory(owner=user, title="Kettle", extraction=checked("product"))
    ItemFactory(owner=user, title="Tent", extraction=checked("other"))
    ItemFactory(owner=user, title="Lamp", extraction=checked("collection"))
    ItemFactory(owner=user, title="Chair", extraction={})
    ItemFactory(owner=user, title="Stool", extraction={"page_check": {"status": "unavailable"}})

    def titles(query: str) -> set[str]:
        response = staff_client.get(f"/admin/carts/item/{query}")
        assert response.status_code == 200
        page = response.content.decode()
        return {t for t in ("Kettle", "Tent", "Lamp", "Chair", "Stool") if t in page}

    assert titles("") == {"Kettle", "Tent", "Lamp", "Chair", "Stool"}
    assert titles("?page_check=other") == {"Tent"}
    assert titles("?page_check=collection") == {"Lamp"}
    assert titles("?page_check=product") == {"Kettle"}
    assert titles("?page_check=none") == {"Chair", "Stool"}
    assert titles("?page_check=bogus") == {"Kettle", "Tent", "Lamp", "Chair", "Stool"}
