"""Data rights through the public endpoints: export everything, one cart as CSV, and delete
the account so that nothing of the user is left in any collection."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount
from bson import ObjectId, json_util
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import UserFactory
from accounts.user_data import user_delete
from alerts.models import Notification
from buyhive import registries
from buyhive.mail.models import OutboundMail
from carts.models import Cart, Item
from carts.tests.watch_pages import report, save
from carts.watch.models import Observation, WatchedProduct
from conftest import api_error, bearer_client_for

pytestmark = pytest.mark.django_db


def _login(email: str, password: str) -> dict[str, Any]:
    response = APIClient().post(
        "/api/v1/auth/login/", {"email": email, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def _bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def _cart_with_items(client: APIClient, name: str = "Gifts") -> dict[str, Any]:
    cart = client.post("/api/v1/carts/", {"name": name}, format="json").json()
    item = save(client, price="100.00")
    membership = client.post(
        f"/api/v1/carts/{cart['id']}/items/",
        {"item_id": item["id"], "note": '=HYPERLINK("http://evil.example")', "quantity": 2},
        format="json",
    )
    assert membership.status_code == 201, membership.content
    return {"cart": cart, "item": item}


def _everything_in_the_database() -> dict[str, list[str]]:
    """Every document of every collection, as extended JSON text, by collection."""
    db = connection.database
    return {
        name: [json_util.dumps(doc) for doc in db[name].find()]
        for name in db.list_collection_names()
    }


def _mentions(documents: dict[str, list[str]], needles: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, docs in documents.items():
        hits = [doc for doc in docs if any(needle.lower() in doc.lower() for needle in needles)]
        if hits:
            found[name] = hits
    return found


# --------------------------------------------------------------------------- export


def test_export_holds_every_part_of_the_users_data_and_nothing_of_others(
    auth_client: Any, user: Any, other_client: Any
) -> None:
    made = _cart_with_items(auth_client)
    auth_client.put(
        f"/api/v1/items/{made['item']['id']}/alert/", {"target_price": "80"}, format="json"
    )
    Notification.objects.create(
        owner=user,
        item_id=ObjectId(made["item"]["id"]),
        kind="price_drop",
        title="Kettle dropped",
        url=made["item"]["url"],
        old={"price": "100.00"},
        new={"price": "90.00"},
        dedupe_key="test:1",
    )
    _cart_with_items(other_client, name="Not yours")

    response = auth_client.get("/api/v1/auth/me/export/")

    assert response.status_code == 200, response.content
    assert response["Content-Disposition"] == 'attachment; filename="buyhive-export.json"'
    data = response.json()
    assert data["format_version"] == 1
    assert data["account"]["profile"]["email"] == user.email
    assert data["account"]["sign_in"] == {"password": True, "google": None}
    assert "password" not in json.dumps(data["account"]["profile"])
    (cart,) = data["carts"]["carts"]
    assert cart["name"] == "Gifts" and cart["shared"] is False
    (item,) = data["carts"]["items"]
    assert item["id"] == made["item"]["id"] and item["price"] == "100.00"
    (membership,) = data["carts"]["memberships"]
    assert membership == {
        "cart_id": made["cart"]["id"],
        "item_id": made["item"]["id"],
        "quantity": 2,
        "note": '=HYPERLINK("http://evil.example")',
        "price_at_add": "100.00",
        "currency_at_add": "EUR",
        "added_at": membership["added_at"],
    }
    (alert,) = data["alerts"]["alerts"]
    assert alert["item_id"] == made["item"]["id"] and alert["target_price"] == "80.00"
    (notification,) = data["alerts"]["notifications"]
    assert notification["title"] == "Kettle dropped"
    assert "Not yours" not in response.content.decode()


def test_export_needs_a_token(api_client: APIClient) -> None:
    api_error(api_client.get("/api/v1/auth/me/export/"), 401, "not_authenticated")


def test_export_is_rate_limited_per_user(auth_client: Any, settings: Any) -> None:
    settings.RATE_EXPORT_USER = "2/h"
    assert auth_client.get("/api/v1/auth/me/export/").status_code == 200
    assert auth_client.get("/api/v1/auth/me/export/").status_code == 200
    response = auth_client.get("/api/v1/auth/me/export/")
    api_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0


# --------------------------------------------------------------------------- CSV


def test_cart_exports_as_csv_in_added_order_with_formulas_defused(auth_client: Any) -> None:
    made = _cart_with_items(auth_client, name="Gifts 2026!")
    second = save(auth_client, price="1500", currency="JPY", url="https://jp.example.com/p/1")
    auth_client.put(
        f"/api/v1/items/{second['id']}/carts/", {"cart_ids": [made["cart"]["id"]]}, format="json"
    )

    response = auth_client.get(f"/api/v1/carts/{made['cart']['id']}/export.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="gifts-2026.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["item_id"] for row in rows] == [made["item"]["id"], second["id"]]
    assert rows[0]["note"] == '\'=HYPERLINK("http://evil.example")'
    assert rows[0]["quantity"] == "2" and rows[0]["price"] == "100.00"
    assert rows[1]["price"] == "1500" and rows[1]["currency"] == "JPY"


def test_csv_of_another_users_cart_is_a_json_404_even_when_asking_for_csv(
    auth_client: Any, other_client: Any
) -> None:
    theirs = other_client.post("/api/v1/carts/", {"name": "Theirs"}, format="json").json()
    response = auth_client.get(f"/api/v1/carts/{theirs['id']}/export.csv", HTTP_ACCEPT="text/csv")
    assert response["Content-Type"].startswith("application/json")
    api_error(response, 404, "not_found")
    api_error(auth_client.get("/api/v1/carts/not-an-id/export.csv"), 404, "not_found")
    api_error(APIClient().get(f"/api/v1/carts/{theirs['id']}/export.csv"), 401, "not_authenticated")


def test_csv_of_an_empty_cart_is_its_header(auth_client: Any) -> None:
    cart = auth_client.post("/api/v1/carts/", {"name": "Empty"}, format="json").json()
    response = auth_client.get(f"/api/v1/carts/{cart['id']}/export.csv")
    assert response.status_code == 200
    assert response.content.decode().splitlines() == [
        "title,url,price,currency,availability,quantity,note,price_at_add,currency_at_add,"
        "added_at,brand,sku,gtin,mpn,store_domain,image_url,item_id"
    ]


# --------------------------------------------------------------------------- delete


def test_delete_with_the_password_leaves_nothing_of_the_user(
    user: Any, password: str, other_client: Any, other_user: Any, settings: Any
) -> None:
    settings.WATCH_REPORT_INTERVAL_S = 0
    tokens = _login(user.email, password)
    client = _bearer(tokens["access"])
    made = _cart_with_items(client)
    client.put(f"/api/v1/items/{made['item']['id']}/alert/", {"target_price": "80"}, format="json")
    Notification.objects.create(
        owner=user,
        item_id=ObjectId(made["item"]["id"]),
        kind="price_drop",
        title="Kettle dropped",
        url=made["item"]["url"],
        dedupe_key=f"test:{made['item']['id']}",
    )
    # The same product saved by another user: the observations they pool.
    theirs = save(other_client, price="100.00")
    report(client, "90.00")
    report(other_client, "90.00")
    link = client.post(f"/api/v1/carts/{made['cart']['id']}/share-link/")
    assert link.status_code in (200, 201), link.content
    token = link.json()["url"].rstrip("/").rsplit("/", 1)[-1]
    assert APIClient().get(f"/api/v1/shared/{token}/").status_code == 200
    shared = client.post(
        f"/api/v1/carts/{made['cart']['id']}/share/",
        {"emails": ["friend@example.net"], "message": "from Alice"},
        format="json",
    )
    assert shared.status_code in (200, 202), shared.content
    assert OutboundMail.objects.filter(to="friend@example.net").exists()
    OutboundMail.objects.create(
        key=f"test:{user.pk}",
        kind="test",
        to=user.email,
        subject="Hello",
        reenqueue_at=timezone.now(),
    )
    observations_before = Observation.objects.count()
    assert observations_before >= 2
    assert _mentions(_everything_in_the_database(), [str(user.pk)])  # the scan sees the user

    response = client.delete("/api/v1/auth/me/", {"password": password}, format="json")

    assert response.status_code == 204, response.content
    assert not User.objects.filter(pk=user.pk).exists()
    # Nothing of the user in any collection: not the id, not the address.
    assert _mentions(_everything_in_the_database(), [str(user.pk), user.email]) == {}
    # Every session ended, the share link is gone, and the other user's data is whole.
    assert client.get("/api/v1/auth/me/").status_code == 401
    refreshed = APIClient().post(
        "/api/v1/auth/refresh/", {"refresh": tokens["refresh"]}, format="json"
    )
    assert refreshed.status_code == 401
    api_error(APIClient().get(f"/api/v1/shared/{token}/"), 404, "not_found")
    assert other_client.get(f"/api/v1/items/{theirs['id']}/").status_code == 200
    assert Item.objects.filter(owner=other_user).count() == 1
    # Pooled observations stay: they hold no user data.
    assert Observation.objects.count() == observations_before
    assert WatchedProduct.objects.count() == 1


def test_wrong_or_missing_password_deletes_nothing(auth_client: Any, user: Any) -> None:
    _cart_with_items(auth_client)
    error = api_error(
        auth_client.delete("/api/v1/auth/me/", {"password": "not it"}, format="json"),
        400,
        "validation_error",
    )
    assert "password" in error["fields"]
    api_error(auth_client.delete("/api/v1/auth/me/", {}, format="json"), 400, "validation_error")
    api_error(
        auth_client.delete("/api/v1/auth/me/", {"confirm": user.email}, format="json"),
        400,
        "validation_error",
    )
    assert User.objects.filter(pk=user.pk).exists()
    assert Cart.objects.filter(owner=user).count() == 1


def test_delete_attempts_are_rate_limited(auth_client: Any, settings: Any) -> None:
    settings.RATE_DELETE_ACCOUNT_USER = "2/h"
    for _ in range(2):
        api_error(
            auth_client.delete("/api/v1/auth/me/", {"password": "x"}, format="json"),
            400,
            "validation_error",
        )
    api_error(
        auth_client.delete("/api/v1/auth/me/", {"password": "x"}, format="json"),
        429,
        "rate_limited",
    )


def _google_only_user(signed_in_ago: timedelta) -> Any:
    user = UserFactory(email="g-only@example.com")
    user.set_unusable_password()
    user.save()
    account = SocialAccount.objects.create(
        user=user, provider="google", uid="google-sub-1", extra_data={"email": user.email}
    )
    # allauth stamps last_login on every save (a Google sign-in saves it): move it back.
    SocialAccount.objects.filter(pk=account.pk).update(last_login=timezone.now() - signed_in_ago)
    return user


def test_google_only_account_confirms_with_its_address_soon_after_signing_in() -> None:
    user = _google_only_user(timedelta(minutes=2))
    client = _bearer_for(user)
    error = api_error(
        client.delete("/api/v1/auth/me/", {"confirm": "someone@else.example"}, format="json"),
        400,
        "validation_error",
    )
    assert "confirm" in error["fields"]
    response = client.delete("/api/v1/auth/me/", {"confirm": "G-Only@Example.com"}, format="json")
    assert response.status_code == 204, response.content
    assert not User.objects.filter(pk=user.pk).exists()
    assert not SocialAccount.objects.filter(uid="google-sub-1").exists()


def test_google_only_account_must_sign_in_again_after_ten_minutes() -> None:
    user = _google_only_user(timedelta(minutes=11))
    error = api_error(
        _bearer_for(user).delete("/api/v1/auth/me/", {"confirm": user.email}, format="json"),
        400,
        "validation_error",
    )
    assert "Sign in with Google again" in error["fields"]["confirm"][0]
    assert User.objects.filter(pk=user.pk).exists()


def _bearer_for(user: Any) -> APIClient:
    return bearer_client_for(user)


def test_a_failing_part_rolls_the_whole_deletion_back(
    auth_client: Any, user: Any, password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hook that fails after every other app deleted its rows leaves the account whole."""
    _cart_with_items(auth_client)

    def fail(_user: Any) -> int:
        raise RuntimeError("the disk is full")

    # Registered first, so it runs last (deletion goes in reverse registration order).
    hooks = {"failing": registries.UserDataHooks(name="failing", delete=fail)}
    monkeypatch.setattr(registries, "_USER_DATA", {**hooks, **registries._USER_DATA})

    with pytest.raises(RuntimeError):
        user_delete(user=user, password=password)

    assert User.objects.filter(pk=user.pk).exists()
    assert Cart.objects.filter(owner=user).count() == 1
    assert Item.objects.filter(owner=user).count() == 1
    assert auth_client.get("/api/v1/carts/").status_code == 200


def test_admin_history_about_the_user_goes_with_the_account(
    auth_client: Any, user: Any, password: str, other_user: Any
) -> None:
    LogEntry.objects.create(
        user=other_user,
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(user.pk),
        object_repr=user.email,
        action_flag=CHANGE,
        change_message="deactivated",
    )
    assert (
        auth_client.delete("/api/v1/auth/me/", {"password": password}, format="json").status_code
        == 204
    )
    assert not LogEntry.objects.filter(object_id=str(user.pk)).exists()
