"""The extension's flows end to end: Debian's Chromium, the unpacked extension, the real
backend, real shop pages on loopback (issue 15). Screenshots land in ``var/e2e/``."""

from __future__ import annotations

import json
import secrets
import time
from decimal import Decimal
from typing import Any

import jwt
import pytest
import requests

from e2e.conftest import ARTIFACTS, Extension, free_port
from e2e.fakeapi import Answer, FakeApi, envelope, signed_in_auth, with_a_cart
from e2e.padding import pad_page
from e2e.shops import ShopServer, article_page, product_page

# nay.sk, "Garni 570 Easy II čierna", 54.50 EUR in its JSON-LD (128 KB).
PRODUCT = "ccbaa81cc8"
# An LA Times article: not a product page.
ARTICLE = "098bb3e96c"
# laendleanzeiger.at, "Lattenrostbausatz CALYPSO 140 cm", 206 EUR: the largest page (1.4 MB).
LARGEST = "98c23afb10"


def test_sign_up_then_sign_in_through_the_popup(ext: Extension, shops: ShopServer) -> None:
    url = shops.serve(product_page(PRODUCT))
    _, tab_id = ext.open_shop_page(url)
    popup = ext.popup(tab_id)
    email = f"new-{secrets.token_hex(4)}@example.com"
    password = "my first buyhive password 1"

    popup.get_by_test_id("signup-email").fill(email)
    popup.get_by_test_id("signup-password").fill(password)
    popup.get_by_test_id("signup-submit").click()
    popup.get_by_test_id("signed-in-as").filter(has_text=email).wait_for()

    # Logout revokes the refresh token at the API, not only in the browser.
    auth = ext.auth()
    assert auth is not None
    refresh = auth["refresh"]
    popup.get_by_test_id("logout").click()
    popup.get_by_test_id("login-email").wait_for()
    assert ext.auth() is None
    answer = requests.post(ext.backend.api("auth/refresh/"), json={"refresh": refresh}, timeout=10)
    assert answer.status_code == 401

    ext.sign_in(popup, email, password)
    # Tokens live in chrome.storage.session: a popup opened again is still signed in.
    popup.close()
    again = ext.popup(tab_id)
    again.get_by_test_id("signed-in-as").filter(has_text=email).wait_for()
    assert again.get_by_test_id("login-email").is_hidden()


def test_create_two_carts(ext: Extension, shops: ShopServer, new_user: dict[str, Any]) -> None:
    _, tab_id = ext.open_shop_page(shops.serve(product_page(PRODUCT)))
    popup = ext.popup(tab_id)
    ext.sign_in(popup, new_user["email"], new_user["password"])

    for name in ("Birthday ideas", "Kitchen"):
        popup.get_by_test_id("new-cart-name").fill(name)
        popup.get_by_test_id("new-cart-submit").click()
        popup.locator("label.cart", has_text=name).get_by_test_id("cart-option").wait_for()

    carts = new_user["api"].get("carts/")["results"]
    assert sorted(c["name"] for c in carts) == ["Birthday ideas", "Kitchen"]
    shown = popup.get_by_test_id("cart-option")
    assert shown.count() == 2
    assert {shown.nth(i).get_attribute("data-cart-id") for i in range(2)} == {
        c["id"] for c in carts
    }


def test_save_a_product_into_two_carts(
    ext: Extension, shops: ShopServer, new_user: dict[str, Any]
) -> None:
    api = new_user["api"]
    cart_ids = [api.post("carts/", {"name": name})["id"] for name in ("Gifts", "Garden")]
    page = product_page(PRODUCT)
    url = shops.serve(page)
    _, tab_id = ext.open_shop_page(url)
    popup = ext.popup(tab_id)
    ext.sign_in(popup, new_user["email"], new_user["password"])

    check = popup.locator("[data-testid=page-check][data-is-product]")
    check.wait_for()
    assert check.get_attribute("data-is-product") == "true"
    assert "looks like a product page" in check.inner_text()
    for cart_id in cart_ids:
        popup.locator(f"[data-testid=cart-option][data-cart-id='{cart_id}']").check()
    popup.get_by_test_id("save").click()
    status = popup.locator("[data-testid=save-status][data-state]")
    status.wait_for()
    ext.screenshot(popup, "flow3-popup-saved.png")
    assert status.get_attribute("data-state") == "saved", status.inner_text()
    assert "Garni 570 Easy II" in status.inner_text()
    assert "54.50" in status.inner_text()

    # One item, in both carts, with the price the page shows.
    items = api.get("items/")["results"]
    assert len(items) == 1
    item = items[0]
    assert sorted(item["cart_ids"]) == sorted(cart_ids)
    assert item["url"] == url
    assert Decimal(item["price"]) == Decimal(page.truth["price"][0])
    assert item["currency"] == "EUR"
    for cart_id in cart_ids:
        rows = api.get(f"carts/{cart_id}/items/")["results"]
        assert [(r["id"], Decimal(r["price_at_add"])) for r in rows] == [
            (item["id"], Decimal("54.50"))
        ]


