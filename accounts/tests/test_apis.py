"""Email + password, tokens, logout, password reset and the profile, through the HTTP API."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import RefreshToken, User
from accounts.services import password_reset_mail, password_reset_uid
from accounts.tests.factories import UserFactory
from accounts.tokens import issue_tokens
from buyhive.mail.models import OutboundMail
from buyhive.tests.task_worker import broker_unreachable

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
LOGIN = "/api/v1/auth/login/"
REFRESH = "/api/v1/auth/refresh/"
LOGOUT = "/api/v1/auth/logout/"
RESET = "/api/v1/auth/password/reset/"
RESET_CONFIRM = "/api/v1/auth/password/reset/confirm/"
ME = "/api/v1/auth/me/"
NEW_PASSWORD = "a brand new passphrase 77"


def post(client: APIClient, url: str, body: Any, **extra: Any) -> Any:
    return client.post(url, body, format="json", **extra)


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error", "request_id"}, body
    assert body["request_id"] == response["X-Request-ID"]
    return body["error"]


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


# --------------------------------------------------------------------------- register


def test_register_answers_201_with_tokens_and_normalised_email(api_client: APIClient) -> None:
    response = post(
        api_client,
        REGISTER,
        {"email": " Dave@Example.COM ", "password": NEW_PASSWORD, "name": "Dave"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"access", "refresh", "access_expires_in", "user"}
    user = User.objects.get()
    assert body["user"] == {
        "id": str(user.pk),
        "email": "dave@example.com",
        "name": "Dave",
        "avatar_url": "",
    }
    assert user.check_password(NEW_PASSWORD)
    assert not user.email_verified
    assert bearer(body["access"]).get(ME).json()["email"] == "dave@example.com"


def test_register_existing_email_in_other_case_is_400(api_client: APIClient, user: User) -> None:
    response = post(api_client, REGISTER, {"email": "ALICE@example.com", "password": NEW_PASSWORD})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert "email" in error["fields"]
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("password", "why"),
    [("short1", "too short"), ("password123", "too common"), ("8473629105", "entirely numeric")],
)
def test_register_weak_password_is_400(api_client: APIClient, password: str, why: str) -> None:
    response = post(api_client, REGISTER, {"email": "erin@example.com", "password": password})
    assert response.status_code == 400
    error = error_of(response)
    assert why in " ".join(error["fields"]["password"])
    assert not User.objects.exists()


def test_register_password_like_email_is_400(api_client: APIClient) -> None:
    response = post(
        api_client,
        REGISTER,
        {"email": "frederick.longname@example.com", "password": "frederick.longname"},
    )
    assert response.status_code == 400
    assert "similar" in " ".join(error_of(response)["fields"]["password"])


@pytest.mark.parametrize(
    "body", [{}, {"email": "not-an-email", "password": NEW_PASSWORD}, {"email": "g@example.com"}]
)
def test_register_bad_body_is_400(api_client: APIClient, body: dict[str, str]) -> None:
    response = post(api_client, REGISTER, body)
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"


def test_register_malformed_json_is_400(api_client: APIClient) -> None:
    response = api_client.post(REGISTER, data="{nope", content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"


# --------------------------------------------------------------------------- login


def test_login_answers_200_with_tokens(api_client: APIClient, user: User, password: str) -> None:
    response = post(api_client, LOGIN, {"email": "ALICE@example.com", "password": password})
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["id"] == str(user.pk)
    assert body["access_expires_in"] == 900
    assert RefreshToken.objects.filter(user=user).count() == 1
    user.refresh_from_db()
    assert user.last_login is not None


def test_login_unknown_email_and_wrong_password_answer_the_same(
    api_client: APIClient, user: User
) -> None:
    wrong = post(api_client, LOGIN, {"email": user.email, "password": "not the password 1"})
    unknown = post(api_client, LOGIN, {"email": "nobody@example.com", "password": "x y z 123"})
    assert wrong.status_code == unknown.status_code == 401
    assert error_of(wrong) == error_of(unknown)
    assert error_of(wrong)["code"] == "token_invalid"


def test_login_inactive_user_is_401(api_client: APIClient, user: User, password: str) -> None:
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = post(api_client, LOGIN, {"email": user.email, "password": password})
    assert response.status_code == 401
    assert not RefreshToken.objects.exists()


def test_login_without_usable_password_is_401(api_client: APIClient) -> None:
    UserFactory(email="google.only@example.com")  # unusable password
    response = post(api_client, LOGIN, {"email": "google.only@example.com", "password": ""})
    assert response.status_code == 400  # blank password is bad input
    response = post(api_client, LOGIN, {"email": "google.only@example.com", "password": "!"})
    assert response.status_code == 401


# --------------------------------------------------------------------------- rate limits


def test_wrong_passwords_count_per_account_and_client(
    api_client: APIClient, user: User, password: str, settings: Any
) -> None:
    settings.LOGIN_FREE_FAILURES = 3
    for index in range(5):
        # Each from another client address: no pair reaches its free failures.
        response = post(
            api_client,
            LOGIN,
            {"email": user.email, "password": "wrong 1"},
            REMOTE_ADDR=f"10.0.0.{index}",
        )
        assert response.status_code == 401
    for _ in range(4):
        response = post(
            api_client,
            LOGIN,
            {"email": "Alice@Example.com", "password": "wrong 1"},
            REMOTE_ADDR="10.0.1.1",
        )
        assert response.status_code == 401
    response = post(
        api_client, LOGIN, {"email": user.email, "password": password}, REMOTE_ADDR="10.0.1.1"
    )
    assert response.status_code == 429
    assert error_of(response)["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60
    ok = post(
        api_client, LOGIN, {"email": user.email, "password": password}, REMOTE_ADDR="10.9.9.9"
    )
    assert ok.status_code == 200


def test_login_is_rate_limited_per_client_ip_behind_proxy(
    api_client: APIClient, settings: Any
) -> None:
    settings.RATE_LOGIN_IP = "2/h"
    settings.TRUSTED_PROXY_COUNT = 1
    for index in range(2):
        response = post(
            api_client,
            LOGIN,
            {"email": f"u{index}@example.com", "password": "whatever 1"},
            HTTP_X_FORWARDED_FOR="198.51.100.7",
        )
        assert response.status_code == 401
    # The same client: refused, whatever address it claims further left.
    limited = post(
        api_client,
        LOGIN,
        {"email": "u9@example.com", "password": "whatever 1"},
        HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7",
    )
    assert limited.status_code == 429
    assert "Retry-After" in limited
    # Another client behind the same proxy is not.
    other = post(
        api_client,
        LOGIN,
        {"email": "u9@example.com", "password": "whatever 1"},
        HTTP_X_FORWARDED_FOR="203.0.113.9",
    )
    assert other.status_code == 401


def test_register_is_rate_limited_per_ip(api_client: APIClient, settings: Any) -> None:
    settings.RATE_REGISTER_IP = "1/h"
    assert (
        post(api_client, REGISTER, {"email": "h@example.com", "password": NEW_PASSWORD}).status_code
        == 201
    )
    response = post(api_client, REGISTER, {"email": "i@example.com", "password": NEW_PASSWORD})
    assert response.status_code == 429
    assert "Retry-After" in response
    assert not User.objects.filter(email="i@example.com").exists()


def test_register_is_rate_limited_per_account(api_client: APIClient, settings: Any) -> None:
    settings.RATE_REGISTER_ACCOUNT = "2/h"
    for index in range(2):
        body = {"email": "j@example.com", "password": "weak"}
        assert post(api_client, REGISTER, body, REMOTE_ADDR=f"10.1.0.{index}").status_code == 400
    response = post(
        api_client,
        REGISTER,
        {"email": "J@example.com", "password": NEW_PASSWORD},
        REMOTE_ADDR="10.1.1.1",
    )
    assert response.status_code == 429


def test_login_fails_closed_when_rate_limit_store_is_down(
    api_client: APIClient, user: User, password: str, settings: Any
) -> None:
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {**settings.CACHES["default"]["OPTIONS"], "SOCKET_CONNECT_TIMEOUT": 0.2},
        }
    }
    response = post(api_client, LOGIN, {"email": user.email, "password": password})
    assert response.status_code == 503
    assert error_of(response)["code"] == "service_unavailable"
    assert not RefreshToken.objects.exists()


# --------------------------------------------------------------------------- refresh, logout


def test_refresh_rotates_and_old_token_is_refused(api_client: APIClient, user: User) -> None:
    first = issue_tokens(user)
    response = post(api_client, REFRESH, {"refresh": first["refresh"]})
    assert response.status_code == 200
    second = response.json()
    assert set(second) == {"access", "refresh", "access_expires_in"}
    assert second["refresh"] != first["refresh"]
    assert bearer(second["access"]).get(ME).status_code == 200

    reused = post(api_client, REFRESH, {"refresh": first["refresh"]})
    assert reused.status_code == 401
    assert error_of(reused)["code"] == "token_invalid"
    # Reuse means theft: the whole family is cut, the legitimate new token too.
    assert post(api_client, REFRESH, {"refresh": second["refresh"]}).status_code == 401


def test_refresh_with_access_token_is_refused(api_client: APIClient, user: User) -> None:
    tokens = issue_tokens(user)
    response = post(api_client, REFRESH, {"refresh": tokens["access"]})
    assert response.status_code == 401


@pytest.mark.parametrize("body", [{}, {"refresh": ""}])
def test_refresh_bad_body_is_400(api_client: APIClient, body: dict[str, str]) -> None:
    assert post(api_client, REFRESH, body).status_code == 400


def test_refresh_garbage_is_401(api_client: APIClient) -> None:
    assert post(api_client, REFRESH, {"refresh": "abc.def.ghi"}).status_code == 401


def test_refresh_of_inactive_user_is_refused(api_client: APIClient, user: User) -> None:
    tokens = issue_tokens(user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert post(api_client, REFRESH, {"refresh": tokens["refresh"]}).status_code == 401


def test_refresh_is_rate_limited_per_ip(api_client: APIClient, user: User, settings: Any) -> None:
    settings.RATE_REFRESH_IP = "1/h"
    tokens = issue_tokens(user)
    assert post(api_client, REFRESH, {"refresh": tokens["refresh"]}).status_code == 200
    response = post(api_client, REFRESH, {"refresh": "x"})
    assert response.status_code == 429
    assert "Retry-After" in response


def test_logout_revokes_refresh_token_without_bearer(api_client: APIClient, user: User) -> None:
    tokens = issue_tokens(user)
    response = post(api_client, LOGOUT, {"refresh": tokens["refresh"]})
    assert response.status_code == 204
    assert response.content == b""
    refused = post(api_client, REFRESH, {"refresh": tokens["refresh"]})
    assert refused.status_code == 401
    assert error_of(refused)["code"] == "token_invalid"
    # Repeated: still 204.
    assert post(api_client, LOGOUT, {"refresh": tokens["refresh"]}).status_code == 204


def test_logout_ignores_a_broken_bearer_header(api_client: APIClient, user: User) -> None:
    tokens = issue_tokens(user)
    response = post(
        api_client, LOGOUT, {"refresh": tokens["refresh"]}, HTTP_AUTHORIZATION="Bearer junk"
    )
    assert response.status_code == 204


def test_logout_with_garbage_is_401_and_without_token_400(api_client: APIClient) -> None:
    assert post(api_client, LOGOUT, {"refresh": "garbage"}).status_code == 401
    assert post(api_client, LOGOUT, {}).status_code == 400


def test_logout_with_expired_refresh_token_is_204(
    api_client: APIClient, user: User, settings: Any
) -> None:
    from rest_framework_simplejwt.tokens import RefreshToken as JWTRefreshToken

    token = JWTRefreshToken.for_user(user)
    token.set_exp(lifetime=-timedelta(minutes=5))
    assert post(api_client, LOGOUT, {"refresh": str(token)}).status_code == 204


# --------------------------------------------------------------------------- password reset


def reset_link_of(message: Any) -> tuple[str, str, str]:
    """(path, uid, token) of the link in a reset email (as the worker wrote it to a file)."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"http://testserver(/auth/password/reset/([^/]+)/([^/]+)/)", text)
    assert match, text
    return match.group(1), match.group(2), match.group(3)


