"""The outbox: idempotent keys, delivery claims, failures, the scheduler's chores."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from buyhive.mail import services
from buyhive.mail.models import OutboundMail
from buyhive.mail.unsubscribe import suppression_add

pytestmark = pytest.mark.django_db

#: Nothing listens on port 1: a real SMTP connection that is refused.
DEAD_SMTP = {
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "EMAIL_HOST": "127.0.0.1",
    "EMAIL_PORT": 1,
}


def _row(**fields: Any) -> OutboundMail:
    """An outbox row written directly: nothing is published, so no worker can race us."""
    values: dict[str, Any] = {
        "key": "test:row",
        "kind": "test_note",
        "to": "carol@example.com",
        "subject": "Hello",
        "body_text": "Text body",
        "body_html": "<p>HTML body</p>",
        "reenqueue_at": timezone.now() + timedelta(minutes=15),
        **fields,
    }
    return OutboundMail.objects.create(**values)


def _queue(key: str, **kwargs: Any) -> OutboundMail | None:
    return services.send_templated_mail(
        kind=kwargs.pop("kind", "test_note"),
        to=kwargs.pop("to", "Carol@Example.com"),
        key=key,
        template="carts/share_email",
        subject="A note",
        context={"sender": "Alice", "cart_name": "Gifts", "lines": [], "link": "http://x/"},
        **kwargs,
    )


def test_the_same_key_queued_twice_is_one_mail() -> None:
    first = _queue("test:same")
    second = _queue("test:same")
    assert first is not None and second is not None
    assert first.pk == second.pk
    assert OutboundMail.objects.count() == 1
    assert first.to == "carol@example.com"


def test_a_mail_without_unsubscribe_has_no_list_headers() -> None:
    queued = _queue("test:plain")
    assert queued is not None
    assert queued.headers == {}
    assert "unsubscribe" not in queued.body_text.lower()


def test_an_unsubscribed_address_gets_no_mail_of_that_kind_only() -> None:
    suppression_add(address="carol@example.com", kind="test_note")
    assert _queue("test:s1", unsubscribe=True) is None
    assert _queue("test:s2", unsubscribe=True, kind="other_kind") is not None
    assert list(OutboundMail.objects.values_list("kind", flat=True)) == ["other_kind"]


def test_deliver_sends_once_and_drops_the_body() -> None:
    row = _row()
    assert services.deliver(mail_id=str(row.pk)) == "sent"
    assert services.deliver(mail_id=str(row.pk)) == "replay"

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["carol@example.com"]
    assert message.alternatives[0][0] == "<p>HTML body</p>"
    row.refresh_from_db()
    assert (row.status, row.attempts, row.replays) == ("sent", 1, 1)
    assert row.body_text == row.body_html == ""
    assert row.sent_at is not None


def test_a_mail_claimed_by_a_live_worker_is_not_sent_again_but_a_stale_claim_is() -> None:
    row = _row(status="sending", claimed_at=timezone.now())
    assert services.deliver(mail_id=str(row.pk)) == "replay"
    assert mail.outbox == []

    OutboundMail.objects.filter(pk=row.pk).update(
        claimed_at=timezone.now() - services.MAIL_CLAIM_LEASE - timedelta(seconds=1)
    )
    assert services.deliver(mail_id=str(row.pk)) == "sent"
    assert len(mail.outbox) == 1


def test_a_failed_send_goes_back_to_pending_and_fails_for_good_after_the_last_attempt(
    settings: Any,
) -> None:
    row = _row()
    settings.MAIL_MAX_ATTEMPTS = 2
    with override_settings(**DEAD_SMTP):
        with pytest.raises(services.DeliveryFailed) as failed:
            services.deliver(mail_id=str(row.pk))
        assert failed.value.attempts == 1
        row.refresh_from_db()
        assert row.status == "pending"
        assert "ConnectionRefusedError" in row.last_error

        assert services.deliver(mail_id=str(row.pk)) == "failed"
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 2)


def test_a_recipient_who_unsubscribed_after_queueing_is_not_mailed() -> None:
    row = _row(unsubscribe=True)
    suppression_add(address="carol@example.com", kind="test_note")
    assert services.deliver(mail_id=str(row.pk)) == "suppressed"
    assert mail.outbox == []


def test_deliver_of_an_unknown_or_malformed_id_does_nothing() -> None:
    assert services.deliver(mail_id="0123456789abcdef01234567") == "missing"
    assert services.deliver(mail_id="not-an-id") == "missing"


def test_flush_publishes_only_the_due_pending_mail() -> None:
    now = timezone.now()
    due = _row(key="test:due", reenqueue_at=now - timedelta(seconds=1))
    later = _row(key="test:later", reenqueue_at=now + timedelta(minutes=5))
    _row(key="test:sent", status="sent", reenqueue_at=now - timedelta(hours=1))

    assert services.flush_outbox() == 1

    due.refresh_from_db()
    later.refresh_from_db()
    assert due.reenqueue_at > now + timedelta(minutes=10)  # not again before its next turn
    assert later.reenqueue_at < now + timedelta(minutes=6)


def test_purge_keeps_recent_records_and_pending_mail() -> None:
    now = timezone.now()
    old = _row(key="test:old", status="sent", sent_at=now - timedelta(days=31))
    recent = _row(key="test:recent", status="sent", sent_at=now - timedelta(days=29))
    pending = _row(key="test:pending")
    OutboundMail.objects.filter(pk=pending.pk).update(created_at=now - timedelta(days=60))

    assert services.purge_sent() == 1
    remaining = set(OutboundMail.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, pending.pk}
    assert old.pk not in remaining