def test_an_article_is_not_a_product_page(
    ext: Extension, shops: ShopServer, new_user: dict[str, Any]
) -> None:
    _, tab_id = ext.open_shop_page(shops.serve(article_page(ARTICLE)))
    popup = ext.popup(tab_id)
    ext.sign_in(popup, new_user["email"], new_user["password"])

    check = popup.locator("[data-testid=page-check][data-is-product]")
    check.wait_for()
    assert check.get_attribute("data-is-product") == "false"
    assert check.inner_text() == "This doesn't look like a product page."


def _expired(token: str, key: str) -> str:
    """The same access token, signed by the backend's key, but expired a minute ago."""
    claims = jwt.decode(token, options={"verify_signature": False})
    now = int(time.time())
    claims.update(iat=now - 900, exp=now - 60)
    return jwt.encode(claims, key, algorithm="HS256")


def test_an_expired_access_token_is_refreshed_on_the_fly(
    ext: Extension, shops: ShopServer, new_user: dict[str, Any]
) -> None:
    api = new_user["api"]
    api.post("carts/", {"name": "Everyday"})
    _, tab_id = ext.open_shop_page(shops.serve(product_page(PRODUCT)))
    popup = ext.popup(tab_id)
    ext.sign_in(popup, new_user["email"], new_user["password"])
    popup.get_by_test_id("cart-option").wait_for()
    popup.close()

    before = ext.auth()
    assert before is not None
    expired = _expired(before["access"], ext.backend.signing_key)
    assert ext.backend.client(expired).request("GET", "auth/me/").status_code == 401
    # The worker believes the token is good for an hour: only the API's 401 tells otherwise.
    ext.set_auth({**before, "access": expired, "accessExpiresAt": (time.time() + 3600) * 1000})

    popup = ext.popup(tab_id)
    popup.locator("label.cart", has_text="Everyday").wait_for()
    assert popup.get_by_test_id("notice").is_hidden()
    after = ext.auth()
    assert after is not None
    assert after["access"] != expired
    assert after["refresh"] != before["refresh"]
    # Rotation: the old refresh token no longer works; the new access token does.
    old = requests.post(
        ext.backend.api("auth/refresh/"), json={"refresh": before["refresh"]}, timeout=10
    )
    assert old.status_code == 401
    me = ext.backend.client(after["access"]).get("auth/me/")
    assert me["email"] == new_user["email"]


def test_a_refused_refresh_signs_out_cleanly(
    ext: Extension, shops: ShopServer, new_user: dict[str, Any]
) -> None:
    _, tab_id = ext.open_shop_page(shops.serve(product_page(PRODUCT)))
    popup = ext.popup(tab_id)
    ext.sign_in(popup, new_user["email"], new_user["password"])
    popup.close()
    auth = ext.auth()
    assert auth is not None
    # The session ends elsewhere (signed out on another device): its refresh token is revoked.
    revoked = requests.post(
        ext.backend.api("auth/logout/"), json={"refresh": auth["refresh"]}, timeout=10
    )
    assert revoked.status_code == 204
    ext.set_auth({**auth, "access": _expired(auth["access"], ext.backend.signing_key)})

    popup = ext.popup(tab_id)
    error = popup.get_by_test_id("auth-error")
    error.wait_for()
    assert error.inner_text() == "Your session has ended. Please sign in again."
    assert popup.get_by_test_id("login-email").is_visible()
    assert popup.get_by_test_id("signed-in-as").is_hidden()
    assert ext.auth() is None


def _looks_human(text: str) -> None:
    assert text.endswith("."), text
    assert len(text) < 120, text
    for leak in ("Error", "error:", "Failed to fetch", "TypeError", "Traceback", "{", "status"):
        assert leak not in text, text


