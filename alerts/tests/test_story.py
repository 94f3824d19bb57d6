"""The whole price-watch story through a real worker: save, a drop below the target, the
notification and its mail, mark read, re-arm, a second crossing, and a replayed task."""

from __future__ import annotations

from typing import Any

import pytest

from alerts import emails, tasks
from alerts.models import Notification
from buyhive.mail.models import OutboundMail
from buyhive.tests.task_worker import broker_unreachable, wait_for
from carts.tests.watch_pages import report, save
from carts.watch.models import Observation

pytestmark = pytest.mark.django_db


def _notifications(client: Any, *, unread: bool = False) -> list[dict[str, Any]]:
    query = "?unread=true" if unread else ""
    return client.get(f"/api/v1/notifications/{query}").json()["results"]


def _wait_for_notifications(client: Any, count: int) -> list[dict[str, Any]]:
    return wait_for(
        lambda: found if len(found := _notifications(client)) >= count else None,
        what=f"{count} notification(s)",
    )


def test_the_whole_story_through_a_real_worker(
    auth_client: Any, user: Any, worker: Any, settings: Any
) -> None:
    settings.WATCH_REPORT_INTERVAL_S = 0  # several reports in one test
    me = auth_client.patch("/api/v1/auth/me/", {"alert_emails": "immediate"}, format="json")
    assert me.json()["alert_emails"] == "immediate"
    item = save(auth_client, price="100.00")
    alert = auth_client.put(
        f"/api/v1/items/{item['id']}/alert/", {"target_price": "80"}, format="json"
    )
    assert alert.status_code == 200

    # A report above the target: nothing.
    report(auth_client, "90.00")
    # A drop below the target: a notification and a mail, by the worker.
    assert report(auth_client, "79.00")["changed"] == {"price": {"from": "90.00", "to": "79.00"}}
    (first,) = _wait_for_notifications(auth_client, 1)
    assert first["kind"] == "target_reached"
    assert first["old"]["price"] == "90.00" and first["new"]["price"] == "79.00"
    assert first["title"] == "Kettle reached your target price"
    (mail,) = worker.wait_for_messages(to=user.email)
    assert mail["Subject"] == "Kettle reached your target price"
    assert "79.00 EUR" in mail.get_body(("plain",)).get_content()
    assert mail["List-Unsubscribe"] and mail["List-Unsubscribe-Post"]

    # Mark it read.
    response = auth_client.post(
        "/api/v1/notifications/read/", {"ids": [first["id"]]}, format="json"
    )
    assert response.status_code == 204
    assert _notifications(auth_client, unread=True) == []

    # Still below: no second notification. Back above re-arms; below again notifies again.
    report(auth_client, "78.00")
    report(auth_client, "95.00")
    report(auth_client, "70.00")
    second = _wait_for_notifications(auth_client, 2)[0]
    assert second["new"]["price"] == "70.00" and second["old"]["price"] == "95.00"
    assert second["read_at"] is None
    worker.wait_for_messages(to=user.email, count=2)

    # The first crossing's task delivered again (at-least-once queues do that): nothing new.
    crossing = Observation.objects.get(kind="report", price="79.00")
    change = {
        "item_id": item["id"],
        "owner_id": str(user.pk),
        "new": {"price": "79.00", "currency": "EUR", "availability": "InStock"},
        "observed_at": crossing.observed_at.isoformat(),
        "event": str(crossing.pk),
    }
    replays = [tasks.evaluate.apply_async(kwargs={"change": change}) for _ in range(2)]
    for replay in replays:
        wait_for(lambda replay=replay: f"[{replay.id}] succeeded" in worker.log(), what="replay")
    assert len(_notifications(auth_client)) == 2
    assert emails.notifications_mail_now(item_id=item["id"]) == 0
    assert OutboundMail.objects.filter(kind="price_alert").count() == 2
    assert len(worker.messages_to(user.email)) == 2


def test_daily_digest_collects_pending_notifications_once(
    auth_client: Any, user: Any, worker: Any, settings: Any
) -> None:
    settings.WATCH_REPORT_INTERVAL_S = 0
    item = save(auth_client, price="100.00")
    auth_client.put(
        f"/api/v1/items/{item['id']}/alert/",
        {"target_price": "80", "drop_percent": "10"},
        format="json",
    )
    report(auth_client, "79.00")
    _wait_for_notifications(auth_client, 2)
    assert worker.messages_to(user.email) == []  # "daily" (the default) waits for the digest

    run = tasks.send_daily_digests.apply_async()
    wait_for(lambda: f"[{run.id}] succeeded" in worker.log(), what="the digest task")
    (digest,) = worker.wait_for_messages(to=user.email)
    assert digest["Subject"] == "2 updates on your saved items"
    assert set(Notification.objects.values_list("mail", flat=True)) == {"queued"}
    assert emails.notifications_send_digests() == 0  # nothing pending: no second digest


def test_alert_emails_off_sends_no_mail(auth_client: Any, user: Any) -> None:
    auth_client.patch("/api/v1/auth/me/", {"alert_emails": "off"}, format="json")
    item = save(auth_client, price="100.00")
    auth_client.put(f"/api/v1/items/{item['id']}/alert/", {"target_price": "80"}, format="json")
    report(auth_client, "79.00")
    # Evaluated here, as the worker would (no worker in this test).
    change_item = item["id"]
    tasks.evaluate(
        {
            "item_id": change_item,
            "new": {"price": "79.00", "currency": "EUR", "availability": "InStock"},
            "observed_at": Observation.objects.get(kind="report").observed_at.isoformat(),
        }
    )
    assert list(Notification.objects.values_list("mail", flat=True)) == ["skipped"]
    assert emails.notifications_send_digests() == 0
    assert not OutboundMail.objects.exists()


def test_with_the_broker_down_a_report_still_answers_and_the_alert_is_evaluated(
    auth_client: Any,
) -> None:
    item = save(auth_client, price="100.00")
    auth_client.put(f"/api/v1/items/{item['id']}/alert/", {"target_price": "80"}, format="json")
    with broker_unreachable():
        body = report(auth_client, "79.00")
    assert body["counted"] is True and body["price"] == "79.00"
    # Evaluated in the request instead of the worker: nothing is lost.
    (notification,) = _notifications(auth_client)
    assert notification["kind"] == "target_reached"


def test_an_address_unsubscribed_from_price_alerts_gets_no_alert_mail(
    auth_client: Any, user: Any
) -> None:
    from buyhive.mail.models import Suppression

    Suppression.objects.create(address=user.email, kind=emails.MAIL_KIND)
    auth_client.patch("/api/v1/auth/me/", {"alert_emails": "immediate"}, format="json")
    item = save(auth_client, price="100.00")
    auth_client.put(f"/api/v1/items/{item['id']}/alert/", {"target_price": "80"}, format="json")
    report(auth_client, "79.00")
    tasks.evaluate(
        {
            "item_id": item["id"],
            "new": {"price": "79.00", "currency": "EUR", "availability": "InStock"},
            "observed_at": Observation.objects.get(kind="report").observed_at.isoformat(),
        }
    )
    assert Notification.objects.count() == 1  # still listed in the app
    assert not OutboundMail.objects.filter(kind=emails.MAIL_KIND).exists()
