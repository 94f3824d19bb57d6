"""Rate-limit fields on limited routes (draft-ietf-httpapi-ratelimit-headers), real Redis.

Every response of a limited route, allowed or refused, says which limit it counted against,
the quota and window (``RateLimit-Policy``) and what is left and when it resets
(``RateLimit``); the browser extension can read them across origins (CORS exposes them).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from carts import services
from carts.models import Cart

API = "/api/v1"
ORIGIN = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
_ITEM = re.compile(r'^"(?P<name>[^"]+)";(?P<params>[a-z]+=\d+(?:;[a-z]+=\d+)*)$')


def _fields(value: str) -> dict[str, dict[str, int]]:
    """Parse a RateLimit / RateLimit-Policy list: ``{name: {param: number}}``."""
    parsed: dict[str, dict[str, int]] = {}
    for member in value.split(", "):
        found = _ITEM.match(member)
        assert found, f"not a structured-field item: {member!r}"
        params = dict(part.split("=") for part in found["params"].split(";"))
        parsed[found["name"]] = {key: int(number) for key, number in params.items()}
    return parsed


def _state(response: Any, group: str) -> tuple[dict[str, int], dict[str, int]]:
    policy = _fields(response["RateLimit-Policy"])[group]
    current = _fields(response["RateLimit"])[group]
    return policy, current


def _login(client: APIClient, email: str, password: str) -> Any:
    body = {"email": email, "password": password}
    return client.post(f"{API}/auth/login/", body, format="json")


@override_settings(RATE_LOGIN_IP="3/m")
def test_login_announces_its_quota_and_the_remaining_count_goes_down(
    api_client: APIClient, user: Any, password: str
) -> None:
    remaining = []
    for _ in range(3):
        response = _login(api_client, user.email, password)
        assert response.status_code == 200
        policy, current = _state(response, "auth-login-ip")
        assert policy == {"q": 3, "w": 60}
        assert 0 < current["t"] <= 60
        remaining.append(current["r"])
    assert remaining == [2, 1, 0]

    refused = _login(api_client, user.email, password)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    _policy, current = _state(refused, "auth-login-ip")
    assert current["r"] == 0
    assert int(refused["Retry-After"]) >= 1


def test_extract_announces_the_per_user_limit(auth_client: APIClient, settings: Any) -> None:
    settings.RATE_EXTRACT_USER = "2/h"
    body = {"url": "https://shop.example.com/p/kettle", "html": "<title>Kettle</title>"}
    first = auth_client.post(f"{API}/extract/", body, format="json")
    second = auth_client.post(f"{API}/extract/", body, format="json")
    third = auth_client.post(f"{API}/extract/", body, format="json")
    assert [first.status_code, second.status_code, third.status_code] == [200, 200, 429]
    assert [_state(r, "extract")[1]["r"] for r in (first, second, third)] == [1, 0, 0]
    assert _state(third, "extract")[0] == {"q": 2, "w": 3600}


@pytest.fixture
def shared_cart(user: Any) -> Cart:
    cart = services.cart_create(owner=user, name="Gifts")
    services.cart_share_link_create(cart=cart)
    return cart


def test_the_public_shared_cart_announces_its_per_client_limit(
    api_client: APIClient, shared_cart: Cart, settings: Any
) -> None:
    settings.RATE_SHARED_VIEW_IP = "2/h"
    url = f"{API}/shared/{shared_cart.share_token}/"
    answers = [api_client.get(url) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [_state(a, "carts-shared-view")[1]["r"] for a in answers] == [1, 0, 0]


def test_share_by_mail_announces_the_limit(auth_client: APIClient, user: Any) -> None:
    cart = services.cart_create(owner=user, name="Gifts")
    body = {"emails": ["friend@example.com"], "message": "Look!"}
    with override_settings(RATE_SHARE_USER="2/h"):
        answers = [
            auth_client.post(f"{API}/carts/{cart.pk}/share/", body, format="json") for _ in range(3)
        ]
    assert [a.status_code for a in answers] == [202, 202, 429]
    policy, _current = _state(answers[0], "carts-share")
    assert policy == {"q": 2, "w": 3600}
    assert [_state(a, "carts-share")[1]["r"] for a in answers] == [1, 0, 0]


def test_cors_exposes_the_fields_to_the_extension(
    api_client: APIClient, user: Any, password: str, settings: Any
) -> None:
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]
    response = api_client.post(
        f"{API}/auth/login/",
        {"email": user.email, "password": password},
        format="json",
        HTTP_ORIGIN=ORIGIN,
    )
    assert response.status_code == 200
    exposed = {h.strip().lower() for h in response["Access-Control-Expose-Headers"].split(",")}
    assert {"ratelimit", "ratelimit-policy", "retry-after"} <= exposed


def test_a_route_without_a_limit_carries_no_fields(auth_client: APIClient) -> None:
    response = auth_client.get(f"{API}/auth/me/")
    assert response.status_code == 200
    assert "RateLimit" not in response
    assert "RateLimit-Policy" not in response


def test_the_schema_documents_the_fields_on_every_limited_operation() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    limited = 0
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            responses = operation["responses"]
            for code, response in responses.items():
                headers = response.get("headers", {})
                if "429" in responses and (code.startswith("2") or code == "429"):
                    assert {"RateLimit-Policy", "RateLimit"} <= set(headers), (path, method, code)
                else:
                    assert "RateLimit" not in headers, (path, method, code)
            if "429" in responses:
                limited += 1
                assert "Retry-After" in responses["429"]["headers"]
    assert limited >= 10
    login = schema["paths"]["/api/v1/auth/login/"]["post"]["responses"]["200"]
    assert "RateLimit" in login["headers"]
