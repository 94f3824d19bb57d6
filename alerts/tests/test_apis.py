"""The alerts and notifications API, through the public endpoints, with the error envelope."""

from __future__ import annotations

from typing import Any

import pytest

from buyhive.tests.task_worker import wait_for
from carts.tests.watch_pages import report, save
from conftest import api_error

pytestmark = pytest.mark.django_db


def test_alert_get_put_delete(auth_client: Any) -> None:
    item = save(auth_client, price="100.00")
    url = f"/api/v1/items/{item['id']}/alert/"
    api_error(auth_client.get(url), 404, "not_found")

    response = auth_client.put(url, {"target_price": "80", "drop_percent": 10}, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "target_price": "80.00",
        "drop_percent": "10.00",
        "back_in_stock": False,
        "base_price": "100.00",
        "currency": "EUR",
    }
    assert auth_client.get(url).json()["target_price"] == "80.00"

    replaced = auth_client.put(url, {"back_in_stock": True}, format="json").json()
    assert replaced["target_price"] is None and replaced["back_in_stock"] is True

    assert auth_client.delete(url).status_code == 204
    api_error(auth_client.get(url), 404, "not_found")
    api_error(auth_client.delete(url), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "non_field_errors"),
        ({"back_in_stock": False}, "non_field_errors"),
        ({"target_price": "abc"}, "target_price"),
        ({"target_price": "-1"}, "target_price"),
        ({"target_price": "1.999"}, "target_price"),
        ({"drop_percent": 100}, "drop_percent"),
        ({"drop_percent": 0}, "drop_percent"),
        ({"back_in_stock": "yes"}, "back_in_stock"),
        ({"target_price": "5", "owner": "x"}, "owner"),
    ],
)
def test_alert_bad_input_is_400(auth_client: Any, body: dict[str, Any], field: str) -> None:
    item = save(auth_client)
    error = api_error(
        auth_client.put(f"/api/v1/items/{item['id']}/alert/", body, format="json"),
        400,
        "validation_error",
    )
    assert field in error["fields"]


def test_price_alert_on_an_item_without_price_is_400(auth_client: Any) -> None:
    response = auth_client.post(
        "/api/v1/items/", {"url": "https://shop.example.com/p/none"}, format="json"
    )
    error = api_error(
        auth_client.put(
            f"/api/v1/items/{response.json()['id']}/alert/", {"drop_percent": 5}, format="json"
        ),
        400,
        "validation_error",
    )
    assert "drop_percent" in error["fields"]


def test_alert_on_unknown_or_other_users_item_is_404(auth_client: Any, other_client: Any) -> None:
    theirs = save(other_client)
    other_client.put(f"/api/v1/items/{theirs['id']}/alert/", {"target_price": "1"}, format="json")
    for item_id in (theirs["id"], "0123456789abcdef01234567", "x"):
        url = f"/api/v1/items/{item_id}/alert/"
        api_error(auth_client.get(url), 404, "not_found")
        api_error(auth_client.put(url, {"target_price": "1"}, format="json"), 404, "not_found")
        api_error(auth_client.delete(url), 404, "not_found")
    assert other_client.get(f"/api/v1/items/{theirs['id']}/alert/").status_code == 200


def test_notifications_list_unread_and_mark_read(
    auth_client: Any, other_client: Any, worker: Any
) -> None:
    item = save(auth_client, price="100.00")
    auth_client.put(f"/api/v1/items/{item['id']}/alert/", {"target_price": "80"}, format="json")
    report(auth_client, "79.00")

    listing = wait_for(
        lambda: (
            found
            if (found := auth_client.get("/api/v1/notifications/?unread=true").json())["count"]
            else None
        ),
        what="the notification",
    )
    assert listing["count"] == 1
    (notification,) = listing["results"]
    assert notification["kind"] == "target_reached"
    assert notification["item_id"] == item["id"]
    assert notification["old"] == {"price": "100.00", "currency": "EUR", "availability": "InStock"}
    assert notification["new"] == {"price": "79.00", "currency": "EUR", "availability": "InStock"}
    assert notification["read_at"] is None
    assert notification["url"] == item["url"]
    assert other_client.get("/api/v1/notifications/").json()["count"] == 0

    # Another user's id, or an unknown one, is a 400 and marks nothing.
    error = api_error(
        other_client.post(
            "/api/v1/notifications/read/", {"ids": [notification["id"]]}, format="json"
        ),
        400,
        "validation_error",
    )
    assert "ids" in error["fields"]
    api_error(
        auth_client.post("/api/v1/notifications/read/", {}, format="json"), 400, "validation_error"
    )
    api_error(auth_client.get("/api/v1/notifications/?unread=maybe"), 400, "validation_error")

    response = auth_client.post(
        "/api/v1/notifications/read/", {"ids": [notification["id"]]}, format="json"
    )
    assert response.status_code == 204
    assert auth_client.get("/api/v1/notifications/?unread=true").json()["count"] == 0
    everything = auth_client.get("/api/v1/notifications/").json()["results"]
    assert everything[0]["read_at"] is not None

    assert (
        auth_client.post("/api/v1/notifications/read/", {"all": True}, format="json").status_code
        == 204
    )


def test_alert_emails_on_me(auth_client: Any) -> None:
    assert auth_client.get("/api/v1/auth/me/").json()["alert_emails"] == "daily"
    response = auth_client.patch("/api/v1/auth/me/", {"alert_emails": "immediate"}, format="json")
    assert response.status_code == 200
    assert response.json()["alert_emails"] == "immediate"
    assert auth_client.get("/api/v1/auth/me/").json()["alert_emails"] == "immediate"
    error = api_error(
        auth_client.patch("/api/v1/auth/me/", {"alert_emails": "hourly"}, format="json"),
        400,
        "validation_error",
    )
    assert "alert_emails" in error["fields"]
