"""The task queue's plumbing: readiness, per-instance isolation, the beat schedule."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from buyhive.celery import app
from buyhive.tests.task_worker import broker_unreachable


@pytest.mark.django_db
def test_ready_reports_the_broker_and_its_queue_depth(client: Client) -> None:
    body = client.get("/ready").json()
    broker = body["checks"]["broker"]
    assert broker["status"] == "ok", broker
    assert broker["transport"] == "redis"
    assert broker["queue"] == settings.CELERY_TASK_DEFAULT_QUEUE
    assert isinstance(broker["depth"], int)


@pytest.mark.django_db
def test_ready_stays_200_when_only_the_broker_is_down(client: Client) -> None:
    with broker_unreachable():
        response = client.get("/ready")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert body["checks"]["broker"]["status"] == "degraded"
    assert body["checks"]["database"]["status"] == "ok"


def test_each_test_session_has_its_own_broker_keys_and_queue() -> None:
    """`make run`, the tests and the end-to-end runs share one Redis and never share tasks."""
    options = app.conf.broker_transport_options
    assert options["global_keyprefix"] == settings.CELERY_KEY_PREFIX
    assert settings.CELERY_KEY_PREFIX.startswith("buyhive-test-")
    assert app.conf.task_default_queue == settings.CELERY_TASK_DEFAULT_QUEUE
    assert app.conf.result_backend is None


def test_the_beat_schedule_names_registered_tasks(worker: Any) -> None:
    """Every scheduled entry is a task the worker knows (the schedule refers to names only)."""
    log = worker.log()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert f". {entry['task']}" in log  # the worker's banner lists its tasks


@pytest.mark.django_db
def test_the_scheduler_s_session_purge_runs_on_the_worker(worker: Any) -> None:
    from datetime import timedelta

    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from buyhive.tests.task_worker import wait_for

    expired, live = SessionStore(), SessionStore()
    expired.create()
    live.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - timedelta(days=1)
    )

    app.send_task("buyhive.clear_sessions")

    wait_for(
        lambda: not Session.objects.filter(session_key=expired.session_key).exists(),
        what="the expired session to be deleted",
    )
    assert Session.objects.filter(session_key=live.session_key).exists()
