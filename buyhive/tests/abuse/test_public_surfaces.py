"""Finding 12: the public surfaces (share page, /ready, API docs) show no more than needed."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from carts import services

pytestmark = pytest.mark.django_db

SAVED_URL = (
    "https://shop.example.com/p/kettle?colour=red&gclid=AD-CLICK&utm_source=mail"
    "&sessionid=SESSION-SECRET&email=alice%40example.com#reviews"
)


def test_the_public_share_page_shows_cleaned_item_urls(user: Any) -> None:
    cart = services.cart_create(owner=user, name="Gifts")
    services.item_upsert(
        owner=user,
        data={"url": SAVED_URL, "title": "Kettle", "price": "10", "currency": "EUR"},
        cart_ids=[cart.pk],
    )
    token, _ = services.cart_share_link_create(cart=cart)
    url = f"/api/v1/shared/{token}/"

    body = Client().get(url, HTTP_ACCEPT="application/json").json()
    assert body["items"][0]["url"] == "https://shop.example.com/p/kettle?colour=red"

    page = Client().get(url, HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="https://shop.example.com/p/kettle?colour=red"' in html
    for private in ("gclid", "utm_source", "SESSION-SECRET", "alice%40", "reviews"):
        assert private not in html


# --------------------------------------------------------------------------- /ready


def test_ready_shows_only_statuses_in_production_without_the_token(settings: Any) -> None:
    settings.READY_DETAILS_PUBLIC = False
    settings.READY_DETAIL_TOKEN = "ops-only-ready-token"
    anonymous = Client().get("/ready")
    assert anonymous.status_code == 200
    checks = anonymous.json()["checks"]
    assert set(checks) >= {"database", "cache"}
    assert all(set(check) == {"status"} for check in checks.values()), checks
    wrong = Client().get("/ready", HTTP_X_READY_TOKEN="guess")
    assert all(set(check) == {"status"} for check in wrong.json()["checks"].values())

    detailed = Client().get("/ready", HTTP_X_READY_TOKEN="ops-only-ready-token").json()
    assert "latency_ms" in detailed["checks"]["database"]
    assert "backend" in detailed["checks"]["cache"]


def test_ready_without_a_configured_token_gives_nobody_details(settings: Any) -> None:
    settings.READY_DETAILS_PUBLIC = False
    settings.READY_DETAIL_TOKEN = ""
    response = Client().get("/ready", HTTP_X_READY_TOKEN="")
    assert all(set(check) == {"status"} for check in response.json()["checks"].values())


def test_local_settings_keep_the_details(settings: Any) -> None:
    settings.READY_DETAILS_PUBLIC = True
    assert "latency_ms" in Client().get("/ready").json()["checks"]["database"]


# --------------------------------------------------------------------------- API docs


def test_swagger_ui_is_self_hosted_and_pinned() -> None:
    html = Client().get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn.jsdelivr.net" not in html
    assert "@latest" not in html
