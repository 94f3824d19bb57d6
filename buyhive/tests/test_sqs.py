"""The production broker path: Celery on Amazon SQS through kombu's real SQS transport,
against moto's SQS server on loopback. Send, fail into the dead-letter queue through the
queue's redrive policy, and replay from it with ``manage.py replay_dead_letters``."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import boto3
import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from buyhive.celery import app
from buyhive.mail.models import OutboundMail
from buyhive.mail.services import DELIVER_TASK
from buyhive.tests.task_worker import broker_switched, start_worker, wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
REGION = "us-east-1"


@pytest.fixture
def moto_sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    for name, value in {**AWS, "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _mail(key: str, to: str) -> OutboundMail:
    return OutboundMail.objects.create(
        key=key,
        kind="test_note",
        to=to,
        subject=f"Note {key}",
        body_text="Hello",
        reenqueue_at=timezone.now(),
    )


def test_sqs_send_dead_letter_and_replay(moto_sqs: str, tmp_path: Path) -> None:
    sqs = boto3.client("sqs", endpoint_url=moto_sqs, region_name=REGION)
    name = f"buyhive-test-sqs-{os.getpid()}"
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}
    queue_url = sqs.create_queue(
        QueueName=name,
        Attributes={"VisibilityTimeout": "1", "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    port = moto_sqs.rsplit(":", 1)[1]
    broker_url = f"sqs://testing:testing@127.0.0.1:{port}"
    options = {
        "region": REGION,
        "predefined_queues": {name: {"url": queue_url}},
        "is_secure": False,
        "wait_time_seconds": 1,
        "polling_interval": 0.2,
    }
    sqs_env = {
        **AWS,
        "AWS_DEFAULT_REGION": REGION,
        "CELERY_SQS_QUEUE_URL": queue_url,
        "CELERY_SQS_IS_SECURE": "false",
        "CELERY_SQS_WAIT_TIME_SECONDS": "1",
        "CELERY_SQS_REGION": REGION,
    }
    db = connections["default"].settings_dict

    def depth(url: str) -> int:
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    # 1. The database is down while the task runs: it fails on every receipt, and after
    #    maxReceiveCount (2) SQS moves it to the dead-letter queue.
    stranded = _mail("sqs:stranded", "stranded@example.com")
    broken = start_worker(
        mongodb_uri=f"mongodb://127.0.0.1:{_closed_port()}/?directConnection=true",
        db_name=db["NAME"],
        work_dir=tmp_path / "broken",
        broker_url=broker_url,
        queue=name,
        extra_env={**sqs_env, "MONGODB_SERVER_SELECTION_TIMEOUT_MS": "200"},
    )
    try:
        with broker_switched(broker_url, options):
            app.send_task(DELIVER_TASK, kwargs={"mail_id": str(stranded.pk)}, queue=name)
        wait_for(lambda: depth(dlq_url) == 1, timeout=60, what="the task in the dead-letter queue")
    finally:
        broken.stop()
    assert depth(queue_url) == 0
    assert broken.log().count("ServerSelectionTimeoutError") >= 2
    assert OutboundMail.objects.get(pk=stranded.pk).status == "pending"

    # 2. With the database back, a worker sends what is published...
    worker = start_worker(
        mongodb_uri=db["HOST"],
        db_name=db["NAME"],
        work_dir=tmp_path / "healthy",
        broker_url=broker_url,
        queue=name,
        extra_env=sqs_env,
    )
    try:
        fresh = _mail("sqs:fresh", "fresh@example.com")
        with broker_switched(broker_url, options):
            app.send_task(DELIVER_TASK, kwargs={"mail_id": str(fresh.pk)}, queue=name)
        [sent] = worker.wait_for_messages(to="fresh@example.com", timeout=30)
        assert sent["Subject"] == "Note sqs:fresh"
        assert worker.messages_to("stranded@example.com") == []

        # 3. ...and the runbook's replay moves the dead letter back: it is sent, once.
        out = StringIO()
        call_command(
            "replay_dead_letters",
            dlq_url=dlq_url,
            queue_url=queue_url,
            endpoint_url=moto_sqs,
            stdout=out,
        )
        assert "1 message(s) moved back" in out.getvalue()
        [replayed] = worker.wait_for_messages(to="stranded@example.com", timeout=30)
        assert replayed["Subject"] == "Note sqs:stranded"
        wait_for(lambda: depth(queue_url) == 0 and depth(dlq_url) == 0, what="queues drained")
    finally:
        worker.stop()
    assert OutboundMail.objects.get(pk=stranded.pk).status == "sent"
