"""The admin in a real browser, as staff use it: sign in with a password and a TOTP code,
see the dashboard, find a user by email, revoke their cart's share link.

Staff are set up the way the runbook says (``createsuperuser``, then ``enroll_totp``, whose
printed secret goes into an authenticator app: here the code is computed from it, RFC 6238).
The shopper and their shared cart are made over the API.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import struct
import time
from typing import Any

import requests

from e2e.conftest import ARTIFACTS, UI_TIMEOUT_MS, Backend, Browser


def totp(secret_base32: str, *, at: float | None = None, step: int = 30, digits: int = 6) -> str:
    """The RFC 6238 code of ``secret_base32`` now (what an authenticator app shows)."""
    key = base64.b32decode(secret_base32)
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def _staff(backend: Backend) -> tuple[str, str, str]:
    """A superuser with an enrolled authenticator: (email, password, base32 secret)."""
    email = f"staff-{secrets.token_hex(4)}@example.com"
    password = f"staff e2e passphrase {secrets.token_hex(4)}"
    backend.manage(
        "createsuperuser",
        "--noinput",
        "--email",
        email,
        env={"DJANGO_SUPERUSER_PASSWORD": password},
    )
    printed = backend.manage("enroll_totp", email)
    found = re.search(r"secret \(base32\): ([A-Z2-7=]+)", printed)
    assert found, printed
    return email, password, found[1]


def _dashboard_figure(page: Any, label: str) -> int:
    row = page.locator("#dashboard tr", has=page.locator("th", has_text=label)).first
    return int(row.locator("td.dashboard-figure").inner_text().strip())


def test_staff_sign_in_with_totp_find_a_user_and_revoke_a_share_link(
    browser: Browser, backend: Backend
) -> None:
    shopper_email = f"shopper-{secrets.token_hex(4)}@example.com"
    tokens = backend.register(shopper_email, "a long enough e2e password 7")
    shopper = backend.client(tokens["access"])
    cart = shopper.post("carts/", {"name": "Birthday wishes"})
    link = shopper.post(f"carts/{cart['id']}/share-link/", {}, expect=201)
    public = backend.api(f"shared/{link['token']}/")
    assert requests.get(public, timeout=30).status_code == 200

    email, password, secret = _staff(backend)
    page = browser.context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    try:
        # Sign in: password AND the authenticator's code.
        page.goto(f"{backend.base}/admin/")
        page.fill("#id_username", email)
        page.fill("#id_password", password)
        page.fill("#id_otp_token", totp(secret))
        page.click("#login-form input[type=submit]:not([name=otp_challenge])")
        page.wait_for_selector("#dashboard")

        # The dashboard: the new shopper and their live share link are counted.
        assert _dashboard_figure(page, "signed up in the last 7 days") >= 2
        live_before = _dashboard_figure(page, "live share links")
        assert live_before >= 1
        assert page.locator("#dashboard caption", has_text="Extractions").count() == 1
        page.screenshot(path=str(ARTIFACTS / "admin-dashboard.png"), full_page=True)

        # Find the shopper by email, then their carts through the user list's carts column.
        page.get_by_role("link", name="Users").first.click()
        page.fill("#searchbar", shopper_email)
        with page.expect_navigation():
            page.press("#searchbar", "Enter")
        row = page.locator("#result_list tbody tr", has_text=shopper_email)
        assert row.count() == 1
        assert page.locator("#result_list tbody tr").count() == 1  # only that user
        with page.expect_navigation():
            row.locator("a[href*='/admin/carts/cart/?owner=']").click()
        cart_row = page.locator("#result_list tbody tr", has_text="Birthday wishes")
        assert cart_row.count() == 1

        # Revoke the share link with the admin action.
        cart_row.locator("input.action-select").check()
        page.select_option("select[name=action]", "revoke_share_links")
        with page.expect_navigation():
            page.click("button[name=index]")
        page.locator(".messagelist", has_text="Revoked 1 share link(s).").wait_for()
        assert requests.get(public, timeout=30).status_code == 404

        # The cart's history names the staff member and the change.
        page.goto(f"{backend.base}/admin/carts/cart/{cart['id']}/history/")
        history = page.locator("#change-history").inner_text()
        assert "Revoked the share link." in history
        assert email in history

        # And the dashboard counts one live link fewer.
        page.goto(f"{backend.base}/admin/")
        assert _dashboard_figure(page, "live share links") == live_before - 1
        page.screenshot(path=str(ARTIFACTS / "admin-after-revoke.png"), full_page=True)
    finally:
        page.close()
