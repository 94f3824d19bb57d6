"""The price watch on the carts side: match strings, observations, history, roll-up."""

from __future__ import annotations

import importlib
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from carts import services
from carts.models import Item
from carts.tests.mongo_commands import listening
from carts.tests.watch_pages import URL, report, save
from carts.watch import services as watch
from carts.watch.matching import DROP_PARAMS, match_key, observer_hash
from carts.watch.models import DailyPoint, Observation, WatchedProduct

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------------------ matching


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.Shop.Example.com/p/123/?utm_source=x&gclid=1", "shop.example.com/p/123"),
        ("https://shop.example.com/item?id=7&ref=abc", "shop.example.com/item?id=7"),
        ("http://shop.example.com/item?b=2&a=1&UTM_medium=m", "shop.example.com/item?a=1&b=2"),
        ("https://shop.example.com:8443/", "shop.example.com"),
        ("https://shop.example.com/a%7eb?q=a%20b#frag", "shop.example.com/a~b?q=a%20b"),
        ("not a url", ""),
        ("", ""),
    ],
)
def test_match_key_follows_the_extension_rule(url: str, expected: str) -> None:
    assert match_key(url) == expected


def test_drop_params_name_the_tracking_parameters() -> None:
    assert "gclid" in DROP_PARAMS and "fbclid" in DROP_PARAMS
    assert list(DROP_PARAMS) == sorted(DROP_PARAMS)


# ------------------------------------------------------------------------------ watch/urls


