"""Each access token's signature is verified once per process (``VerifiedTokens``), and
nothing that can change with time is taken from that memo: expiry, the token's type and
the user's checks still run on every request; other bytes (a tampered or re-signed token)
take the full path."""

from __future__ import annotations

import time
from datetime import timedelta

import jwt
import pytest
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.authentication import (
    JWTAuthentication as _SimpleJWTAuthentication,
)
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken

from accounts import services
from accounts.authentication import VerifiedTokens, verified_tokens
from accounts.models import User

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me/"


def _client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def _access(user: User, lifetime: timedelta | None = None) -> str:
    token = AccessToken.for_user(user)
    if lifetime is not None:
        token.set_exp(lifetime=lifetime)
    return str(token)


def test_a_token_seen_before_is_answered_from_the_memo(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = _access(user)
    assert _client(raw).get(ME).status_code == 200

    def decode_again(*_: object) -> None:
        raise AssertionError("a token seen before was decoded and verified again")

    # SimpleJWT's own path (decode, verify the signature) is no longer reachable.
    monkeypatch.setattr(_SimpleJWTAuthentication, "get_validated_token", decode_again)
    response = _client(raw).get(ME)
    assert response.status_code == 200 and response.json()["email"] == user.email


def test_an_expired_token_is_refused_even_when_seen_before(user: User) -> None:
    # SimpleJWT allows ``LEEWAY`` seconds past ``exp``: this token has three seconds left, room
    # for the first request on a loaded machine; then wait until the leeway has run out.
    leeway = api_settings.LEEWAY
    leeway = leeway.total_seconds() if isinstance(leeway, timedelta) else float(leeway)
    raw = _access(user, lifetime=timedelta(seconds=3 - leeway))
    assert _client(raw).get(ME).status_code == 200
    refused_from = jwt.decode(raw, options={"verify_signature": False})["exp"] + leeway
    time.sleep(max(0.0, refused_from - time.time()) + 0.2)
    response = _client(raw).get(ME)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_invalid"
    assert verified_tokens.get(raw.encode()) is None  # and dropped from the memo


def test_a_token_signed_with_another_key_is_refused_though_its_twin_was_seen(
    user: User,
) -> None:
    raw = _access(user)
    assert _client(raw).get(ME).status_code == 200
    payload = jwt.decode(raw, options={"verify_signature": False})
    forged = jwt.encode(
        payload, "not-the-signing-key-" + "y" * 32, algorithm=api_settings.ALGORITHM
    )
    assert forged != raw
    assert _client(forged).get(ME).status_code == 401


def test_the_user_checks_still_run_for_a_token_seen_before(user: User) -> None:
    raw = _access(user)
    assert _client(raw).get(ME).status_code == 200
    user.set_password("another-Secret-123")
    user.save(update_fields=["password"])
    response = _client(raw).get(ME)
    assert response.status_code == 401
    services.user_deactivate(user=user)
    assert _client(raw).get(ME).status_code == 401


def test_the_memo_is_bounded(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    memo = VerifiedTokens()
    monkeypatch.setattr(VerifiedTokens, "MAX_TOKENS", 2)
    tokens = [AccessToken.for_user(user) for _ in range(3)]
    for token in tokens:
        memo.add(str(token).encode(), token)
    assert len(memo) == 2
    assert memo.get(str(tokens[0]).encode()) is None  # the oldest went first
    assert memo.get(str(tokens[2]).encode()) is not None


def test_a_change_of_the_jwt_settings_empties_the_memo(user: User) -> None:
    raw = _access(user)
    assert _client(raw).get(ME).status_code == 200
    assert len(verified_tokens) > 0
    with override_settings(SIMPLE_JWT={"SIGNING_KEY": "a-rotated-key-" + "x" * 40}):
        assert len(verified_tokens) == 0


def test_a_memoised_token_is_a_fresh_object_per_request(user: User) -> None:
    raw = _access(user).encode()
    assert _client(raw.decode()).get(ME).status_code == 200
    first, second = verified_tokens.get(raw), verified_tokens.get(raw)
    assert first is not None and second is not None and first is not second
    first["user_id"] = "changed"
    assert second["user_id"] == str(user.pk)
