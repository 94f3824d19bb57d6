"""The request log as production writes it: one JSON line per request, with the request id, the
user, the status and the duration (docs/runbook.md "Read logs")."""

from __future__ import annotations

import io
import json
import logging.config
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from django.conf import settings
from rest_framework.test import APIClient

from accounts.tokens import issue_tokens
from buyhive import logconfig


def _configured(level: str) -> io.StringIO:
    stream = io.StringIO()
    # ``configure`` also configures structlog, with the same processors as the test settings
    # but in a new list; loggers cached earlier keep the list they were built with, which is
    # the one ``structlog.testing.capture_logs`` edits in place: put that list back.
    processors = structlog.get_config()["processors"]
    config = logconfig.configure(level=level, json=True)
    structlog.configure(processors=processors)
    config["handlers"]["stdout"]["stream"] = stream
    logging.config.dictConfig(config)
    return stream


@pytest.fixture
def production_logs() -> Iterator[Any]:
    """Configure the production logging (JSON, at a level) into a buffer; restore after."""
    try:
        yield _configured
    finally:
        logging.config.dictConfig(settings.LOGGING)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_at_info_an_api_request_writes_one_line_with_id_user_status_and_duration(
    user: Any, production_logs: Any
) -> None:
    stream = production_logs("INFO")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_tokens(user)['access']}")
    response = client.get("/api/v1/auth/me/", HTTP_X_REQUEST_ID="req-0123456789abcdef")
    assert response.status_code == 200
    lines = [e for e in _lines(stream) if e.get("request_id") == "req-0123456789abcdef"]
    assert [e["event"] for e in lines] == ["request_finished"]
    (line,) = lines
    assert line["user_id"] == user.public_id
    assert line["status"] == 200
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/auth/me/"
    assert line["level"] == "info"
    assert isinstance(line["duration_ms"], float)
    assert response["X-Request-ID"] == "req-0123456789abcdef"


def test_at_debug_the_request_start_is_written_too(user: Any, production_logs: Any) -> None:
    stream = production_logs("DEBUG")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_tokens(user)['access']}")
    assert client.get("/api/v1/auth/me/", HTTP_X_REQUEST_ID="req-debug-0123456789").status_code
    events = [e["event"] for e in _lines(stream) if e.get("request_id") == "req-debug-0123456789"]
    assert events == ["request_started", "request_finished"]


def test_a_line_below_the_level_is_not_written_and_one_above_is(production_logs: Any) -> None:
    stream = production_logs("WARNING")
    logger = structlog.get_logger("buyhive.tests.level_probe")
    logger.info("quiet_probe")
    logger.warning("loud_probe", detail="kept")
    events = [e["event"] for e in _lines(stream)]
    assert "quiet_probe" not in events
    assert events.count("loud_probe") == 1
