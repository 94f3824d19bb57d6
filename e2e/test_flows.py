"""The extension's flows end to end: Debian's Chromium, the unpacked extension, the real
backend, real shop pages on loopback (issue 15). Screenshots land in ``var/e2e/``."""

from __future__ import annotations

import secrets

import requests

from e2e.conftest import Extension
from e2e.shops import ShopServer, product_page

# nay.sk, "Garni 570 Easy II čierna", 54.50 EUR in its JSON-LD (128 KB).
PRODUCT = "ccbaa81cc8"
# An LA Times article: not a product page.
ARTICLE = "098bb3e96c"


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
