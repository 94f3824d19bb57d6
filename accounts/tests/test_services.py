"""Services and the Google key-set client, below the HTTP layer."""

from __future__ import annotations

import time
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount

from accounts import services
from accounts.clients import (
    GoogleIdTokenVerifier,
    GoogleKeySet,
    GoogleKeySetConfig,
    GoogleKeysUnavailable,
    GoogleTokenRefused,
    max_age_of,
)
from accounts.models import User
from accounts.tests.google_fake import EXTENSION_CLIENT_ID, FakeGoogle, SigningKey
from buyhive.exceptions import ValidationFailed
from buyhive.tests.http_servers import LoopbackServer, respond

CONFIG = GoogleKeySetConfig(url="http://unused.invalid/")


# --------------------------------------------------------------------------- key set client


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("public, max-age=21600, must-revalidate", 21600),
        ("max-age=5", 60),  # clamped up: never refetch more than once a minute
        ("max-age=9999999", 24 * 3600),  # clamped down
        (None, 3600),
        ("public", 3600),
        ("no-store", 60),
    ],
)
def test_max_age_of_cache_control(header: str | None, seconds: int) -> None:
    assert max_age_of(header, CONFIG) == seconds


def _key_set(google: FakeGoogle, **config: Any) -> GoogleKeySet:
    return GoogleKeySet(GoogleKeySetConfig(url=google.jwks_url, **config))


def test_key_set_refetches_after_max_age(google: FakeGoogle) -> None:
    google.max_age = 1
    key_set = _key_set(google, min_max_age=1)
    kid = google.keys[0].kid
    key_set.get_signing_key(kid)
    key_set.get_signing_key(kid)
    assert google.fetches == 1
    time.sleep(1.1)
    key_set.get_signing_key(kid)
    assert google.fetches == 2


def test_key_set_keeps_stale_keys_when_google_is_down(google: FakeGoogle) -> None:
    google.max_age = 1
    key_set = _key_set(google, min_max_age=1)
    kid = google.keys[0].kid
    key_set.get_signing_key(kid)
    google.status = 503
    time.sleep(1.1)
    assert key_set.get_signing_key(kid).key_id == kid
    assert google.fetches == 2


def test_key_set_without_stale_keys_is_unavailable(google: FakeGoogle) -> None:
    google.status = 503
    with pytest.raises(GoogleKeysUnavailable):
        _key_set(google).get_signing_key("any")


def test_key_set_unknown_kid_refetch_is_limited_per_interval(google: FakeGoogle) -> None:
    key_set = _key_set(google, refetch_interval=1)
    key_set.get_signing_key(google.keys[0].kid)
    for _ in range(3):
        with pytest.raises(GoogleTokenRefused):
            key_set.get_signing_key("nope")
    assert google.fetches == 2
    time.sleep(1.1)
    with pytest.raises(GoogleTokenRefused):
        key_set.get_signing_key("nope")
    assert google.fetches == 3


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"keys": []}',
        b'{"keys": [{"kty": "EC", "kid": "x"}]}',
        b'{"keys": [{"kty": "RSA", "kid": "x", "n": "AQAB", "e": "AQAB", "alg": "RS512"}]}',
        b"[1, 2]",
    ],
)
def test_key_set_refuses_unusable_documents(body: bytes) -> None:
    with LoopbackServer() as server:
        server.route("/certs", respond(body, content_type="application/json"))
        key_set = GoogleKeySet(GoogleKeySetConfig(url=server.url("/certs")))
        with pytest.raises(GoogleKeysUnavailable):
            key_set.get_signing_key("x")


def test_key_set_ignores_broken_key_entries() -> None:
    good = SigningKey.generate()
    body = (
        '{"keys": [{"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"}, '
        + __import__("json").dumps(good.jwk())
        + "]}"
    ).encode()
    with LoopbackServer() as server:
        server.route("/certs", respond(body, content_type="application/json"))
        key_set = GoogleKeySet(GoogleKeySetConfig(url=server.url("/certs")))
        assert key_set.get_signing_key(good.kid).key_id == good.kid


def test_key_set_refuses_oversized_answer() -> None:
    with LoopbackServer() as server:
        server.route(
            "/certs", respond(b"{" + b" " * 70_000 + b"}", content_type="application/json")
        )
        key_set = GoogleKeySet(GoogleKeySetConfig(url=server.url("/certs")))
        with pytest.raises(GoogleKeysUnavailable):
            key_set.get_signing_key("x")