def reset_mail_for(worker: Any, user: User) -> Any:
    [message] = worker.wait_for_messages(to=user.email)
    return message


def test_reset_mails_a_link_with_text_and_html(
    api_client: APIClient, user: User, worker: Any
) -> None:
    response = post(api_client, RESET, {"email": "Alice@Example.com"})
    assert response.status_code == 202
    assert response.content == b""
    message = reset_mail_for(worker, user)
    assert str(message["To"]) == "alice@example.com"
    assert "password" in message["Subject"].lower()
    assert "\n" not in message["Subject"]
    assert message["List-Unsubscribe"] is None  # the owner's own transactional mail
    path, uid, _token = reset_link_of(message)
    html = message.get_body(preferencelist=("html",)).get_content()
    assert f'href="http://testserver{path}"' in html
    assert uid == password_reset_uid(user)


def test_reset_request_does_the_same_work_whether_or_not_the_account_exists(
    api_client: APIClient, user: User
) -> None:
    """The request only publishes; the lookup is the worker's. Same database commands."""
    User.objects.create_user(email="google.only@example.com")
    commands: dict[str, list[str]] = {}
    for email in ("alice@example.com", "nobody@example.com", "google.only@example.com"):
        with CaptureQueriesContext(connection) as queries:
            assert post(api_client, RESET, {"email": email}).status_code == 202
        commands[email] = [query["sql"].split("(")[0] for query in queries.captured_queries]
    assert commands["alice@example.com"] == commands["nobody@example.com"]
    assert commands["alice@example.com"] == commands["google.only@example.com"]
    assert commands["alice@example.com"] == []  # no lookup at all in the request