def test_watch_urls_lists_the_users_items_with_an_etag(auth_client: Any, other_client: Any) -> None:
    mine = save(auth_client)
    save(other_client, url="https://other.example.com/p/9")
    response = auth_client.get("/api/v1/watch/urls/")
    assert response.status_code == 200
    body = response.json()
    assert body["items"] == [
        {"item_id": mine["id"], "match": "shop.example.com/products/kettle?colour=red"}
    ]
    assert "gclid" in body["drop_params"]
    etag = response["ETag"]

    again = auth_client.get("/api/v1/watch/urls/", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again["ETag"] == etag
    # Weak comparison, a list of tags, and "*" (RFC 9110): all match.
    for header in (f"W/{etag}", f'"other", {etag}', "*"):
        assert auth_client.get("/api/v1/watch/urls/", HTTP_IF_NONE_MATCH=header).status_code == 304
    assert auth_client.get("/api/v1/watch/urls/", HTTP_IF_NONE_MATCH='"other"').status_code == 200

    save(auth_client, url="https://shop.example.com/products/toaster")
    changed = auth_client.get("/api/v1/watch/urls/", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert len(changed.json()["items"]) == 2


def test_watch_urls_costs_a_couple_of_commands(auth_client: Any, user: Any) -> None:
    for index in range(30):
        services.item_upsert(owner=user, data={"url": f"https://shop.example.com/p/{index}"})
    with listening() as recorder:
        response = auth_client.get("/api/v1/watch/urls/")
    assert response.status_code == 200
    assert len(response.json()["items"]) == 30
    # The user (authentication) and one read of the item keys (session bookkeeping aside).
    database = [c for c in recorder.commands if c.body.get("$db") != "admin"]
    assert [c.collection for c in database] == ["accounts_user", "carts_item"], database


def test_watch_urls_needs_a_token(api_client: Any) -> None:
    response = api_client.get("/api/v1/watch/urls/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


# ------------------------------------------------------------------------------ observations


def test_saving_records_the_first_point_without_the_users_id(user: Any) -> None:
    item, _created = services.item_upsert(
        owner=user,
        data={"url": URL, "price": "19.99", "currency": "EUR", "availability": "InStock"},
    )
    observations = list(Observation.objects.all())
    assert len(observations) == 1
    obs = observations[0]
    assert obs.kind == "save" and obs.price == Decimal("19.99") and obs.currency == "EUR"
    assert obs.observer == observer_hash(user_id=user.pk, product_key=item.watch_key)
    raw = connection.database["carts_observation"].find_one({"_id": obs.pk})
    assert set(raw) == {
        "_id",
        "product_id",
        "observer",
        "kind",
        "observed_at",
        "price",
        "currency",
        "availability",
        "confirmed",
    }
    assert str(user.pk) not in str(raw) and user.email not in str(raw)


def test_a_report_right_after_saving_is_taken_and_a_second_one_within_the_hour_is_not(
    auth_client: Any,
) -> None:
    item = save(auth_client)
    first = report(auth_client, "17.50")
    assert first["matched"] is True and first["counted"] is True
    assert first["item_id"] == item["id"]
    assert first["changed"] == {"price": {"from": "19.99", "to": "17.50"}}
    second = report(auth_client, "15.00")
    assert second["counted"] is False and second["changed"] == {}
    assert Observation.objects.filter(kind="report").count() == 1
    assert auth_client.get(f"/api/v1/items/{item['id']}/").json()["price"] == "17.50"


def test_an_edit_is_the_users_own_report_and_is_not_limited(
    auth_client: Any, settings: Any
) -> None:
    item = save(auth_client)
    report(auth_client, "17.50")
    response = auth_client.patch(f"/api/v1/items/{item['id']}/", {"price": "16.00"}, format="json")
    assert response.status_code == 200
    kinds = list(Observation.objects.order_by("observed_at").values_list("kind", "price"))
    assert kinds == [
        ("save", Decimal("19.99")),
        ("report", Decimal("17.50")),
        ("edit", Decimal("16.00")),
    ]


# ------------------------------------------------------------------------------ history


def _past(item: Item, when: Any, price: str, currency: str = "EUR") -> None:
    """An own observation of ``item`` at ``when`` (as an earlier report would have left)."""
    Observation.objects.create(
        product=WatchedProduct.objects.get(key=item.watch_key),
        observer=observer_hash(user_id=item.owner_id, product_key=item.watch_key),
        kind="report",
        observed_at=when,
        price=Decimal(price),
        currency=currency,
        availability="InStock",
    )


def test_history_has_one_point_per_day_with_lowest_highest_and_current(auth_client: Any) -> None:
    item_body = save(auth_client)
    item = Item.objects.get(pk=item_body["id"])
    now = timezone.now()
    # Reports at fixed hours of earlier days: "now" minus hours would put two of them on one
    # day when the test runs just after midnight (UTC).
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
    _past(item, noon - timedelta(days=3), "21.00")
    _past(item, noon - timedelta(days=2, hours=2), "18.00")
    _past(item, noon - timedelta(days=2, hours=1), "17.00")  # the day's last wins
    _past(item, noon - timedelta(days=30), "5.00")  # outside ?days=7
    response = auth_client.get(f"/api/v1/items/{item.pk}/history/?days=7")
    assert response.status_code == 200
    body = response.json()
    assert body["item_id"] == str(item.pk) and body["currency"] == "EUR"
    assert [(p["date"], p["price"]) for p in body["points"]] == [
        ((noon - timedelta(days=3)).date().isoformat(), "21.00"),
        ((noon - timedelta(days=2)).date().isoformat(), "17.00"),
        (now.date().isoformat(), "19.99"),
    ]
    assert body["lowest"] == {"price": "17.00", "date": body["points"][1]["date"]}
    assert body["highest"] == {"price": "21.00", "date": body["points"][0]["date"]}
    assert body["current"]["price"] == "19.99" and body["current"]["currency"] == "EUR"
    assert body["current"]["availability"] == "InStock"


def test_history_compares_prices_only_in_the_current_currency(auth_client: Any) -> None:
    item_body = save(auth_client, price="10.00")
    item = Item.objects.get(pk=item_body["id"])
    _past(item, timezone.now() - timedelta(days=2), "1.00", currency="USD")
    body = auth_client.get(f"/api/v1/items/{item.pk}/history/").json()
    assert [p["currency"] for p in body["points"]] == ["USD", "EUR"]
    today = body["points"][-1]["date"]
    assert body["lowest"] == body["highest"] == {"price": "10.00", "date": today}


@pytest.mark.parametrize("days", ["0", "366", "abc", "-1"])
def test_history_refuses_bad_days(auth_client: Any, days: str) -> None:
    item = save(auth_client)
    response = auth_client.get(f"/api/v1/items/{item['id']}/history/?days={days}")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["days"]


def test_history_of_unknown_or_other_users_item_is_404(auth_client: Any, other_client: Any) -> None:
    theirs = save(other_client)
    for item_id in (theirs["id"], "0123456789abcdef01234567", "nope"):
        response = auth_client.get(f"/api/v1/items/{item_id}/history/")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


# ------------------------------------------------------------------------------ roll-up


def test_roll_up_keeps_daily_points_for_good_and_raw_observations_90_days(
    auth_client: Any, other_client: Any, other_user: Any, settings: Any
) -> None:
    mine = save(auth_client)
    save(other_client)
    item = Item.objects.get(pk=mine["id"])
    now = timezone.now()
    old = now - timedelta(days=100)
    _past(item, old, "12.00")
    assert Observation.objects.filter(observed_at__lt=now - timedelta(days=90)).count() == 1

    result = watch.observations_roll_up(now=now, days=120)
    assert result["deleted"] == 1
    assert not Observation.objects.filter(observed_at__lt=now - timedelta(days=90)).exists()
    own = observer_hash(user_id=item.owner_id, product_key=item.watch_key)
    point = DailyPoint.objects.get(series=own, day=old.date())
    assert point.price == Decimal("12.00")
    # Rolling up again changes nothing.
    again = watch.observations_roll_up(now=now, days=120)
    assert again["deleted"] == 0
    assert DailyPoint.objects.filter(series=own, day=old.date()).count() == 1

    body = auth_client.get(f"/api/v1/items/{item.pk}/history/?days=365").json()
    assert {
        "date": old.date().isoformat(),
        "price": "12.00",
        "currency": "EUR",
        "availability": "InStock",
    } in body["points"]
    # Another saver never sees this user's own unconfirmed point.
    theirs = other_client.get("/api/v1/items/").json()["results"][0]
    other_points = other_client.get(f"/api/v1/items/{theirs['id']}/history/?days=365").json()[
        "points"
    ]
    assert all(point["price"] != "12.00" for point in other_points)


# ------------------------------------------------------------------------------ data migration


def test_data_migration_records_each_existing_items_price_once(user: Any, other_user: Any) -> None:
    item, _ = services.item_upsert(
        owner=user, data={"url": URL, "price": "5.00", "currency": "EUR"}
    )
    services.item_upsert(owner=other_user, data={"url": URL, "price": "6.00", "currency": "EUR"})
    services.item_upsert(owner=user, data={"url": "https://shop.example.com/no-price"})
    Observation.objects.all().delete()
    WatchedProduct.objects.all().delete()
    Item.objects.update(watch_key=None)

    migration = importlib.import_module("carts.migrations.0004_watch_first_observations")
    migration.forwards(apps, None)
    migration.forwards(apps, None)

    assert WatchedProduct.objects.count() == 1
    assert sorted(Observation.objects.values_list("price", flat=True)) == [
        Decimal("5.00"),
        Decimal("6.00"),
    ]
    item.refresh_from_db()
    assert item.watch_key == "shop.example.com/products/kettle?colour=red"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer not-a-token", "Bearer eyJhbGciOiJub25lIn0.e30.", "Basic Zm9v"],
)
def test_watch_urls_refuses_requests_without_a_valid_token(header: str | None) -> None:
    from rest_framework.test import APIClient

    extra = {"HTTP_AUTHORIZATION": header, "HTTP_IF_NONE_MATCH": "*"} if header else {}
    response = APIClient().get("/api/v1/watch/urls/", **extra)
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"not_authenticated", "token_invalid"}
