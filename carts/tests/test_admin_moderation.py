"""Moderation in the admin, as staff use it: share links, deactivation, the history, filters."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import RefreshToken, User
from accounts.tests.factories import UserFactory
from accounts.tokens import issue_tokens
from carts import services
from carts.models import Cart, Item
from carts.tests.factories import CartFactory, CartItemFactory, ItemFactory
from conftest import otp_admin_client_for

pytestmark = pytest.mark.django_db

CARTS = "/admin/carts/cart/"
ITEMS = "/admin/carts/item/"
USERS = "/admin/accounts/user/"


@pytest.fixture
def staff(db: Any) -> User:
    return UserFactory(email="staff@example.com", password="pw-staff-1234", staff=True)


@pytest.fixture
def staff_client(staff: User) -> Client:
    return otp_admin_client_for(staff)


def _shared_cart(owner: User, name: str) -> Cart:
    cart = services.cart_create(owner=owner, name=name)
    services.cart_share_link_create(cart=cart)
    return cart


def _public_view(cart_token: str) -> int:
    return APIClient().get(f"/api/v1/shared/{cart_token}/").status_code


def _history(obj: Any) -> list[LogEntry]:
    return list(LogEntry.objects.filter(object_id=str(obj.pk)).order_by("action_time"))


# ------------------------------------------------------------------------- share links


def test_revoking_share_links_stops_the_public_view_and_is_in_the_history(
    staff_client: Client, staff: User, user: User
) -> None:
    shared = _shared_cart(user, "Wish list")
    other = _shared_cart(user, "Other list")
    token, other_token = str(shared.share_token), str(other.share_token)
    assert _public_view(token) == 200

    response = staff_client.post(
        CARTS,
        {"action": "revoke_share_links", "_selected_action": [str(shared.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Revoked 1 share link(s)." in response.content.decode()
    assert _public_view(token) == 404
    assert _public_view(other_token) == 200  # not selected, still live
    shared.refresh_from_db()
    assert shared.share_token is None
    [entry] = _history(shared)
    assert entry.action_flag == CHANGE
    assert entry.user_id == staff.pk
    assert entry.get_change_message() == "Revoked the share link."
    assert _history(other) == []


def test_revoking_a_cart_without_a_link_changes_nothing_and_logs_nothing(
    staff_client: Client, user: User
) -> None:
    cart = services.cart_create(owner=user, name="Private")
    response = staff_client.post(
        CARTS, {"action": "revoke_share_links", "_selected_action": [str(cart.pk)]}, follow=True
    )
    assert "Revoked 0 share link(s)." in response.content.decode()
    assert _history(cart) == []


def test_carts_filter_by_live_share_link(staff_client: Client, user: User) -> None:
    _shared_cart(user, "Shared one")
    services.cart_create(owner=user, name="Kept private")

    def names(query: str) -> set[str]:
        page = staff_client.get(f"{CARTS}{query}")
        assert page.status_code == 200
        return {cart.name for cart in page.context["cl"].result_list}

    assert names("?shared=yes") == {"Shared one"}
    assert names("?shared=no") == {"Kept private"}
    assert names("") == {"Shared one", "Kept private"}
    assert "Shared (live link)" in staff_client.get(CARTS).content.decode()


# ------------------------------------------------------------------------- deactivation


def test_deactivating_a_user_revokes_sessions_and_share_links_and_is_logged(
    staff_client: Client, staff: User, user: User, other_user: User
) -> None:
    tokens = issue_tokens(user)
    mine = _shared_cart(user, "Alice's list")
    theirs = _shared_cart(other_user, "Bob's list")
    me = APIClient().get("/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert me.status_code == 200  # the auth cache now holds Alice

    response = staff_client.post(
        USERS, {"action": "deactivate_users", "_selected_action": [str(user.pk)]}, follow=True
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert not user.is_active
    assert not RefreshToken.objects.filter(user=user, revoked_at=None).exists()
    me = APIClient().get("/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert me.status_code == 401  # the cached copy was dropped
    refresh = APIClient().post(
        "/api/v1/auth/refresh/", {"refresh": tokens["refresh"]}, format="json"
    )
    assert refresh.status_code == 401
    assert _public_view(str(theirs.share_token)) == 200
    mine.refresh_from_db()
    assert mine.share_token is None
    [entry] = _history(user)
    assert entry.user_id == staff.pk
    assert "share links revoked: 1" in entry.get_change_message()
    assert "sessions revoked: 1" in entry.get_change_message()


def test_unticking_active_on_the_user_page_also_revokes_share_links(
    staff_client: Client, user: User
) -> None:
    cart = _shared_cart(user, "Alice's list")
    page = staff_client.get(f"{USERS}{user.pk}/change/")
    form = page.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name not in ("password", "groups", "user_permissions")
    }
    data.update(
        {
            "email": user.email,
            "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
            "socialaccount_set-TOTAL_FORMS": "0",
            "socialaccount_set-INITIAL_FORMS": "0",
        }
    )
    data.pop("is_active", None)  # unticked
    data = {k: ("on" if v is True else v) for k, v in data.items() if v is not False}
    response = staff_client.post(f"{USERS}{user.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert not user.is_active
    cart.refresh_from_db()
    assert cart.share_token is None


def test_reactivating_is_logged(staff_client: Client, user: User) -> None:
    User.objects.filter(pk=user.pk).update(is_active=False)
    staff_client.post(USERS, {"action": "reactivate_users", "_selected_action": [str(user.pk)]})
    [entry] = _history(user)
    assert entry.get_change_message() == "Reactivated."


def test_deleting_orphans_records_each_deleted_item(staff_client: Client, user: User) -> None:
    kept = CartItemFactory(cart=CartFactory(owner=user)).item
    orphan = ItemFactory(owner=user, title="Lonely")
    staff_client.post(
        ITEMS, {"action": "delete_orphans", "_selected_action": [str(kept.pk), str(orphan.pk)]}
    )
    assert [e.action_flag for e in _history(orphan)] == [DELETION]
    assert _history(kept) == []
    assert not Item.objects.filter(pk=orphan.pk).exists()


# ------------------------------------------------------------------------- item pages


def _labels(page: str, text: str) -> int:
    return len(re.findall(rf"<label[^>]*>\s*{text}:?\s*</label>", page, flags=re.IGNORECASE))


def test_the_item_page_shows_the_owner_once(staff_client: Client, user: User) -> None:
    item = ItemFactory(owner=user)
    page = staff_client.get(f"{ITEMS}{item.pk}/change/").content.decode()
    assert _labels(page, "Owner") == 1
    assert f"/admin/accounts/user/{user.pk}/change/" in page  # as a link to the user
    add = staff_client.get(f"{ITEMS}add/").content.decode()
    assert _labels(add, "Owner") == 1
    assert 'name="owner"' in add  # chosen when adding
    cart = CartFactory(owner=user)
    assert _labels(staff_client.get(f"{CARTS}{cart.pk}/change/").content.decode(), "Owner") == 1


def test_the_item_list_has_no_filter_enumerating_shops_but_searches_them(
    staff_client: Client, user: User
) -> None:
    for n in range(5):
        ItemFactory(owner=user, url=f"https://shop{n}.example.net/p", title=f"Thing {n}")
    page = staff_client.get(ITEMS)
    assert page.status_code == 200
    assert "shop3.example.net" not in "".join(
        str(spec.title) + str(list(spec.choices(page.context["cl"])))
        for spec in page.context["cl"].filter_specs
    )
    found = staff_client.get(f"{ITEMS}?q=shop3.example")
    assert [i.title for i in found.context["cl"].result_list] == ["Thing 3"]
