"""Finding 5: JSON nested 100,000 levels deep answers the 400 envelope, on every endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from bson import ObjectId
from rest_framework.test import APIClient

from buyhive.parsers import MAX_JSON_DEPTH
from buyhive.tests.test_abuse import api_routes
from conftest import bearer_client_for

pytestmark = pytest.mark.django_db

DEEP = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 40_000 + "1" + "}" * 40_000  # under the 256 KB body limit


def _post(client: APIClient, url: str, body: str, method: str = "post") -> Any:
    return getattr(client, method)(url, data=body, content_type="application/json")


def _assert_envelope_400(response: Any) -> None:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "nesting" in error["message"]


@pytest.mark.parametrize(
    ("path", "signed_in"),
    [
        ("/api/v1/auth/login/", False),
        ("/api/v1/auth/refresh/", False),
        ("/api/v1/auth/google/", False),
        ("/api/v1/carts/", True),
        ("/api/v1/extract/", True),
    ],
)
@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
def test_deeply_nested_json_is_a_400_envelope(
    path: str, signed_in: bool, body: str, user: Any
) -> None:
    client = bearer_client_for(user) if signed_in else APIClient()
    _assert_envelope_400(_post(client, path, body))


def test_nesting_just_over_the_bound_is_refused_and_at_the_bound_parses(user: Any) -> None:
    client = bearer_client_for(user)
    over = '{"name": ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}"
    _assert_envelope_400(_post(client, "/api/v1/carts/", over))
    at_bound = '{"name": ' + "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1) + "}"
    response = _post(client, "/api/v1/carts/", at_bound)
    assert response.status_code == 400  # a list is not a name: a field error, not a parse error
    assert "name" in response.json()["error"]["fields"]


def test_every_endpoint_that_reads_a_body_refuses_deep_json_without_a_500(user: Any) -> None:
    client = bearer_client_for(user)
    unknown = str(ObjectId())
    seen = 0
    for route in api_routes():
        url = route.url(**dict.fromkeys(route.params, unknown))
        for method in ("post", "put", "patch", "delete"):
            if method not in route.methods:
                continue
            seen += 1
            response = _post(client, url, DEEP, method)
            # Unknown ids may be looked up (404) before the body is read; never a 500.
            assert response.status_code in (400, 404), (method, url, response.status_code)
            if response.status_code == 400:
                assert response.json()["error"]["code"] == "validation_error"
    assert seen >= 10
