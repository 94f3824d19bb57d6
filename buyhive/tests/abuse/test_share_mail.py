"""Finding 2: share mail used for phishing and spam.

The attack: a fresh, unconfirmed account sends 100 mails an hour from the service's own
address, with attacker-chosen text in the subject and an unconfirmed Reply-To. Now: only a
confirmed address shares by mail; the subject holds only the (capped) cart name; Reply-To
is only ever a confirmed address; three daily caps answer 429; a recipient stops it all with
one click.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from buyhive.exceptions import RateLimited
from buyhive.mail.models import OutboundMail
from carts import services
from carts.emails import SUBJECT_CART_NAME_MAX, queue_share_mails
from carts.models import Cart
from carts.share_caps import share_mail_caps_take
from conftest import bearer_client_for

pytestmark = pytest.mark.django_db

VERIFY = "/api/v1/auth/email/verify/"
PHISH = "Your BuyHive account is locked: sign in at evil.example to keep it"


def _share(client: APIClient, cart: Cart, emails: list[str], message: str = "") -> Any:
    return client.post(
        f"/api/v1/carts/{cart.pk}/share/", {"emails": emails, "message": message}, format="json"
    )


def _sender(email: str, password: str, *, verified: bool = True, name: str = "") -> User:
    return User.objects.create_user(
        email=email, password=password, name=name, email_verified=verified
    )


def _share_rows() -> list[OutboundMail]:
    return list(OutboundMail.objects.filter(kind="cart_share").order_by("to"))


# ------------------------------------------------------------------ confirmed senders only


def test_an_existing_unconfirmed_account_is_refused_and_mailed_a_confirmation_once(
    password: str,
) -> None:
    """An account from before confirmation existed: its first share says why, and mails a link."""
    squatter = _sender("fresh@example.com", password, verified=False, name=PHISH)
    cart = services.cart_create(owner=squatter, name="Deals")
    client = bearer_client_for(squatter)

    first = _share(client, cart, ["victim@example.org"], message=PHISH)
    second = _share(client, cart, ["victim@example.org"], message=PHISH)

    for response in (first, second):
        assert response.status_code == 403
        body = response.json()
        assert body["error"]["code"] == "email_unverified"
        assert body["request_id"]
    assert _share_rows() == []  # nothing to the victim
    confirmations = list(OutboundMail.objects.filter(kind="email_confirmation"))
    assert [row.to for row in confirmations] == ["fresh@example.com"]  # once, to the owner


def test_confirming_the_address_opens_sharing(password: str, worker: Any) -> None:
    owner = _sender("owner@example.com", password, verified=False)
    cart = services.cart_create(owner=owner, name="Gifts")
    client = bearer_client_for(owner)
    assert _share(client, cart, ["friend@example.org"]).status_code == 403

    [confirmation] = worker.wait_for_messages(to="owner@example.com")
    text = confirmation.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"/auth/email/confirm/([^/\s]+)/", text)
    assert match, text
    assert APIClient().post(VERIFY, {"key": match.group(1)}, format="json").status_code == 204

    assert _share(client, cart, ["friend@example.org"]).status_code == 202
    assert [row.to for row in _share_rows()] == ["friend@example.org"]


# ------------------------------------------------------------------ what the mail carries


def test_the_subject_carries_only_the_cart_name_capped_on_one_line(
    password: str, worker: Any
) -> None:
    sender = _sender("mallory@example.com", password, name=PHISH)
    long_name = "Prizes for everyone@example.org, claim at evil.example " + "x" * 150
    cart = services.cart_create(owner=sender, name=long_name[:100])  # names refuse line breaks

    assert _share(bearer_client_for(sender), cart, ["victim@example.org"], PHISH).status_code == 202

    [row] = _share_rows()
    assert PHISH not in row.subject  # neither the sender's chosen name nor the message
    assert "locked" not in row.subject
    assert row.subject.startswith("A cart was shared with you: “Prizes for everyone@")
    name_part = row.subject.split("“", 1)[1].rstrip("”")
    assert len(name_part) == SUBJECT_CART_NAME_MAX
    assert name_part.endswith("…")
    # The body names the sender by the checked address, beside whatever name they chose.
    [message] = worker.wait_for_messages(to="victim@example.org")
    assert " ".join(str(message["Subject"]).split()) == row.subject  # unfolded
    assert message["Reply-To"] == "mallory@example.com"  # confirmed: replies may reach them
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "(mallory@example.com) shared the cart" in text


def test_reply_to_is_never_an_unconfirmed_address(password: str) -> None:
    sender = _sender("carol@example.com", password, verified=False)
    cart = services.cart_create(owner=sender, name="Wishlist")
    common = {
        "cart": cart,
        "rows": [],
        "totals": [],
        "sender_name": "Carol",
        "sender_email": sender.email,
        "message": "",
        "link": "http://testserver/api/v1/shared/t/",
    }

    queue_share_mails(**common, recipients=["a@example.org"], share_key="u", sender_verified=False)
    queue_share_mails(**common, recipients=["b@example.org"], share_key="v", sender_verified=True)

    replies = {row.to: row.reply_to for row in _share_rows()}
    assert replies == {"a@example.org": "", "b@example.org": "carol@example.com"}


# ------------------------------------------------------------------ daily caps


def _assert_capped(response: Any) -> None:
    assert response.status_code == 429, response.content
    assert response.json()["error"]["code"] == "rate_limited"
    assert 0 < int(response["Retry-After"]) <= 86400


def test_one_recipient_is_capped_per_day_across_all_senders(password: str, settings: Any) -> None:
    settings.SHARE_MAILS_PER_RECIPIENT_DAY = 2
    senders = [_sender(f"s{n}@example.com", password) for n in range(3)]
    carts = [services.cart_create(owner=s, name="Spam") for s in senders]

    clients = [bearer_client_for(s) for s in senders]
    assert _share(clients[0], carts[0], ["victim@example.org"]).status_code == 202
    assert _share(clients[1], carts[1], ["victim@example.org"]).status_code == 202
    third = _share(clients[2], carts[2], ["ok@example.org", "victim@example.org"])

    _assert_capped(third)
    assert [row.to for row in _share_rows()] == ["victim@example.org", "victim@example.org"]
    # All or nothing: the refused share counted nobody, so another address is still open.
    assert _share(clients[2], carts[2], ["ok@example.org"]).status_code == 202


def test_one_account_is_capped_per_day(password: str, settings: Any) -> None:
    settings.SHARE_MAILS_PER_ACCOUNT_DAY = 3
    sender = _sender("bulk@example.com", password)
    cart = services.cart_create(owner=sender, name="Bulk")
    client = bearer_client_for(sender)

    assert _share(client, cart, ["a@example.org", "b@example.org"]).status_code == 202
    _assert_capped(_share(client, cart, ["c@example.org", "d@example.org"]))  # 4 > 3
    assert _share(client, cart, ["c@example.org"]).status_code == 202  # exactly 3
    _assert_capped(_share(client, cart, ["e@example.org"]))
    assert len(_share_rows()) == 3


def test_the_whole_service_is_capped_per_day(password: str, settings: Any) -> None:
    settings.SHARE_MAILS_GLOBAL_DAY = 2
    swarm = [_sender(f"bot{n}@example.com", password) for n in range(3)]
    for n, bot in enumerate(swarm):
        cart = services.cart_create(owner=bot, name="Bot")
        response = _share(bearer_client_for(bot), cart, [f"target{n}@example.org"])
        if n < 2:
            assert response.status_code == 202
        else:
            _assert_capped(response)
    assert len(_share_rows()) == 2


def test_the_caps_hold_under_concurrency(settings: Any) -> None:
    """Twenty workers racing for a cap of five: exactly five get through (atomic INCRBY)."""
    settings.SHARE_MAILS_PER_RECIPIENT_DAY = 5
    settings.SHARE_MAILS_PER_ACCOUNT_DAY = 1000
    settings.SHARE_MAILS_GLOBAL_DAY = 1000
    outcomes: list[str] = []
    start = threading.Barrier(20)

    def attempt(n: int) -> None:
        start.wait()
        try:
            share_mail_caps_take(sender_id=f"user{n}", recipients=["victim@example.org"])
        except RateLimited:
            outcomes.append("429")
        else:
            outcomes.append("sent")

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes).count("sent") == 5
    assert outcomes.count("429") == 15


def test_retry_after_is_the_time_to_the_next_utc_day(settings: Any) -> None:
    settings.SHARE_MAILS_PER_ACCOUNT_DAY = 1
    late = datetime(2026, 12, 3, 23, 59, 0, tzinfo=UTC)
    share_mail_caps_take(sender_id="u", recipients=["a@example.org"], now=late)
    with pytest.raises(RateLimited) as refused:
        share_mail_caps_take(sender_id="u", recipients=["b@example.org"], now=late)
    assert refused.value.retry_after == 60
    # The next day starts afresh.
    share_mail_caps_take(
        sender_id="u", recipients=["b@example.org"], now=datetime(2026, 12, 4, 0, 0, 1, tzinfo=UTC)
    )


def test_share_fails_closed_when_the_cap_store_is_down(password: str, settings: Any) -> None:
    sender = _sender("dana@example.com", password)
    cart = services.cart_create(owner=sender, name="Gifts")
    client = bearer_client_for(sender)
    settings.RATE_SHARE_USER = "100/h"
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    settings.RATELIMIT_ENABLE = False  # past the hourly limit: the caps alone must refuse
    response = _share(client, cart, ["friend@example.org"])
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert _share_rows() == []


# ------------------------------------------------------------------ one-click stop


def test_a_recipient_stops_all_share_mail_with_one_click(password: str) -> None:
    first, second = _sender("one@example.com", password), _sender("two@example.com", password)
    cart1 = services.cart_create(owner=first, name="A")
    cart2 = services.cart_create(owner=second, name="B")
    assert _share(bearer_client_for(first), cart1, ["victim@example.org"]).status_code == 202
    [row] = _share_rows()
    link = row.headers["List-Unsubscribe"].strip("<>")
    assert row.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    clicked = APIClient().post(
        link.replace("http://testserver", ""),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert clicked.status_code == 200

    # Another sender, another cart: nothing more reaches that address; the sender is not told.
    response = _share(bearer_client_for(second), cart2, ["victim@example.org"])
    assert response.status_code == 202
    assert len(_share_rows()) == 1
