"""The one-click unsubscribe link: tokens and the public page (RFC 8058)."""

from __future__ import annotations

import pytest
from django.test import Client

from buyhive.mail.models import Suppression
from buyhive.mail.unsubscribe import (
    read_unsubscribe_token,
    unsubscribe_headers,
    unsubscribe_token,
    unsubscribe_url,
)

ADDRESS = "Friend@Example.com"


def _path(kind: str = "cart_share") -> str:
    return unsubscribe_url(address=ADDRESS, kind=kind).replace("http://testserver", "")


def test_a_token_round_trips_and_hides_the_address() -> None:
    token = unsubscribe_token(address=ADDRESS, kind="cart_share")
    assert read_unsubscribe_token(token) == ("friend@example.com", "cart_share")
    assert "friend" not in token.lower()
    damaged = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert read_unsubscribe_token(damaged) is None
    assert read_unsubscribe_token("garbage") is None
    assert read_unsubscribe_token("") is None


def test_the_headers_are_rfc_8058_one_click() -> None:
    url = unsubscribe_url(address=ADDRESS, kind="cart_share")
    assert unsubscribe_headers(url) == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


@pytest.mark.django_db
def test_opening_the_link_only_asks(client: Client) -> None:
    response = client.get(_path())
    assert response.status_code == 200
    assert b"Unsubscribe?" in response.content
    assert b'method="post"' in response.content
    assert b"friend" not in response.content.lower()
    assert not Suppression.objects.exists()


@pytest.mark.django_db
def test_one_click_post_unsubscribes_once_for_that_kind() -> None:
    browserless = Client(enforce_csrf_checks=True)  # a mail provider: no cookie, no CSRF token
    for _ in range(2):
        response = browserless.post(
            _path(),
            "List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200
        assert b"You are unsubscribed" in response.content
    assert list(Suppression.objects.values_list("address", "kind")) == [
        ("friend@example.com", "cart_share")
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_forged_or_damaged_token_is_a_400_page_that_changes_nothing(
    client: Client, method: str
) -> None:
    good = _path()
    forged = good[:-8] + "AAAAAAA/"
    response = getattr(client, method)(forged)
    assert response.status_code == 400
    assert b"not valid" in response.content
    assert not Suppression.objects.exists()
