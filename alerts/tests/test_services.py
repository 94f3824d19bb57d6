"""Alert evaluation as plain services: fire once, re-arm, currency changes, replays."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from alerts import services
from alerts.models import Alert, Notification
from buyhive.exceptions import ValidationFailed
from carts import services as cart_services
from carts.models import Item

pytestmark = pytest.mark.django_db


@pytest.fixture
def item(user: Any) -> Item:
    item, _ = cart_services.item_upsert(
        owner=user,
        data={
            "url": "https://shop.example.com/p/1",
            "title": "Kettle",
            "price": "100.00",
            "currency": "EUR",
            "availability": "InStock",
        },
    )
    return item


class Clock:
    """Strictly increasing observation times, as carts would send them."""

    def __init__(self) -> None:
        self.now = timezone.now()

    def tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def change(
    item: Item,
    at: datetime,
    price: str | None,
    currency: str = "EUR",
    availability: str = "InStock",
) -> dict[str, Any]:
    return {
        "item_id": str(item.pk),
        "owner_id": str(item.owner_id),
        "new": {"price": price, "currency": currency, "availability": availability},
        "observed_at": at.isoformat(),
        "event": "test",
    }


def test_alert_needs_a_condition(item: Item) -> None:
    with pytest.raises(ValidationFailed):
        services.alert_set(item=item, data={})
    with pytest.raises(ValidationFailed):
        services.alert_set(item=item, data={"back_in_stock": False, "target_price": None})


def test_alert_records_base_price(item: Item) -> None:
    alert = services.alert_set(item=item, data={"drop_percent": "10"})
    assert alert.base_price == Decimal("100.00") and alert.base_currency == "EUR"


def test_target_fires_once_and_rearms(item: Item) -> None:
    clock = Clock()
    services.alert_set(item=item, data={"target_price": "80"})
    assert services.alert_evaluate(change=change(item, clock.tick(), "90.00")) == []
    fired = services.alert_evaluate(change=change(item, clock.tick(), "79.00"))
    assert [n.kind for n in fired] == ["target_reached"]
    assert fired[0].old["price"] == "90.00" and fired[0].new["price"] == "79.00"
    # Still below: no second notification.
    assert services.alert_evaluate(change=change(item, clock.tick(), "75.00")) == []
    # Back above re-arms; below again fires again.
    assert services.alert_evaluate(change=change(item, clock.tick(), "85.00")) == []
    again = services.alert_evaluate(change=change(item, clock.tick(), "70.00"))
    assert [n.kind for n in again] == ["target_reached"]
    assert Notification.objects.filter(kind="target_reached").count() == 2


def test_replayed_or_stale_change_does_not_notify_twice(item: Item) -> None:
    clock = Clock()
    services.alert_set(item=item, data={"target_price": "80"})
    crossing = change(item, clock.tick(), "79.00")
    assert len(services.alert_evaluate(change=crossing)) == 1
    assert services.alert_evaluate(change=crossing) == []
    # Re-armed by a later change, then the old crossing is delivered again: still nothing.
    assert services.alert_evaluate(change=change(item, clock.tick(), "95.00")) == []
    assert services.alert_evaluate(change=crossing) == []
    assert Notification.objects.count() == 1


def test_a_currency_change_is_never_a_drop(item: Item) -> None:
    clock = Clock()
    services.alert_set(item=item, data={"target_price": "80", "drop_percent": "10"})
    assert services.alert_evaluate(change=change(item, clock.tick(), "50.00", currency="GBP")) == []
    assert (
        services.alert_evaluate(change=change(item, clock.tick(), "8000.00", currency="JPY")) == []
    )
    fired = services.alert_evaluate(change=change(item, clock.tick(), "75.00"))
    assert sorted(n.kind for n in fired) == ["price_drop", "target_reached"]


def test_drop_percent_is_measured_from_base_price(item: Item) -> None:
    clock = Clock()
    services.alert_set(item=item, data={"drop_percent": "20"})
    assert services.alert_evaluate(change=change(item, clock.tick(), "80.01")) == []
    assert [
        n.kind for n in services.alert_evaluate(change=change(item, clock.tick(), "80.00"))
    ] == ["price_drop"]


def test_back_in_stock_fires_when_it_becomes_available(user: Any) -> None:
    item, _ = cart_services.item_upsert(
        owner=user,
        data={"url": "https://shop.example.com/p/2", "title": "Lamp", "availability": "OutOfStock"},
    )
    clock = Clock()
    services.alert_set(item=item, data={"back_in_stock": True})
    assert (
        services.alert_evaluate(change=change(item, clock.tick(), None, availability="SoldOut"))
        == []
    )
    fired = services.alert_evaluate(change=change(item, clock.tick(), None, availability="InStock"))
    assert [n.kind for n in fired] == ["back_in_stock"]
    assert fired[0].title == "Lamp is back in stock"


def test_a_condition_already_true_when_set_does_not_fire(item: Item) -> None:
    clock = Clock()
    services.alert_set(item=item, data={"target_price": "150", "back_in_stock": True})
    assert services.alert_evaluate(change=change(item, clock.tick(), "99.00")) == []
    alert = Alert.objects.get(item_id=item.pk)
    assert alert.state["target_reached"]["active"] is True


def test_alert_emails_off_marks_the_notification_not_to_mail(item: Item, user: Any) -> None:
    user.alert_emails = "off"
    user.save(update_fields=["alert_emails"])
    services.alert_set(item=item, data={"target_price": "80"})
    (notification,) = services.alert_evaluate(change=change(item, Clock().tick(), "79.00"))
    assert notification.mail == Notification.Mail.SKIPPED


def test_mark_read_refuses_another_users_notification(
    item: Item, user: Any, other_user: Any
) -> None:
    services.alert_set(item=item, data={"target_price": "80"})
    (notification,) = services.alert_evaluate(change=change(item, Clock().tick(), "79.00"))
    with pytest.raises(ValidationFailed):
        services.notifications_mark_read(user=other_user, ids=[str(notification.pk)])
    assert services.notifications_mark_read(user=user, ids=[str(notification.pk)]) == 1
    assert services.notifications_mark_read(user=user, ids=[str(notification.pk)]) == 0
