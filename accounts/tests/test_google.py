"""Google sign-in through the API, verified for real against a key set served on loopback."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from allauth.socialaccount.models import SocialAccount
from rest_framework.test import APIClient

from accounts.models import RefreshToken, User
from accounts.tests.factories import UserFactory
from accounts.tests.google_fake import FakeGoogle, SigningKey, tamper, unsigned_token
from accounts.tokens import issue_tokens

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/google/"


def sign_in(client: APIClient, token: str) -> Any:
    return client.post(URL, {"id_token": token}, format="json")


def assert_refused(response: Any, message_part: str, status: int = 401) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == ("token_invalid" if status == 401 else body["error"]["code"])
    assert message_part in body["error"]["message"]
    assert body["request_id"] == response["X-Request-ID"]
    assert not RefreshToken.objects.exists()


# --------------------------------------------------------------------------- accepted


def test_google_sign_in_creates_user_and_social_account(
    api_client: APIClient, google: FakeGoogle
) -> None:
    response = sign_in(api_client, google.token())

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access", "refresh", "access_expires_in", "user"}
    assert body["access_expires_in"] == 15 * 60
    user = User.objects.get(email="carol@example.com")
    assert body["user"] == {
        "id": str(user.pk),
        "email": "carol@example.com",
        "name": "Carol Google",
        "avatar_url": "https://lh3.googleusercontent.com/a/carol=s96-c",
    }
    assert user.email_verified
    assert not user.has_usable_password()
    social = SocialAccount.objects.get(user=user)
    assert (social.provider, social.uid) == ("google", "110169484474386276334")
    me = api_client.get("/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.status_code == 200
    assert me.json()["email"] == "carol@example.com"


def test_google_sign_in_again_updates_name_and_avatar(
    api_client: APIClient, google: FakeGoogle
) -> None:
    first = sign_in(api_client, google.token()).json()["user"]
    second = sign_in(
        api_client,
        google.token(name="Carol New", picture="https://lh3.googleusercontent.com/a/new"),
    )
    assert second.status_code == 200
    assert second.json()["user"]["id"] == first["id"]
    user = User.objects.get(pk=first["id"])
    assert (user.name, user.avatar_url) == ("Carol New", "https://lh3.googleusercontent.com/a/new")
    assert User.objects.count() == 1
    assert SocialAccount.objects.count() == 1


def test_google_issuer_without_scheme_is_accepted(
    api_client: APIClient, google: FakeGoogle
) -> None:
    assert sign_in(api_client, google.token(iss="accounts.google.com")).status_code == 200


def test_google_web_client_audience_is_accepted(api_client: APIClient, google: FakeGoogle) -> None:
    assert sign_in(api_client, google.token(aud="test-web-client")).status_code == 200


def test_google_expiry_within_leeway_is_accepted(
    api_client: APIClient, google: FakeGoogle, settings: Any
) -> None:
    settings.GOOGLE_TOKEN_LEEWAY_SECONDS = 60
    now = int(time.time())
    token = google.token(iat=now - 3630, exp=now - 30)
    assert sign_in(api_client, token).status_code == 200


def test_google_token_without_jti_is_refused_when_replayed(
    api_client: APIClient, google: FakeGoogle
) -> None:
    token = google.token(jti=None)
    assert sign_in(api_client, token).status_code == 200
    replay = sign_in(api_client, token)
    assert replay.status_code == 401
    assert "already used" in replay.json()["error"]["message"]


def test_google_email_is_case_normalised_and_links_verified_account(
    api_client: APIClient, google: FakeGoogle, user: User, password: str
) -> None:
    response = sign_in(api_client, google.token(email="Alice@Example.COM", sub="alice-sub"))
    assert response.status_code == 200
    assert response.json()["user"]["id"] == str(user.pk)
    user.refresh_from_db()
    assert user.has_usable_password(), "a verified account keeps its password"
    assert SocialAccount.objects.get(uid="alice-sub").user_id == user.pk
    login = api_client.post(
        "/api/v1/auth/login/", {"email": "alice@example.com", "password": password}, format="json"
    )
    assert login.status_code == 200


def test_google_takes_over_unverified_password_account(
    api_client: APIClient, google: FakeGoogle, password: str
) -> None:
    squatter = UserFactory(email="carol@example.com", password=password)
    old = issue_tokens(squatter)

    response = sign_in(api_client, google.token())

    assert response.status_code == 200
    assert response.json()["user"]["id"] == str(squatter.pk)
    squatter.refresh_from_db()
    assert squatter.email_verified
    assert not squatter.has_usable_password()
    # The password no longer works, nor do the sessions opened with it.
    login = api_client.post(
        "/api/v1/auth/login/", {"email": "carol@example.com", "password": password}, format="json"
    )
    assert login.status_code == 401
    refresh = api_client.post("/api/v1/auth/refresh/", {"refresh": old["refresh"]}, format="json")
    assert refresh.status_code == 401
    me = APIClient().get("/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Bearer {old['access']}")
    assert me.status_code == 401


def test_google_sign_in_of_inactive_user_is_refused(
    api_client: APIClient, google: FakeGoogle
) -> None:
    assert sign_in(api_client, google.token()).status_code == 200
    User.objects.filter(email="carol@example.com").update(is_active=False)
    response = sign_in(api_client, google.token())
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_invalid"


def test_google_sign_in_refuses_inactive_email_match(
    api_client: APIClient, google: FakeGoogle, user: User
) -> None:
    user.is_active = False
    user.save()
    response = sign_in(api_client, google.token(email=user.email))
    assert response.status_code == 401
    assert not SocialAccount.objects.exists()


# --------------------------------------------------------------------------- refused


def test_google_token_replayed_is_refused(api_client: APIClient, google: FakeGoogle) -> None:
    token = google.token()
    assert sign_in(api_client, token).status_code == 200
    RefreshToken.objects.all().delete()
    assert_refused(sign_in(api_client, token), "already used")


def test_google_wrong_audience_is_refused(api_client: APIClient, google: FakeGoogle) -> None:
    token = google.token(aud="someone-else.apps.googleusercontent.com")
    assert_refused(sign_in(api_client, token), "not meant for this application")


def test_google_wrong_issuer_is_refused(api_client: APIClient, google: FakeGoogle) -> None:
    assert_refused(sign_in(api_client, google.token(iss="https://evil.example")), "not issued")


def test_google_expired_token_is_refused(api_client: APIClient, google: FakeGoogle) -> None:
    now = int(time.time())
    token = google.token(iat=now - 7200, exp=now - 3600)
    assert_refused(sign_in(api_client, token), "expired")


def test_google_token_issued_in_future_is_refused(
    api_client: APIClient, google: FakeGoogle
) -> None:
    now = int(time.time())
    token = google.token(iat=now + 3600, exp=now + 7200)
    assert_refused(sign_in(api_client, token), "issued in the future")


def test_google_unverified_email_is_refused(api_client: APIClient, google: FakeGoogle) -> None:
    assert_refused(sign_in(api_client, google.token(email_verified=False)), "not verified")


def test_google_token_signed_with_other_key_is_refused(
    api_client: APIClient, google: FakeGoogle
) -> None:
    impostor = SigningKey.generate(kid=google.keys[0].kid)  # same kid, another private key
    assert_refused(sign_in(api_client, google.token(key=impostor)), "signature")


def test_google_tampered_payload_is_refused(api_client: APIClient, google: FakeGoogle) -> None:
    token = tamper(google.token(), email="victim@example.com", sub="victim")
    assert_refused(sign_in(api_client, token), "signature")
    assert not User.objects.filter(email="victim@example.com").exists()


def test_google_alg_none_is_refused(api_client: APIClient, google: FakeGoogle) -> None:
    token = unsigned_token(google.claims(), kid=google.keys[0].kid)
    assert_refused(sign_in(api_client, token), "algorithm")


def test_google_hs256_with_public_key_as_secret_is_refused(
    api_client: APIClient, google: FakeGoogle
) -> None:
    """The classic algorithm confusion: HMAC keyed with the (public) RSA key."""
    public_jwk = google.keys[0].jwk()
    secret = public_jwk["n"].encode()
    token = jwt.encode(
        google.claims(), secret, algorithm="HS256", headers={"kid": public_jwk["kid"]}
    )
    assert_refused(sign_in(api_client, token), "algorithm")


def test_google_missing_subject_is_refused(api_client: APIClient, google: FakeGoogle) -> None:
    assert_refused(sign_in(api_client, google.token(sub=None)), "'sub'")


def test_google_garbage_token_is_refused(api_client: APIClient, google: FakeGoogle) -> None:
    assert_refused(sign_in(api_client, "not-a-jwt"), "malformed")


def test_google_token_without_kid_is_refused(api_client: APIClient, google: FakeGoogle) -> None:
    token = jwt.encode(google.claims(), google.keys[0].private, algorithm="RS256")
    assert_refused(sign_in(api_client, token), "names no key")


@pytest.mark.parametrize("body", [{}, {"id_token": ""}, {"id_token": "x" * 5000}, ["x"]])
def test_google_malformed_body_is_400(api_client: APIClient, google: FakeGoogle, body: Any) -> None:
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_google_not_configured_is_503(
    api_client: APIClient, google: FakeGoogle, settings: Any
) -> None:
    settings.GOOGLE_CLIENT_IDS = []
    response = sign_in(api_client, google.token())
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"


# --------------------------------------------------------------------------- the key set


def test_google_keys_are_cached_between_sign_ins(api_client: APIClient, google: FakeGoogle) -> None:
    for _ in range(3):
        assert sign_in(api_client, google.token()).status_code == 200
    assert google.fetches == 1


def test_google_key_rotation_refetches_once(api_client: APIClient, google: FakeGoogle) -> None:
    assert sign_in(api_client, google.token()).status_code == 200
    new_key = SigningKey.generate()
    google.publish([google.keys[0], new_key])

    assert sign_in(api_client, google.token(key=new_key)).status_code == 200
    assert google.fetches == 2
    assert sign_in(api_client, google.token(key=new_key)).status_code == 200
    assert google.fetches == 2, "the rotated set is cached"


def test_google_unknown_kid_flood_refetches_at_most_once(
    api_client: APIClient, google: FakeGoogle
) -> None:
    assert sign_in(api_client, google.token()).status_code == 200
    for index in range(5):
        response = sign_in(api_client, google.token(kid=f"made-up-{index}"))
        assert response.status_code == 401
        assert "unknown key" in response.json()["error"]["message"]
    assert google.fetches == 2


def test_google_keys_unreachable_is_503(api_client: APIClient, google: FakeGoogle) -> None:
    google.status = 500
    response = sign_in(api_client, google.token())
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert not User.objects.exists()
