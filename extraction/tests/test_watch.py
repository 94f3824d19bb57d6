"""``POST watch/observations/``: matching, privacy, the hourly limit and the abuse rule."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from accounts.models import User
from carts.tests.watch_pages import URL, product_page, report, save
from carts.watch.models import Observation, WatchedProduct
from conftest import bearer_client_for

pytestmark = pytest.mark.django_db


def test_unmatched_page_is_dropped_without_a_trace(
    auth_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    save(auth_client)
    observations, products = Observation.objects.count(), WatchedProduct.objects.count()
    secret_url = "https://private.example.org/medical/condition-x?id=42"
    with caplog.at_level(logging.DEBUG):
        response = auth_client.post(
            "/api/v1/watch/observations/",
            {"url": secret_url, "html": product_page("9.99")},
            format="json",
        )
    assert response.status_code == 202
    assert response.json() == {
        "matched": False,
        "item_id": None,
        "price": None,
        "currency": None,
        "availability": None,
        "changed": {},
        "counted": False,
    }
    assert (Observation.objects.count(), WatchedProduct.objects.count()) == (observations, products)
    assert "private.example.org" not in caplog.text


def test_a_matched_page_is_extracted_and_recorded(auth_client: Any) -> None:
    item = save(auth_client)
    # The same page reached through a campaign link, with www and a trailing slash.
    body = report(
        auth_client,
        "17.49",
        url="https://shop.example.com/products/kettle?colour=red&gclid=abc&utm_medium=x",
        availability="OutOfStock",
    )
    assert body == {
        "matched": True,
        "item_id": item["id"],
        "price": "17.49",
        "currency": "EUR",
        "availability": "OutOfStock",
        "changed": {
            "price": {"from": "19.99", "to": "17.49"},
            "availability": {"from": "InStock", "to": "OutOfStock"},
        },
        "counted": True,
    }
    shown = auth_client.get(f"/api/v1/items/{item['id']}/").json()
    assert (shown["price"], shown["availability"]) == ("17.49", "OutOfStock")


def test_a_page_without_price_keeps_the_price(auth_client: Any) -> None:
    item = save(auth_client)
    body = report(auth_client, None, availability="SoldOut")
    assert (body["price"], body["currency"], body["availability"]) == ("19.99", "EUR", "SoldOut")
    assert body["changed"] == {"availability": {"from": "InStock", "to": "SoldOut"}}
    assert auth_client.get(f"/api/v1/items/{item['id']}/").json()["price"] == "19.99"


def test_a_text_only_report_is_read_with_the_title_sent_beside_it(auth_client: Any) -> None:
    save(auth_client)
    text = "Recently viewed\nToaster\n€9.99\nAdd to basket\nKettle\n€17.49\nAdd to basket"
    response = auth_client.post(
        "/api/v1/watch/observations/",
        {"url": URL, "text": text, "title": "Kettle | Shop"},
        format="json",
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["price"], body["changed"]) == (
        "17.49",
        {"price": {"from": "19.99", "to": "17.49"}},
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": URL},
        {"url": "ftp://x.example.com/a", "html": "<p>x</p>"},
        {"url": URL, "html": 5},
        {"url": URL, "text": "£5", "title": "t" * 1001},
        {"url": URL, "text": "£5", "title": {"a": 1}},
    ],
)
def test_bad_report_is_400(auth_client: Any, body: dict[str, Any]) -> None:
    response = auth_client.post("/api/v1/watch/observations/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_report_needs_a_token(api_client: Any) -> None:
    response = api_client.post(
        "/api/v1/watch/observations/", {"url": URL, "html": "<p>1</p>"}, format="json"
    )
    assert response.status_code == 401


def _account(email: str, *, verified: bool) -> Any:
    user = User.objects.create_user(email=email, password="pw-123456789", email_verified=verified)
    return bearer_client_for(user)


def _price(client: Any, item: dict[str, Any]) -> str:
    return client.get(f"/api/v1/items/{item['id']}/").json()["price"]


def test_one_users_forged_reports_reach_nobody_until_a_confirmed_second_observer_agrees(
    auth_client: Any, settings: Any
) -> None:
    settings.WATCH_REPORT_INTERVAL_S = 0  # let the forger report as often as they like
    alice_item = save(auth_client)  # alice: the victim, confirmed email
    forger = _account("mallory@example.com", verified=True)
    unverified = _account("dave@example.com", verified=False)
    witness = _account("erin@example.com", verified=True)
    save(forger)
    dave_item = save(unverified)
    save(witness)

    # The forger reports a fake price, again and again: only their own item moves.
    for _ in range(5):
        assert report(forger, "1.00")["price"] == "1.00"
    assert _price(auth_client, alice_item) == "19.99"
    history = auth_client.get(f"/api/v1/items/{alice_item['id']}/history/").json()
    assert all(point["price"] != "1.00" for point in history["points"])

    # An account saved after the change was first reported does not confirm it...
    late = _account("carol@example.com", verified=True)
    save(late)
    report(late, "1.00")
    assert _price(auth_client, alice_item) == "19.99"
    # ...nor one without a confirmed email, even saved before.
    report(unverified, "1.00")
    assert _price(auth_client, alice_item) == "19.99"

    # A confirmed account that saved the product before the change agrees: it reaches everyone.
    report(witness, "1.00")
    assert _price(auth_client, alice_item) == "1.00"
    assert _price(unverified, dave_item) == "1.00"
    history = auth_client.get(f"/api/v1/items/{alice_item['id']}/history/").json()
    assert history["points"][-1]["price"] == "1.00"
    assert history["current"]["price"] == "1.00"
