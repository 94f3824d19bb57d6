"""Email confirmation of password accounts: the mail, ``auth/email/verify``, resend, the page."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import email_confirmation_key
from accounts.tests.google_fake import FakeGoogle
from buyhive.mail.models import OutboundMail
from conftest import bearer_client_for

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
VERIFY = "/api/v1/auth/email/verify/"
RESEND = "/api/v1/auth/email/resend/"
GOOGLE = "/api/v1/auth/google/"


def _confirmations(to: str) -> list[OutboundMail]:
    return list(OutboundMail.objects.filter(kind="email_confirmation", to=to).order_by("pk"))


def _key_of(message: Any) -> str:
    """The key in a confirmation mail, as the worker sent it."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"http://testserver/auth/email/confirm/([^/\s]+)/", text)
    assert match, text
    return match.group(1)


def _verify(key: Any) -> Any:
    return APIClient().post(VERIFY, {"key": key}, format="json")


def test_registration_mails_a_confirmation_link_through_the_queue(
    password: str, worker: Any
) -> None:
    response = APIClient().post(
        REGISTER, {"email": "New@Example.com", "password": password}, format="json"
    )
    assert response.status_code == 201
    [row] = _confirmations("new@example.com")
    assert not row.unsubscribe  # the owner's own transactional mail
    user = User.objects.get(email="new@example.com")
    assert not user.email_verified

    [message] = worker.wait_for_messages(to="new@example.com")  # sent by the worker
    assert "Confirm" in message["Subject"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "did not create this account" in text
    link = re.search(r"http://testserver/auth/email/confirm/([^/\s]+)/", text)
    assert link, text
    assert f'href="{link.group(0)}"' in html

    assert _verify(link.group(1)).status_code == 204
    user.refresh_from_db()
    assert user.email_verified
    assert _verify(link.group(1)).status_code == 204  # again: still confirmed, no error


@pytest.mark.parametrize("key", ["", "garbage", "x" * 300, "abc:def:ghi", 12])
def test_a_bad_key_is_a_400_envelope(db: Any, key: Any) -> None:
    response = _verify(key)
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "validation_error"
    assert "key" in body["error"]["fields"]


def test_a_forged_or_tampered_key_is_refused(password: str) -> None:
    user = User.objects.create_user(email="t@example.com", password=password)
    key = email_confirmation_key(user=user)
    other = User.objects.create_user(email="u@example.com", password=password)
    forged = key.replace(str(user.pk), str(other.pk))
    assert forged != key
    assert _verify(forged).status_code == 400
    other.refresh_from_db()
    assert not other.email_verified


def test_an_expired_key_is_refused(password: str, settings: Any) -> None:
    user = User.objects.create_user(email="late@example.com", password=password)
    key = email_confirmation_key(user=user)
    settings.EMAIL_CONFIRMATION_MAX_AGE = 1
    time.sleep(2.1)
    response = _verify(key)
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["key"]
    user.refresh_from_db()
    assert not user.email_verified


def test_a_key_for_an_older_email_is_refused(password: str) -> None:
    user = User.objects.create_user(email="before@example.com", password=password)
    key = email_confirmation_key(user=user)
    User.objects.filter(pk=user.pk).update(email="after@example.com")
    assert _verify(key).status_code == 400
    user.refresh_from_db()
    assert not user.email_verified


def test_resend_mails_a_new_link_and_is_rate_limited(
    password: str, settings: Any, worker: Any
) -> None:
    settings.RATE_EMAIL_RESEND_USER = "2/h"
    user = User.objects.create_user(email="again@example.com", password=password)
    client = bearer_client_for(user)
    assert client.post(RESEND).status_code == 202
    assert client.post(RESEND).status_code == 202
    limited = client.post(RESEND)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited["Retry-After"]
    assert len(_confirmations("again@example.com")) == 2
    messages = worker.wait_for_messages(to="again@example.com", count=2)
    assert _verify(_key_of(messages[-1])).status_code == 204


def test_resend_needs_a_bearer_and_mails_nothing_for_a_confirmed_address(user: User) -> None:
    assert APIClient().post(RESEND).status_code == 401
    assert bearer_client_for(user).post(RESEND).status_code == 202
    assert _confirmations(user.email) == []


def test_the_page_asks_on_get_and_confirms_only_on_post(password: str) -> None:
    """Mail scanners open links: opening one must not confirm an account someone else made."""
    user = User.objects.create_user(email="page@example.com", password=password)
    path = f"/auth/email/confirm/{email_confirmation_key(user=user)}/"
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path)
    assert page.status_code == 200
    assert b"Confirm only if you created" in page.content
    user.refresh_from_db()
    assert not user.email_verified

    csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert csrf
    done = browser.post(path, {"csrfmiddlewaretoken": csrf.group(1).decode()})
    assert done.status_code == 200
    assert b"Address confirmed" in done.content
    user.refresh_from_db()
    assert user.email_verified
    assert Client().post("/auth/email/confirm/bad-key/").status_code in (400, 403)


def test_google_accounts_and_imported_prototype_users_are_confirmed(google: FakeGoogle) -> None:
    imported = User.objects.create_user(email="proto@example.com")  # import_legacy: no password
    assert not imported.email_verified
    response = APIClient().post(
        GOOGLE, {"id_token": google.token(email="proto@example.com")}, format="json"
    )
    assert response.status_code == 200, response.content
    imported.refresh_from_db()
    assert imported.email_verified

    created = APIClient().post(
        GOOGLE, {"id_token": google.token(email="g@example.com", sub="g-2")}, format="json"
    )
    assert created.status_code == 200
    assert User.objects.get(email="g@example.com").email_verified
