"""The user admin, driven with Django's test Client as a staff member would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import RefreshToken, User
from accounts.signals import account_deactivated
from accounts.tests.factories import UserFactory
from accounts.tokens import issue_tokens
from conftest import otp_admin_client_for

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/accounts/user/"


@pytest.fixture
def admin_user(password: str) -> User:
    return UserFactory(email="root@example.com", password=password, name="Root", staff=True)


@pytest.fixture
def staff_client(admin_user: User) -> Client:
    return otp_admin_client_for(admin_user)


def google_user(email: str, sub: str) -> User:
    user = UserFactory(email=email, email_verified=True)
    SocialAccount.objects.create(user=user, provider="google", uid=sub)
    return user


def emails_listed(response: Any) -> set[str]:
    return {str(u.email) for u in response.context["cl"].result_list}


def test_staff_can_sign_in_to_admin(password: str) -> None:
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    staff = UserFactory(email="staff@example.com", password=password, is_staff=True)
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client = Client()
    code = f"{TOTP(device.bin_key).token():06d}"
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "Staff@Example.com", "password": password, "otp_token": code},
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_non_staff_cannot_sign_in_to_admin(user: User, password: str) -> None:
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": user.email, "password": password}
    )
    assert response.status_code == 200  # the form again, with an error
    assert b"staff account" in response.content
    assert client.get("/admin/")["Location"].startswith("/admin/login/")


def test_changelist_search_by_email_and_name(
    staff_client: Client, user: User, other_user: User
) -> None:
    assert emails_listed(staff_client.get(CHANGELIST, {"q": "alice@"})) == {"alice@example.com"}
    assert emails_listed(staff_client.get(CHANGELIST, {"q": "bob"})) == {"bob@example.com"}


def test_changelist_filters_active_and_staff(
    staff_client: Client, user: User, other_user: User
) -> None:
    User.objects.filter(pk=other_user.pk).update(is_active=False)
    assert emails_listed(staff_client.get(CHANGELIST, {"is_active__exact": "0"})) == {
        "bob@example.com"
    }
    assert emails_listed(staff_client.get(CHANGELIST, {"is_staff__exact": "1"})) == {
        "root@example.com"
    }


def test_changelist_filters_date_joined(staff_client: Client, user: User) -> None:
    response = staff_client.get(CHANGELIST, {"date_joined__gte": "2000-01-01 00:00:00+00:00"})
    assert response.status_code == 200
    assert "alice@example.com" in emails_listed(response)
    old = staff_client.get(CHANGELIST, {"date_joined__lt": "2000-01-01 00:00:00+00:00"})
    assert emails_listed(old) == set()


def test_changelist_filters_sign_in_provider(staff_client: Client, user: User) -> None:
    google_user("g1@example.com", "sub-1")
    google_user("g2@example.com", "sub-2")
    page = staff_client.get(CHANGELIST)
    assert b"?provider=google" in page.content
    assert b"?provider=password" in page.content
    assert emails_listed(staff_client.get(CHANGELIST, {"provider": "google"})) == {
        "g1@example.com",
        "g2@example.com",
    }
    assert emails_listed(staff_client.get(CHANGELIST, {"provider": "password"})) == {
        "alice@example.com",
        "root@example.com",
    }


def test_provider_filter_query_count_does_not_grow_with_rows(staff_client: Client) -> None:
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = staff_client.get(CHANGELIST, {"provider": "google"})
        assert response.status_code == 200
        return len(queries)

    google_user("g1@example.com", "sub-1")
    few = count_queries()
    for index in range(2, 8):
        google_user(f"g{index}@example.com", f"sub-{index}")
    assert count_queries() == few


def test_deactivate_action_revokes_tokens(
    staff_client: Client, user: User, other_user: User
) -> None:
    tokens = issue_tokens(user)
    issue_tokens(other_user)
    response = staff_client.post(
        CHANGELIST, {"action": "deactivate_users", "_selected_action": [str(user.pk)]}, follow=True
    )
    assert response.status_code == 200
    user.refresh_from_db()
    other_user.refresh_from_db()
    assert not user.is_active
    assert other_user.is_active
    assert not RefreshToken.objects.filter(user=user, revoked_at=None).exists()
    assert RefreshToken.objects.filter(user=other_user, revoked_at=None).count() == 1
    from rest_framework.test import APIClient

    me = APIClient().get("/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert me.status_code == 401


def shown_messages(response: Any) -> list[tuple[str, str]]:
    """The messages the page shows the staff member: (level, text)."""
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def test_deactivate_action_skips_yourself(staff_client: Client, admin_user: User) -> None:
    response = staff_client.post(
        CHANGELIST,
        {"action": "deactivate_users", "_selected_action": [str(admin_user.pk)]},
        follow=True,
    )
    admin_user.refresh_from_db()
    assert admin_user.is_active
    assert shown_messages(response) == [
        ("warning", "You cannot deactivate yourself; no user was deactivated.")
    ]


def test_deactivating_several_users_is_one_message_with_the_count(
    staff_client: Client, admin_user: User, user: User, other_user: User
) -> None:
    both = [str(user.pk), str(other_user.pk)]
    response = staff_client.post(
        CHANGELIST, {"action": "deactivate_users", "_selected_action": both}, follow=True
    )
    assert shown_messages(response) == [
        ("success", "2 user(s) deactivated; their sessions and share links were revoked.")
    ]

    # Yourself among them: still one message, saying both what was done and what was not.
    User.objects.filter(pk__in=both).update(is_active=True)
    response = staff_client.post(
        CHANGELIST,
        {"action": "deactivate_users", "_selected_action": [str(admin_user.pk), *both]},
        follow=True,
    )
    assert shown_messages(response) == [
        (
            "warning",
            "2 user(s) deactivated; their sessions and share links were revoked. "
            "Your own account was skipped: you cannot deactivate yourself.",
        )
    ]
    assert User.objects.filter(pk__in=both, is_active=False).count() == 2
    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_reactivate_action(staff_client: Client, user: User) -> None:
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = staff_client.post(
        CHANGELIST, {"action": "reactivate_users", "_selected_action": [str(user.pk)]}, follow=True
    )
    user.refresh_from_db()
    assert user.is_active
    assert shown_messages(response) == [("success", "1 user(s) reactivated.")]


def test_add_user_with_existing_email_in_other_case_is_a_form_error(
    staff_client: Client, user: User
) -> None:
    response = staff_client.post(
        f"{CHANGELIST}add/",
        {
            "email": "ALICE@example.com",
            "usable_password": "true",
            "password1": "some long passphrase 1",
            "password2": "some long passphrase 1",
        },
    )
    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    assert User.objects.filter(email="alice@example.com").count() == 1


def test_add_user_normalises_email(staff_client: Client) -> None:
    response = staff_client.post(
        f"{CHANGELIST}add/",
        {
            "email": "New.Person@Example.com",
            "usable_password": "true",
            "password1": "some long passphrase 1",
            "password2": "some long passphrase 1",
        },
    )
    assert response.status_code == 302
    assert User.objects.filter(email="new.person@example.com").exists()


def test_change_page_shows_linked_google_account(staff_client: Client) -> None:
    """Needs the embedded database's ``$addFields`` fix (buyhive/devdb/addfields.py)."""
    linked = google_user("g@example.com", "google-sub-42")
    response = staff_client.get(f"{CHANGELIST}{linked.pk}/change/")
    assert response.status_code == 200
    assert b"google-sub-42" in response.content