def test_reset_answers_202_at_once_when_the_task_broker_is_down(
    api_client: APIClient, user: User
) -> None:
    post(api_client, RESET, {"email": "warm-up@example.com"})  # first request: URLconf imports
    for email in (user.email, "nobody@example.com"):
        started = time.perf_counter()
        with broker_unreachable():
            response = post(api_client, RESET, {"email": email})
        assert response.status_code == 202
        assert response.content == b""
        assert time.perf_counter() - started < 3


def test_reset_for_unknown_or_passwordless_account_queues_no_mail(db: Any) -> None:
    User.objects.create_user(email="google.only@example.com")
    for email in ("nobody@example.com", "google.only@example.com"):
        assert password_reset_mail(email=email, request_key="k-" + email) is None
    assert not OutboundMail.objects.exists()


def test_reset_task_delivered_twice_queues_one_mail(user: User) -> None:
    first = password_reset_mail(email=user.email, request_key="same-request")
    second = password_reset_mail(email=user.email, request_key="same-request")
    assert first is not None and second is not None
    assert first.pk == second.pk
    assert OutboundMail.objects.count() == 1


def test_reset_bad_email_is_400(api_client: APIClient) -> None:
    assert post(api_client, RESET, {"email": "nope"}).status_code == 400


def test_reset_is_rate_limited_per_account_and_ip(
    api_client: APIClient, user: User, settings: Any, worker: Any
) -> None:
    settings.RATE_PASSWORD_RESET_ACCOUNT = "1/h"
    settings.RATE_PASSWORD_RESET_IP = "3/h"
    assert post(api_client, RESET, {"email": user.email}, REMOTE_ADDR="10.2.0.1").status_code == 202
    per_account = post(api_client, RESET, {"email": user.email}, REMOTE_ADDR="10.2.0.1")
    assert per_account.status_code == 429
    assert "Retry-After" in per_account
    reset_mail_for(worker, user)  # exactly one: the refused request published nothing
    for index in range(3):
        ok = post(api_client, RESET, {"email": f"x{index}@example.com"}, REMOTE_ADDR="10.2.0.9")
        assert ok.status_code == 202
    per_ip = post(api_client, RESET, {"email": "y@example.com"}, REMOTE_ADDR="10.2.0.9")
    assert per_ip.status_code == 429


