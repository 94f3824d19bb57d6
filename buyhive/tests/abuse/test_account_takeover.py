"""Finding 1 (account pre-hijack) and finding 12's Google checks (``azp``, a second ``sub``).

The attack: register the victim's address with a password, fill a cart, share it by link;
when the real owner later signs in with Google, the account is taken over. Nothing made
before the takeover may stay reachable by anyone but the owner.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.google_fake import FakeGoogle, start_fake_google
from carts import services
from conftest import bearer_client_for

pytestmark = pytest.mark.django_db

GOOGLE = "/api/v1/auth/google/"


@pytest.fixture
def google(settings: Any) -> Iterator[FakeGoogle]:
    fake = start_fake_google()
    settings.GOOGLE_JWKS_URL = fake.jwks_url
    try:
        yield fake
    finally:
        fake.server.__exit__(None, None, None)


def _sign_in(token: str) -> Any:
    return APIClient().post(GOOGLE, {"id_token": token}, format="json")


def test_a_takeover_revokes_every_share_link_and_session_and_tells_the_owner(
    google: FakeGoogle, password: str
) -> None:
    squatter = User.objects.create_user(email="carol@example.com", password=password)
    attacker = bearer_client_for(squatter)
    cart = services.cart_create(owner=squatter, name="Wishlist")
    second = services.cart_create(owner=squatter, name="Other")
    services.item_upsert(
        owner=squatter, data={"url": "https://shop.example.com/a"}, cart_ids=[cart.pk]
    )
    token, _ = services.cart_share_link_create(cart=cart)
    token2, _ = services.cart_share_link_create(cart=second)
    assert APIClient().get(f"/api/v1/shared/{token}/").status_code == 200

    response = _sign_in(google.token())

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["takeover"] == {
        "carts": 2,
        "items": 1,
        "share_links_revoked": 2,
        "sessions_revoked": 1,
    }
    # The links the attacker kept no longer show anything, whatever the owner adds later.
    owner = bearer_client_for(User.objects.get(pk=squatter.pk))
    owner.post(
        f"/api/v1/carts/{cart.pk}/items/", {"url": "https://shop.example.com/b"}, format="json"
    )
    for old in (token, token2):
        assert APIClient().get(f"/api/v1/shared/{old}/").status_code == 404
    # The attacker's session is gone too.
    assert attacker.get("/api/v1/auth/me/").status_code == 401
    # The carts themselves stay, the owner's now.
    assert owner.get("/api/v1/carts/").json()["count"] == 2


def test_an_ordinary_google_sign_in_says_nothing_about_a_takeover(google: FakeGoogle) -> None:
    first = _sign_in(google.token())
    assert first.status_code == 200
    assert "takeover" not in first.json()
    assert "takeover" not in _sign_in(google.token()).json()


def test_a_token_issued_to_another_client_is_refused(google: FakeGoogle) -> None:
    response = _sign_in(google.token(azp="attacker-app.apps.googleusercontent.com"))
    assert response.status_code == 401
    assert "another application" in response.json()["error"]["message"]
    assert not User.objects.filter(email="carol@example.com").exists()


def test_a_second_google_account_for_a_linked_address_does_not_silently_link(
    google: FakeGoogle,
) -> None:
    assert _sign_in(google.token(sub="first-google-sub")).status_code == 200
    response = _sign_in(google.token(sub="second-google-sub"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert list(SocialAccount.objects.values_list("uid", flat=True)) == ["first-google-sub"]
    # The first identity still signs in.
    assert _sign_in(google.token(sub="first-google-sub")).status_code == 200
