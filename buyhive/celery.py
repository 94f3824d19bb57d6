"""The Celery application: background work (mail, maintenance, later alerts and digests).

Broker: Redis locally and in CI (``CELERY_BROKER_URL``; each running instance keeps its own
database number or key prefix so ``make run``, the tests and the end-to-end runs never take
each other's tasks), Amazon SQS with a dead-letter queue in production. There is no result
backend: callers never wait for a task; they look at what it did (a mail row marked sent).

Lower layers send upper layers' work *by name* (``app.send_task("carts.…")``), never by
importing them. Each app keeps its tasks in ``<app>/tasks.py``; they are found by
``autodiscover_tasks`` once Django's apps are loaded.

Run it: ``celery -A buyhive worker`` and one ``celery -A buyhive beat`` (a single
scheduler); ``make run`` starts both beside the web server.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buyhive.settings.local")

app = Celery("buyhive")
# Every Celery setting lives in Django's settings, spelled CELERY_<NAME> (buyhive/settings).
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