def test_reset_confirm_sets_password_and_revokes_sessions(
    api_client: APIClient, user: User, password: str, worker: Any
) -> None:
    old = issue_tokens(user)
    post(api_client, RESET, {"email": user.email})
    _path, uid, token = reset_link_of(reset_mail_for(worker, user))

    response = post(
        api_client, RESET_CONFIRM, {"uid": uid, "token": token, "new_password": NEW_PASSWORD}
    )

    assert response.status_code == 204
    assert post(api_client, LOGIN, {"email": user.email, "password": password}).status_code == 401
    assert (
        post(api_client, LOGIN, {"email": user.email, "password": NEW_PASSWORD}).status_code == 200
    )
    assert post(api_client, REFRESH, {"refresh": old["refresh"]}).status_code == 401
    assert bearer(old["access"]).get(ME).status_code == 401


def test_reset_confirm_with_used_token_is_400(api_client: APIClient, user: User) -> None:
    uid, token = password_reset_uid(user), default_token_generator.make_token(user)
    body = {"uid": uid, "token": token, "new_password": NEW_PASSWORD}
    assert post(api_client, RESET_CONFIRM, body).status_code == 204
    again = post(api_client, RESET_CONFIRM, {**body, "new_password": "yet another passphrase 9"})
    assert again.status_code == 400
    assert "token" in error_of(again)["fields"]
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


