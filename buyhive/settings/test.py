"""Tests: the real embedded database (started by the test session), real Redis (db 15).

The root ``conftest.py`` starts a throwaway SecantusDB when ``MONGODB_URI`` is unset and
points ``DATABASES`` at it; pytest-django creates and drops ``test_buyhive``.
"""

from __future__ import annotations

import os
import secrets

from buyhive import logconfig

from .base import *  # noqa: F403
from .base import CACHES, SIMPLE_JWT, celery_transport_options, env

DEBUG = False
# A key of this test session's own, handed to the processes it starts (the task worker, the
# production-settings gunicorn of test_gunicorn.py) through the environment, so that what one
# signs the others accept; production refuses any key written in the repository.
SECRET_KEY = os.environ.setdefault("BUYHIVE_TEST_SECRET_KEY", secrets.token_urlsafe(50))
SIMPLE_JWT = {**SIMPLE_JWT, "SIGNING_KEY": SECRET_KEY}
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
ALLOWED_ORIGINS = [
    "chrome-extension://abcdefghijklmnopabcdefghijklmnop",
    "https://app.buyhive.test",
]
CORS_ALLOWED_ORIGINS = ALLOWED_ORIGINS
READY_DETAILS_PUBLIC = True  # /ready shows every check's detail here
PUBLIC_BASE_URL = "http://testserver"

# Real Redis, a database of its own. Keys carry this test run's pid, and the per-test cleanup
# deletes only those, so two runs on one machine never wipe each other's counters.
REDIS_URL = env.str("TEST_REDIS_URL", default="redis://127.0.0.1:6379/15")
CACHES = {
    "default": {
        **CACHES["default"],
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"buyhive-test-{os.getpid()}",
        "TIMEOUT": 3600,
    }
}

# The worker the tests start (buyhive/tests/task_worker.py) writes its mail to files there.
EMAIL_BACKEND = env.str(
    "TEST_EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend"
)
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default="")
# bcrypt at full cost makes each test login ~0.3 s; the hasher is the same family.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Test servers for images, Google keys and the LLM fakes listen on 127.0.0.1.
OUTBOUND_HTTP_ALLOW_LOOPBACK = True
GOOGLE_CLIENT_IDS = ["test-extension-client.apps.googleusercontent.com", "test-web-client"]

# The broker is real Redis (database 15, beside the cache), with keys and a queue of this test
# session's own, so two test runs, `make run` and the end-to-end runs never take each
# other's tasks. The worker subprocess is handed the same names through the environment.
CELERY_BROKER_URL = env.str("TEST_CELERY_BROKER_URL", default="redis://127.0.0.1:6379/15")
CELERY_KEY_PREFIX = env.str("CELERY_KEY_PREFIX", default=f"buyhive-test-{os.getpid()}:")
CELERY_TASK_DEFAULT_QUEUE = env.str(
    "CELERY_TASK_DEFAULT_QUEUE", default=f"buyhive-test-{os.getpid()}"
)
CELERY_SQS_QUEUE_URL = env.str("CELERY_SQS_QUEUE_URL", default="")
CELERY_BROKER_TRANSPORT_OPTIONS = celery_transport_options(
    broker_url=CELERY_BROKER_URL,
    queue=CELERY_TASK_DEFAULT_QUEUE,
    key_prefix=CELERY_KEY_PREFIX,
    sqs_queue_url=CELERY_SQS_QUEUE_URL,
)
CELERY_WORKER_ENABLE_REMOTE_CONTROL = not CELERY_BROKER_URL.startswith("sqs://")

# TEST_LOG_LEVEL: a test that runs a command in a subprocess with logging at INFO sets it.
LOGGING = logconfig.configure(level=env.str("TEST_LOG_LEVEL", default="WARNING"), json=False)