def change_page_data(staff_client: Client, user: User) -> dict[str, Any]:
    """What the user's change page posts back when "active" is unticked and nothing else."""
    form = staff_client.get(f"{CHANGELIST}{user.pk}/change/").context["adminform"].form
    data = {
        k: v
        for k, v in form.initial.items()
        if v is not None and k not in {"groups", "user_permissions"}
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
    data.pop("password", None)
    data.pop("last_login", None)
    return data


def me_status(access: str) -> int:
    from rest_framework.test import APIClient

    response = APIClient().get("/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Bearer {access}")
    return int(response.status_code)


class UpperAppFails(Exception):
    """What a receiver of ``account_deactivated`` raises in the tests below."""


class FailingReceiver:
    """An upper app whose part of a deactivation fails (after the tokens were revoked).

    It fails on its ``fail_on_call``-th call (the first by default); ``calls`` lists the users
    it was called for.
    """

    def __init__(self) -> None:
        self.calls: list[Any] = []
        self.fail_on_call = 1

    def __call__(self, sender: Any, user: Any, **_: Any) -> dict[str, int]:
        self.calls.append(user.pk)
        if len(self.calls) == self.fail_on_call:
            raise UpperAppFails(str(user.pk))
        return {}


@pytest.fixture
def failing_receiver() -> Iterator[FailingReceiver]:
    receiver = FailingReceiver()
    account_deactivated.connect(receiver, dispatch_uid="test-failing-receiver")
    try:
        yield receiver
    finally:
        account_deactivated.disconnect(dispatch_uid="test-failing-receiver")


def test_unticking_active_on_change_page_revokes_tokens(staff_client: Client, user: User) -> None:
    """Needs the embedded database's ``$addFields`` fix (buyhive/devdb/addfields.py)."""
    tokens = issue_tokens(user)
    assert me_status(tokens["access"]) == 200  # the user is now in the auth cache too
    url = f"{CHANGELIST}{user.pk}/change/"
    response = staff_client.post(url, change_page_data(staff_client, user))
    assert response.status_code == 302, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert not user.is_active
    assert not RefreshToken.objects.filter(user=user, revoked_at=None).exists()
    assert me_status(tokens["access"]) == 401


def test_unticking_active_is_all_or_nothing(
    staff_client: Client, user: User, failing_receiver: FailingReceiver
) -> None:
    """A deactivation that fails half-way leaves the user as they were, history included."""
    tokens = issue_tokens(user)
    data = change_page_data(staff_client, user)
    with pytest.raises(UpperAppFails):
        staff_client.post(f"{CHANGELIST}{user.pk}/change/", data)
    assert failing_receiver.calls == [user.pk]  # the failure came after the revocation
    user.refresh_from_db()
    assert user.is_active
    assert RefreshToken.objects.filter(user=user, revoked_at=None).count() == 1
    assert not LogEntry.objects.filter(object_id=str(user.pk)).exists()
    assert me_status(tokens["access"]) == 200


def test_deactivate_action_is_all_or_nothing(
    staff_client: Client, user: User, other_user: User, failing_receiver: FailingReceiver
) -> None:
    """The second user's deactivation fails: the first one's is rolled back with it."""
    failing_receiver.fail_on_call = 2
    issue_tokens(user)
    issue_tokens(other_user)
    with pytest.raises(UpperAppFails):
        staff_client.post(
            CHANGELIST,
            {"action": "deactivate_users", "_selected_action": [str(user.pk), str(other_user.pk)]},
        )
    assert len(failing_receiver.calls) == 2
    assert User.objects.filter(pk__in=[user.pk, other_user.pk], is_active=True).count() == 2
    assert RefreshToken.objects.filter(revoked_at=None).count() == 2
    assert not LogEntry.objects.exists()


def test_password_change_page_sets_the_password_and_records_it(
    staff_client: Client, user: User
) -> None:
    """The password page runs in the admin's transaction too (its own view, not the form's)."""
    response = staff_client.post(
        f"{CHANGELIST}{user.pk}/password/",
        {
            "usable_password": "true",
            "password1": "a brand new passphrase 9",
            "password2": "a brand new passphrase 9",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a brand new passphrase 9")
    assert LogEntry.objects.filter(object_id=str(user.pk)).exists()