class _TwoHoursAgo(PasswordResetTokenGenerator):
    def _now(self) -> datetime:
        return datetime.now() - timedelta(hours=2)


def test_reset_confirm_with_expired_token_is_400(
    api_client: APIClient, user: User, password: str, settings: Any
) -> None:
    settings.PASSWORD_RESET_TIMEOUT = 3600
    token = _TwoHoursAgo().make_token(user)
    body = {"uid": password_reset_uid(user), "token": token, "new_password": NEW_PASSWORD}
    response = post(api_client, RESET_CONFIRM, body)
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"
    user.refresh_from_db()
    assert user.check_password(password)


def test_reset_link_dies_after_a_login(api_client: APIClient, user: User, password: str) -> None:
    token = default_token_generator.make_token(user)
    assert post(api_client, LOGIN, {"email": user.email, "password": password}).status_code == 200
    body = {"uid": password_reset_uid(user), "token": token, "new_password": NEW_PASSWORD}
    assert post(api_client, RESET_CONFIRM, body).status_code == 400


def test_reset_confirm_weak_password_is_400(api_client: APIClient, user: User) -> None:
    body = {
        "uid": password_reset_uid(user),
        "token": default_token_generator.make_token(user),
        "new_password": "12345678",
    }
    response = post(api_client, RESET_CONFIRM, body)
    assert response.status_code == 400
    assert "new_password" in error_of(response)["fields"]


@pytest.mark.parametrize("uid", ["!!!", "Zm9v", "NjZmZmZmZmZmZmZmZmZmZmZmZmZmZmZm"])
def test_reset_confirm_bad_uid_is_400(api_client: APIClient, user: User, uid: str) -> None:
    body = {
        "uid": uid,
        "token": default_token_generator.make_token(user),
        "new_password": NEW_PASSWORD,
    }
    assert post(api_client, RESET_CONFIRM, body).status_code == 400


# --------------------------------------------------------------------------- the reset page


