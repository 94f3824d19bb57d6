"""Finding 6: password reset revealed accounts (500 vs 202, 0.19 s vs 0.01 s with SES failing).

The request now only publishes the reset task; the lookup and the mail are the worker's. So
a known and an unknown address get the same answer from the same work, even with the mail
service down. The timing itself is measured in ``bench/reset_timing.py`` (50 requests each,
medians within 5 ms), not in a timed test.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import User

pytestmark = pytest.mark.django_db

RESET = "/api/v1/auth/password/reset/"


def test_known_and_unknown_addresses_get_the_same_answer_from_the_same_work(
    user: User, settings: Any
) -> None:
    # SES failing: a mail server nobody listens on. The request must not touch it.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 1
    client = APIClient()
    client.post(RESET, {"email": "warm-up@example.com"}, format="json", REMOTE_ADDR="10.9.0.1")
    seen: dict[str, tuple[int, bytes, list[str]]] = {}
    for n, email in enumerate((user.email, "nobody@example.com")):
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                RESET, {"email": email}, format="json", REMOTE_ADDR=f"10.9.1.{n}"
            )
        seen[email] = (
            response.status_code,
            response.content,
            [query["sql"].split("(")[0] for query in queries.captured_queries],
        )
    assert seen[user.email] == seen["nobody@example.com"] == (202, b"", [])
