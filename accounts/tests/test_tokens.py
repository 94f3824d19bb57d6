"""Access and refresh tokens: every refusal through the API, revocation, purging."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from io import StringIO
from typing import Any

import jwt
import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import RefreshToken, User
from accounts.services import user_deactivate, user_reactivate
from accounts.tokens import issue_tokens, purge_expired_tokens

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me/"
REFRESH = "/api/v1/auth/refresh/"


def me_with(access: str) -> Any:
    return APIClient().get(ME, HTTP_AUTHORIZATION=f"Bearer {access}")


def assert_401(response: Any) -> None:
    assert response.status_code == 401, response.content
    body = response.json()
    assert body["error"]["code"] == "token_invalid"
    assert response["WWW-Authenticate"].startswith("Bearer")


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def test_access_token_works(user: User) -> None:
    assert me_with(issue_tokens(user)["access"]).status_code == 200


def test_access_token_with_alg_none_is_refused(user: User) -> None:
    claims = _claims(issue_tokens(user)["access"])
    forged = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    assert_401(me_with(forged))


def test_access_token_signed_with_another_key_is_refused(user: User) -> None:
    claims = _claims(issue_tokens(user)["access"])
    assert_401(
        me_with(jwt.encode(claims, "not-our-signing-key-0123456789abcdef", algorithm="HS256"))
    )


def test_access_token_with_tampered_payload_is_refused(user: User, other_user: User) -> None:
    header, _payload, signature = issue_tokens(user)["access"].split(".")
    claims = _claims(issue_tokens(user)["access"])
    claims["user_id"] = str(other_user.pk)
    assert_401(me_with(f"{header}.{_b64(claims)}.{signature}"))


def test_expired_access_token_is_refused(user: User) -> None:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(minutes=1))
    assert_401(me_with(str(token)))


def test_refresh_token_used_as_access_token_is_refused(user: User) -> None:
    assert_401(me_with(issue_tokens(user)["refresh"]))


def test_access_token_of_inactive_user_is_refused(user: User) -> None:
    access = issue_tokens(user)["access"]
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert_401(me_with(access))


def test_access_token_stops_working_after_password_change(user: User) -> None:
    """SimpleJWT's CHECK_REVOKE_TOKEN with our user model: the token carries a hash of the
    password hash, so a new password (or an unusable one) invalidates it."""
    tokens = issue_tokens(user)
    user.set_password("a different passphrase 31")
    user.save()
    assert_401(me_with(tokens["access"]))
    # The refresh token minted with the old password is refused too.
    assert (
        APIClient().post(REFRESH, {"refresh": tokens["refresh"]}, format="json").status_code == 401
    )


def test_access_token_with_malformed_or_unknown_user_id_is_refused(user: User) -> None:
    for user_id in ("not-an-object-id", "5f0c0c0c0c0c0c0c0c0c0c0c"):
        token = AccessToken.for_user(user)
        token["user_id"] = user_id
        assert_401(me_with(str(token)))


def test_bearer_header_with_extra_parts_is_refused(user: User) -> None:
    response = APIClient().get(ME, HTTP_AUTHORIZATION="Bearer a b")
    assert response.status_code == 401


def test_deactivation_revokes_refresh_tokens_and_access_fails_next_request(user: User) -> None:
    sessions = [issue_tokens(user) for _ in range(3)]
    assert me_with(sessions[0]["access"]).status_code == 200

    assert user_deactivate(user=user)["sessions_revoked"] == 3

    assert not RefreshToken.objects.filter(user=user, revoked_at=None).exists()
    assert_401(me_with(sessions[0]["access"]))
    for session in sessions:
        response = APIClient().post(REFRESH, {"refresh": session["refresh"]}, format="json")
        assert response.status_code == 401

    user_reactivate(user=user)
    user.refresh_from_db()
    assert user.is_active
    # Old refresh tokens stay revoked; a fresh sign-in works.
    assert (
        APIClient().post(REFRESH, {"refresh": sessions[1]["refresh"]}, format="json").status_code
        == 401
    )
    assert me_with(issue_tokens(user)["access"]).status_code == 200


def test_issue_tokens_refuses_inactive_user(user: User) -> None:
    from accounts.tokens import TokenInvalid

    user.is_active = False
    with pytest.raises(TokenInvalid):
        issue_tokens(user)


def test_refresh_token_is_stored_with_its_expiry(user: User) -> None:
    before = timezone.now()
    issue_tokens(user)
    record = RefreshToken.objects.get(user=user)
    lifetime = record.expires_at - before
    assert timedelta(days=7) - timedelta(minutes=1) < lifetime <= timedelta(days=7, seconds=5)


def test_refresh_token_row_deleted_is_refused(user: User) -> None:
    tokens = issue_tokens(user)
    RefreshToken.objects.all().delete()
    assert (
        APIClient().post(REFRESH, {"refresh": tokens["refresh"]}, format="json").status_code == 401
    )


def test_purge_expired_tokens_command_deletes_only_expired(user: User) -> None:
    issue_tokens(user)
    live = RefreshToken.objects.get()
    now = timezone.now()
    RefreshToken.objects.create(jti="expired-1", user=user, expires_at=now - timedelta(days=1))
    RefreshToken.objects.create(
        jti="expired-2", user=user, expires_at=now - timedelta(seconds=1), revoked_at=now
    )
    out = StringIO()
    call_command("purge_expired_tokens", stdout=out)
    assert "Purged 2" in out.getvalue()
    assert list(RefreshToken.objects.values_list("jti", flat=True)) == [live.jti]
    assert purge_expired_tokens(now=now + timedelta(days=8)) == 1


def test_the_scheduled_token_purge_runs_on_the_worker_by_name(user: User, worker: Any) -> None:
    from buyhive.celery import app
    from buyhive.tests.task_worker import wait_for

    issue_tokens(user)
    live = RefreshToken.objects.get()
    expired = RefreshToken.objects.create(
        jti="expired-1", user=user, expires_at=timezone.now() - timedelta(days=1)
    )

    app.send_task("accounts.purge_expired_tokens")

    wait_for(lambda: not RefreshToken.objects.filter(pk=expired.pk).exists(), what="purged")
    assert RefreshToken.objects.filter(pk=live.pk).exists()