def test_reset_page_sets_password_with_csrf(user: User, password: str, worker: Any) -> None:
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    post(APIClient(), RESET, {"email": user.email})
    path, _uid, _token = reset_link_of(reset_mail_for(worker, user))

    page = browser.get(path)
    assert page.status_code == 200
    assert b'name="new_password1"' in page.content
    assert b"csrfmiddlewaretoken" in page.content
    assert "no-store" in page["Cache-Control"] or "max-age=0" in page["Cache-Control"]
    csrf = browser.cookies["csrftoken"].value

    without_csrf = Client(enforce_csrf_checks=True).post(
        path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert without_csrf.status_code == 403

    mismatch = browser.post(
        path,
        {
            "csrfmiddlewaretoken": csrf,
            "new_password1": NEW_PASSWORD,
            "new_password2": "other one 55",
        },
    )
    assert mismatch.status_code == 400

    done = browser.post(
        path,
        {"csrfmiddlewaretoken": csrf, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 200
    assert b"password was changed" in done.content
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not user.check_password(password)

    used = browser.get(path)
    assert used.status_code == 400
    assert b"not valid" in used.content


def test_reset_page_with_bad_link_is_400(user: User) -> None:
    from django.test import Client

    response = Client().get(f"/auth/password/reset/{password_reset_uid(user)}/bad-token/")
    assert response.status_code == 400


def test_reset_page_is_rate_limited(user: User, settings: Any) -> None:
    from django.test import Client

    settings.RATE_LOGIN_IP = "1/h"
    url = f"/auth/password/reset/{password_reset_uid(user)}/bad-token/"
    assert Client().get(url).status_code == 400
    limited = Client().get(url)
    assert limited.status_code == 429
    assert "Retry-After" in limited


# --------------------------------------------------------------------------- me


def test_me_get(auth_client: APIClient, user: User) -> None:
    response = auth_client.get(ME)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(user.pk)
    assert body["email"] == user.email
    assert body["email_verified"] is True
    assert body["name"] == "Alice"


def test_me_requires_bearer(api_client: APIClient) -> None:
    response = api_client.get(ME)
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


def test_me_patch_changes_name_and_avatar(auth_client: APIClient, user: User) -> None:
    response = auth_client.patch(
        ME, {"name": "Alice B.", "avatar_url": "https://cdn.example.com/a.png"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Alice B."
    user.refresh_from_db()
    assert (user.name, user.avatar_url) == ("Alice B.", "https://cdn.example.com/a.png")
    assert auth_client.patch(ME, {"avatar_url": ""}, format="json").json()["avatar_url"] == ""


@pytest.mark.parametrize(
    "body",
    [
        {"email": "mallory@example.com"},
        {"is_staff": True},
        {"is_active": False},
        {"email_verified": False, "name": "x"},
    ],
)
def test_me_patch_of_protected_fields_is_400(
    auth_client: APIClient, user: User, body: dict[str, Any]
) -> None:
    response = auth_client.patch(ME, body, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert set(error["fields"]) & set(body)
    fresh = User.objects.get(pk=user.pk)
    assert (fresh.email, fresh.is_staff, fresh.is_active, fresh.email_verified, fresh.name) == (
        "alice@example.com",
        False,
        True,
        True,
        "Alice",
    )


@pytest.mark.parametrize(
    "avatar",
    ["javascript:alert(1)", "ftp://example.com/a.png", "https://example.com/" + "a" * 2040, "nope"],
)
def test_me_patch_bad_avatar_is_400(auth_client: APIClient, avatar: str) -> None:
    response = auth_client.patch(ME, {"avatar_url": avatar}, format="json")
    assert response.status_code == 400
    assert "avatar_url" in error_of(response)["fields"]


def test_me_put_is_405(auth_client: APIClient) -> None:
    assert auth_client.put(ME, {"name": "x"}, format="json").status_code == 405


# --------------------------------------------------------------------------- OpenAPI


def test_openapi_documents_bearer_auth_and_every_auth_endpoint() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert schema["components"]["securitySchemes"]["jwtAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    paths = schema["paths"]
    for path in (
        "google",
        "register",
        "login",
        "refresh",
        "logout",
        "password/reset",
        "password/reset/confirm",
    ):
        operation = paths[f"/api/v1/auth/{path}/"]["post"]
        assert "security" not in operation or operation["security"] in ([], [{}]), path
        assert {"400"} <= set(operation["responses"]), path
    me = paths["/api/v1/auth/me/"]
    assert me["get"]["security"] == [{"jwtAuth": []}]
    assert set(me) >= {"get", "patch"}
    assert "401" in me["patch"]["responses"]
