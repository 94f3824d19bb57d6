"""Project-wide plumbing seen from the outside: envelope, request ids, limits, health."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client, RequestFactory, override_settings

from buyhive.client_ip import resolve_client_ip


def test_health_is_ok_without_touching_the_database(client: Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    uuid.UUID(response["X-Request-ID"])


@pytest.mark.django_db
def test_ready_reports_database_and_cache_ok(client: Client) -> None:
    response = client.get("/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["cache"]["status"] == "ok"
    assert "models" in body["checks"] and "llm" in body["checks"]


def test_unknown_api_url_answers_the_envelope(client: Client) -> None:
    response = client.get("/api/v1/does-not-exist/")
    assert response.status_code == 404
    body = response.json()
    assert body["error"]["code"] == "not_found"
    assert body["request_id"] == response["X-Request-ID"]


def test_unknown_url_outside_api_answers_json_404(client: Client) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_valid_request_id_is_kept_and_a_bad_one_replaced(client: Client) -> None:
    kept = client.get("/health", HTTP_X_REQUEST_ID="abc-123-def-456")
    assert kept["X-Request-ID"] == "abc-123-def-456"
    replaced = client.get("/health", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert replaced["X-Request-ID"] != "bad id\nwith newline"
    uuid.UUID(replaced["X-Request-ID"])


def test_oversized_body_is_413_envelope_before_parsing(client: Client) -> None:
    body = b'{"email": "' + b"a" * (300 * 1024) + b'"}'
    response = client.post("/api/v1/auth/login/", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert response["X-Request-ID"]


def test_extract_path_allows_bodies_up_to_4mb_but_not_more(client: Client) -> None:
    small_enough = b"x" * (1024 * 1024)
    response = client.post("/api/v1/extract/", data=small_enough, content_type="application/json")
    assert response.status_code != 413
    too_big = b"x" * (4 * 1024 * 1024 + 1)
    response = client.post("/api/v1/extract/", data=too_big, content_type="application/json")
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("proxies", "xff", "remote", "expected"),
    [
        (0, "1.2.3.4", "10.0.0.9", "10.0.0.9"),  # no proxy: header ignored
        (1, "6.6.6.6, 203.0.113.7", "10.0.0.9", "203.0.113.7"),  # spoofed left-most ignored
        (1, "", "10.0.0.9", "10.0.0.9"),  # no header: the peer
        (2, "6.6.6.6, 203.0.113.7, 198.51.100.2", "10.0.0.9", "203.0.113.7"),
        (2, "203.0.113.7", "10.0.0.9", "10.0.0.9"),  # fewer hops than proxies
        (1, "not-an-ip", "10.0.0.9", "10.0.0.9"),
    ],
)
def test_client_ip_behind_trusted_proxies(
    proxies: int, xff: str, remote: str, expected: str
) -> None:
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=xff, REMOTE_ADDR=remote)
    assert resolve_client_ip(request, proxies) == expected


def test_cors_allows_a_configured_extension_origin(client: Client) -> None:
    origin = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
    response = client.options(
        "/api/v1/auth/login/",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )
    assert response["Access-Control-Allow-Origin"] == origin
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert "authorization" in response["Access-Control-Allow-Headers"]


def test_cors_gives_nothing_to_an_unknown_origin(client: Client) -> None:
    response = client.options(
        "/api/v1/auth/login/",
        HTTP_ORIGIN="https://evil.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )
    assert "Access-Control-Allow-Origin" not in response


@override_settings(DEBUG=True)
def test_api_errors_stay_json_even_with_debug(client: Client) -> None:
    response = client.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
