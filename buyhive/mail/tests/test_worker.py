"""Mail through the real broker and a real worker subprocess (no eager mode)."""

from __future__ import annotations

from typing import Any

import pytest

from buyhive.celery import app
from buyhive.mail.models import OutboundMail
from buyhive.mail.services import DELIVER_TASK, send_templated_mail
from buyhive.tests.task_worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _queue(key: str = "test:1", to: str = "carol@example.com") -> OutboundMail:
    mail = send_templated_mail(
        kind="test_note",
        to=to,
        key=key,
        template="carts/share_email",
        subject="A note",
        context={"sender": "Alice", "cart_name": "Gifts", "lines": [], "link": "http://x/"},
        unsubscribe=True,
    )
    assert mail is not None
    return mail


def test_the_worker_sends_a_queued_mail(worker: Any) -> None:
    mail = _queue()

    [message] = worker.wait_for_messages(to="carol@example.com")

    assert message["Subject"] == "A note"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (
        str(message["List-Unsubscribe"]).strip().startswith("<http://testserver/mail/unsubscribe/")
    )
    wait_for(lambda: OutboundMail.objects.filter(pk=mail.pk, status="sent").exists(), what="sent")
    mail.refresh_from_db()
    assert mail.body_text == ""  # the rendered body is not kept once sent


def test_a_replayed_delivery_task_sends_nothing_more(worker: Any) -> None:
    mail = _queue(key="test:replay", to="dave@example.com")
    wait_for(lambda: OutboundMail.objects.filter(pk=mail.pk, status="sent").exists(), what="sent")

    # The broker delivers at least once: the same task again, twice, by name.
    app.send_task(DELIVER_TASK, kwargs={"mail_id": str(mail.pk)})
    app.send_task(DELIVER_TASK, kwargs={"mail_id": str(mail.pk)})

    wait_for(lambda: OutboundMail.objects.get(pk=mail.pk).replays == 2, what="both replays handled")
    assert len(worker.messages_to("dave@example.com")) == 1
    assert OutboundMail.objects.get(pk=mail.pk).attempts == 1
