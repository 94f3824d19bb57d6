"""Finding 4: the admin login is throttled like the API's and needs a TOTP code."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def staff(password: str) -> User:
    return User.objects.create_user(
        email="staff@example.com", password=password, is_staff=True, email_verified=True
    )


def _code(device: TOTPDevice) -> str:
    return f"{TOTP(device.bin_key).token():06d}"


def _post(client: Client, email: str, password: str, ip: str = "192.0.2.10", **extra: str) -> Any:
    return client.post(LOGIN, {"username": email, "password": password, **extra}, REMOTE_ADDR=ip)


def test_the_right_password_without_a_code_does_not_open_the_admin(
    staff: User, password: str
) -> None:
    TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client = Client()
    response = _post(client, staff.email, password)
    assert response.status_code == 200  # the form again
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    wrong = _post(client, staff.email, password, otp_token="000000")
    assert wrong.status_code == 200
    assert client.get("/admin/").status_code == 302


def test_a_staff_member_without_an_authenticator_cannot_sign_in(staff: User, password: str) -> None:
    client = Client()
    assert _post(client, staff.email, password, otp_token="123456").status_code == 200
    assert client.get("/admin/").status_code == 302


def test_password_and_a_valid_code_open_the_admin(staff: User, password: str) -> None:
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client = Client()
    response = _post(client, staff.email, password, otp_token=_code(device))
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_the_enrol_command_prints_a_secret_that_signs_in(staff: User, password: str) -> None:
    out = io.StringIO()
    call_command("enroll_totp", "Staff@Example.com", stdout=out)
    text = out.getvalue()
    assert "otpauth://totp/" in text
    device = TOTPDevice.objects.get(user=staff)
    secret = re.search(r"secret \(base32\): ([A-Z2-7=]+)", text)
    assert secret is not None
    client = Client()
    assert _post(client, staff.email, password, otp_token=_code(device)).status_code == 302
    with pytest.raises(CommandError, match="already has"):
        call_command("enroll_totp", staff.email, stdout=io.StringIO())
    call_command("enroll_totp", staff.email, "--replace", stdout=io.StringIO())
    assert TOTPDevice.objects.filter(user=staff).count() == 1
    assert TOTPDevice.objects.get(user=staff).pk != device.pk


def test_the_enrol_command_refuses_non_staff(user: User) -> None:
    with pytest.raises(CommandError, match="not staff"):
        call_command("enroll_totp", user.email, stdout=io.StringIO())


def test_wrong_passwords_are_throttled_per_account_and_client(
    staff: User, password: str, settings: Any
) -> None:
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    attacker = Client()
    for _ in range(settings.LOGIN_FREE_FAILURES + 1):
        assert _post(attacker, staff.email, "wrong", ip="203.0.113.9").status_code == 200
    # Forty wrong passwords then the right one were all accepted before; now the right one
    # (with a valid code) is refused from the guessing client until its delay runs out.
    limited = _post(attacker, staff.email, password, ip="203.0.113.9", otp_token=_code(device))
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) >= 1
    # The staff member, from their own address, signs in.
    owner = Client()
    ok = _post(owner, staff.email, password, ip="198.51.100.4", otp_token=_code(device))
    assert ok.status_code == 302


def test_admin_login_posts_are_limited_per_client(staff: User, settings: Any) -> None:
    settings.RATE_LOGIN_IP = "3/h"
    client = Client()
    for n in range(3):
        assert _post(client, f"nobody{n}@example.com", "x", ip="203.0.113.20").status_code == 200
    assert _post(client, "someone@example.com", "x", ip="203.0.113.20").status_code == 429