def test_the_api_down_shows_a_sentence(
    ext: Extension, shops: ShopServer, new_user: dict[str, Any]
) -> None:
    new_user["api"].post("carts/", {"name": "Later"})
    _, tab_id = ext.open_shop_page(shops.serve(product_page(PRODUCT)))
    popup = ext.popup(tab_id)
    ext.sign_in(popup, new_user["email"], new_user["password"])
    popup.get_by_test_id("cart-option").check()

    ext.set_api_base(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    popup.get_by_test_id("save").click()
    status = popup.locator("[data-testid=save-status][data-state=error]")
    status.wait_for()
    text = status.inner_text().strip()
    assert text == ("Can't reach BuyHive right now. Check your internet connection and try again.")
    _looks_human(text)

    # Opened while the API is down: the popup says so instead of showing nothing.
    again = ext.popup(tab_id)
    notice = again.get_by_test_id("notice")
    notice.wait_for()
    _looks_human(notice.inner_text().strip())
    assert ext.auth() is not None  # a network failure is not a reason to sign out


@pytest.mark.parametrize(
    ("status", "headers", "sentence"),
    [
        (413, {}, "This page is too large to save. Try again from the product's own page."),
        (
            429,
            {"Retry-After": "42"},
            "Too many requests in a short time. Please try again in 42 seconds.",
        ),
        (500, {}, "BuyHive is having a problem on its side. Please try again in a minute."),
        (502, {}, "BuyHive is having a problem on its side. Please try again in a minute."),
        (503, {}, "BuyHive is temporarily unavailable. Please try again in a minute."),
    ],
)
def test_each_api_error_is_a_sentence(
    ext: Extension,
    shops: ShopServer,
    fake_api: FakeApi,
    status: int,
    headers: dict[str, str],
    sentence: str,
) -> None:
    with_a_cart(fake_api)
    body = envelope("x", "internal detail") if status != 502 else None  # a proxy's empty 502
    fake_api.route("POST", "extract/", Answer(status, body, headers))
    ext.set_api_base(fake_api.base)
    ext.set_auth(signed_in_auth())
    _, tab_id = ext.open_shop_page(shops.serve(product_page(PRODUCT)))
    popup = ext.popup(tab_id)
    popup.get_by_test_id("cart-option").check()
    popup.get_by_test_id("save").click()
    status_box = popup.locator("[data-testid=save-status][data-state=error]")
    status_box.wait_for()
    assert status_box.inner_text().strip() == sentence
    _looks_human(sentence)
    if status == 429:
        # Retry-After is honoured: Save waits, and nothing is sent before the time is up.
        assert popup.get_by_test_id("save").is_disabled()
        popup.wait_for_timeout(1500)
        assert "Save again in" in popup.get_by_test_id("save").inner_text()
        popup.evaluate(
            "() => chrome.runtime.sendMessage({type: 'api', method: 'POST', path: 'extract/',"
            " body: {url: 'http://127.0.0.1/x', text: 'x'}})"
        )
        assert len(fake_api.sent("POST", "extract/")) == 1


def test_save_comes_back_after_the_wait_and_after_the_next_save(
    ext: Extension, shops: ShopServer, fake_api: FakeApi
) -> None:
    """A 429's wait ends: Save is offered again, and a save after it (failing here with a 500)
    leaves Save usable, not off for good."""
    with_a_cart(fake_api)
    fake_api.route(
        "POST", "extract/", Answer(429, envelope("throttled", "Slow down."), {"Retry-After": "1"})
    )
    ext.set_api_base(fake_api.base)
    ext.set_auth(signed_in_auth())
    _, tab_id = ext.open_shop_page(shops.serve(product_page(PRODUCT)))
    popup = ext.popup(tab_id)
    popup.get_by_test_id("cart-option").check()
    save = popup.get_by_test_id("save")
    save.click()
    popup.locator("[data-testid=save-status][data-state=error]").wait_for()
    popup.wait_for_function(
        "() => { const b = document.getElementById('save');"
        " return !b.disabled && b.textContent === 'Save this product'; }",
        timeout=10_000,
    )

    fake_api.route("POST", "extract/", Answer(500, envelope("server_error", "Boom.")))
    save.click()
    popup.locator(
        "[data-testid=save-status][data-state=error]", has_text="problem on its side"
    ).wait_for()
    popup.wait_for_function("() => !document.body.dataset.busy", timeout=10_000)
    assert len(fake_api.sent("POST", "extract/")) == 2
    assert save.is_enabled()


def test_a_refused_token_mid_save_signs_out_with_a_sentence(
    ext: Extension, shops: ShopServer, fake_api: FakeApi
) -> None:
    with_a_cart(fake_api)
    fake_api.route("POST", "extract/", Answer(401, envelope("token_invalid", "Token expired.")))
    fake_api.route("POST", "auth/refresh/", Answer(401, envelope("token_invalid", "Revoked.")))
    ext.set_api_base(fake_api.base)
    ext.set_auth(signed_in_auth())
    _, tab_id = ext.open_shop_page(shops.serve(product_page(PRODUCT)))
    popup = ext.popup(tab_id)
    popup.get_by_test_id("cart-option").check()
    popup.get_by_test_id("save").click()
    error = popup.get_by_test_id("auth-error")
    error.wait_for()
    assert error.inner_text() == "Your session has ended. Please sign in again."
    assert len(fake_api.sent("POST", "auth/refresh/")) == 1
    assert ext.auth() is None


def test_a_large_page_saves_within_the_limits(
    ext: Extension, shops: ShopServer, new_user: dict[str, Any]
) -> None:
    page = product_page(LARGEST)
    padded = pad_page(page.html, 3 * 1024 * 1024)
    served_bytes = len(padded.encode("utf-8"))
    assert served_bytes >= 3 * 1024 * 1024
    cart_id = new_user["api"].post("carts/", {"name": "Bedroom"})["id"]
    _, tab_id = ext.open_shop_page(shops.serve(page, padded))
    popup = ext.popup(tab_id)
    ext.sign_in(popup, new_user["email"], new_user["password"])
    popup.locator(f"[data-testid=cart-option][data-cart-id='{cart_id}']").check()
    popup.get_by_test_id("save").click()
    status = popup.locator("[data-testid=save-status][data-state]")
    status.wait_for(timeout=60_000)
    assert status.get_attribute("data-state") == "saved", status.inner_text()
    assert "Lattenrostbausatz CALYPSO" in status.inner_text()

    item = new_user["api"].get("items/")["results"][0]
    assert Decimal(item["price"]) == Decimal(page.truth["price"][0])
    rendered = int(popup.evaluate("() => document.body.dataset.renderedChars"))
    sent = int(popup.evaluate("() => document.body.dataset.sentChars"))
    body_bytes = int(popup.evaluate("() => document.body.dataset.sentBytes"))
    sizes = {
        "served_bytes": served_bytes,
        "rendered_chars": rendered,
        "sent_html_chars": sent,
        "sent_body_bytes": body_bytes,
    }
    (ARTIFACTS / "flow8-sizes.json").write_text(json.dumps(sizes, indent=2) + "\n")
    assert sent <= 2 * 1024 * 1024  # the API's html limit
    assert body_bytes <= 4 * 1024 * 1024  # and its body limit


def test_the_api_answers_cors_for_the_extension_origin(ext: Extension) -> None:
    preflight = requests.options(
        ext.backend.api("extract/"),
        headers={
            "Origin": ext.browser.origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
        timeout=10,
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == ext.browser.origin
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"]
    other = requests.options(
        ext.backend.api("extract/"),
        headers={
            "Origin": "chrome-extension://someoneelse",
            "Access-Control-Request-Method": "POST",
        },
        timeout=10,
    )
    assert "Access-Control-Allow-Origin" not in other.headers


def test_the_session_survives_a_service_worker_restart(
    ext: Extension, shops: ShopServer, new_user: dict[str, Any]
) -> None:
    """Chrome stops an idle service worker at will: nothing the user needs lives in it."""
    new_user["api"].post("carts/", {"name": "After restart"})
    _, tab_id = ext.open_shop_page(shops.serve(product_page(PRODUCT)))
    popup = ext.popup(tab_id)
    ext.sign_in(popup, new_user["email"], new_user["password"])
    popup.close()
    cdp = ext.context.new_cdp_session(ext.control)

    def running_workers() -> list[str]:
        targets = cdp.send("Target.getTargets")["targetInfos"]
        return [
            t["url"]
            for t in targets
            if t["type"] == "service_worker" and t["url"].startswith(ext.browser.origin)
        ]

    assert running_workers()
    cdp.send("ServiceWorker.enable")
    cdp.send("ServiceWorker.stopAllWorkers")
    for _ in range(50):
        if not running_workers():
            break
        ext.control.wait_for_timeout(200)
    assert running_workers() == [], "the service worker did not stop"

    popup = ext.popup(tab_id)  # its first message starts the worker again
    popup.get_by_test_id("signed-in-as").filter(has_text=new_user["email"]).wait_for()
    popup.locator("label.cart", has_text="After restart").wait_for()
    assert popup.get_by_test_id("notice").is_hidden()
    assert running_workers()  # started again by the popup's first message
    cdp.detach()