def test_key_set_unreachable_is_unavailable() -> None:
    with LoopbackServer() as server:
        url = server.url("/certs")
    key_set = GoogleKeySet(GoogleKeySetConfig(url=url, connect_timeout=0.5))
    with pytest.raises(GoogleKeysUnavailable):
        key_set.get_signing_key("x")


def test_key_set_works_without_cache(google: FakeGoogle, settings: Any) -> None:
    """A cache outage costs a fetch per sign-in, never a refusal of a good token."""
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {**settings.CACHES["default"]["OPTIONS"], "SOCKET_CONNECT_TIMEOUT": 0.2},
        }
    }
    key_set = _key_set(google)
    kid = google.keys[0].kid
    assert key_set.get_signing_key(kid).key_id == kid
    with pytest.raises(GoogleTokenRefused):
        key_set.get_signing_key("unknown")  # no refetch allowed without the shared limiter


def test_verifier_returns_identity(google: FakeGoogle) -> None:
    verifier = GoogleIdTokenVerifier(key_set=_key_set(google), client_ids=[EXTENSION_CLIENT_ID])
    identity = verifier.verify(google.token(email_verified="true", name=None, picture=None))
    assert identity.email == "carol@example.com"
    assert identity.sub == "110169484474386276334"
    assert (identity.name, identity.picture) == ("", "")


def test_verifier_refuses_token_without_email(google: FakeGoogle) -> None:
    verifier = GoogleIdTokenVerifier(key_set=_key_set(google), client_ids=[EXTENSION_CLIENT_ID])
    with pytest.raises(GoogleTokenRefused) as refused:
        verifier.verify(google.token(email=None))
    assert refused.value.reason == "missing_claim"


# --------------------------------------------------------------------------- services


@pytest.mark.django_db
def test_google_sign_in_records_verified_address_and_keeps_primary(
    google: FakeGoogle, user: User
) -> None:
    EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)
    services.google_sign_in(id_token=google.token(email=user.email, sub="s-1"))
    address = EmailAddress.objects.get(user=user)
    assert address.verified
    assert address.primary


@pytest.mark.django_db
def test_google_sign_in_ignores_a_non_http_picture(google: FakeGoogle) -> None:
    user = services.google_sign_in(id_token=google.token(picture="javascript:alert(1)"))
    assert user.avatar_url == ""
    assert SocialAccount.objects.get(user=user).extra_data["email"] == "carol@example.com"


@pytest.mark.django_db
def test_google_sign_in_keeps_account_email_when_google_reports_a_new_one(
    google: FakeGoogle,
) -> None:
    first = services.google_sign_in(id_token=google.token())
    again = services.google_sign_in(id_token=google.token(email="carol.new@example.com"))
    assert again.pk == first.pk
    again.refresh_from_db()
    assert again.email == "carol@example.com"
    assert not EmailAddress.objects.filter(email="carol.new@example.com").exists()


@pytest.mark.django_db
def test_user_register_and_login_normalise_email(password: str) -> None:
    user = services.user_register(email=" Zed@Example.com", password=password, name="  Zed  ")
    assert (user.email, user.name) == ("zed@example.com", "Zed")
    assert services.user_login(email="ZED@example.com", password=password).pk == user.pk


@pytest.mark.django_db
def test_user_update_profile_refuses_other_fields(user: User) -> None:
    with pytest.raises(ValidationFailed) as refused:
        services.user_update_profile(user=user, data={"is_staff": True, "name": "X"})
    assert refused.value.fields == {"is_staff": ["This field cannot be changed."]}
    user.refresh_from_db()
    assert not user.is_staff
    assert user.name == "Alice"


@pytest.mark.django_db
def test_password_reset_uid_round_trips(user: User) -> None:
    from django.contrib.auth.tokens import default_token_generator

    token = default_token_generator.make_token(user)
    uid = services.password_reset_uid(user)
    assert services.password_reset_check(uid=uid, token=token).pk == user.pk
    User.objects.filter(pk=user.pk).update(is_active=False)
    with pytest.raises(ValidationFailed):
        services.password_reset_check(uid=uid, token=token)
