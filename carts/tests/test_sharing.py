"""Sharing a cart: by email (locmem, and django-ses against a moto SES server) and by link."""

from __future__ import annotations

import email
import time
from collections.abc import Iterator
from email import policy
from typing import Any

import boto3
import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from buyhive.mail.models import OutboundMail
from buyhive.mail.services import deliver, flush_outbox
from buyhive.tests.task_worker import broker_unreachable
from carts import services
from carts.models import Cart, Item

pytestmark = pytest.mark.django_db

API = "/api/v1"
EVIL = '<script>alert("x")</script> & <b>bold</b>'
NBSP = "\u00a0"  # between digit groups and before the code, in amounts for people


@pytest.fixture
def full_cart(user: Any, cart: Cart) -> Cart:
    services.item_upsert(
        owner=user,
        data={
            "url": "https://shop.example.com/kettle",
            "title": "Kettle <deluxe>",
            "brand": "Boil Co",
            "price": "19.99",
            "currency": "EUR",
            "image_url": "https://cdn.example.com/kettle.jpg",
        },
        cart_ids=[cart.pk],
    )
    mug, _ = services.item_upsert(
        owner=user, data={"url": "https://shop.example.com/mug", "title": "Mug"}
    )
    services.item_add_to_cart(cart=cart, item=mug, quantity=2, note="the blue one, private")
    return cart


def _share(client: APIClient, cart: Cart, **payload: Any) -> Any:
    body = {"emails": ["friend@example.com"], "message": "Look!", **payload}
    return client.post(f"{API}/carts/{cart.pk}/share/", body, format="json")


# ----------------------------------------------------------------------------------- email


def _text_and_html(message: Any) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def test_share_mails_each_recipient_text_and_html(
    auth_client: APIClient, full_cart: Cart, worker: Any
) -> None:
    response = _share(
        auth_client,
        full_cart,
        emails=["friend@example.com", "Mum@Example.com", "mum@example.com"],
        message=EVIL,
    )
    assert response.status_code == 202, response.content
    full_cart.refresh_from_db()
    link = f"http://testserver/api/v1/shared/{full_cart.share_token}/"
    assert response.json() == {"recipients": 2, "share_url": link}

    [message] = worker.wait_for_messages(to="friend@example.com")
    [to_mum] = worker.wait_for_messages(to="mum@example.com")
    assert str(to_mum["To"]) == "mum@example.com"  # one recipient per message
    assert str(message["To"]) == "friend@example.com"
    assert message["Subject"] == "Alice shared the cart “Gifts” with you"
    assert str(message["Reply-To"]) == "alice@example.com"
    text, html = _text_and_html(message)
    assert f"Kettle <deluxe> (Boil Co): 19.99{NBSP}EUR" in text
    assert "https://shop.example.com/kettle" in text
    assert "Mug x2" in text
    assert f"Total: 19.99{NBSP}EUR" in text
    assert link in text
    assert EVIL in text  # plain text: shown as typed
    assert "the blue one" not in text  # notes stay private

    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "Kettle &lt;deluxe&gt;" in html
    assert 'src="https://cdn.example.com/kettle.jpg"' in html
    assert 'href="https://shop.example.com/kettle"' in html
    assert f'href="{link}"' in html
    assert f"19.99{NBSP}EUR" in html


def test_share_mail_carries_a_one_click_unsubscribe_that_works_without_an_account(
    auth_client: APIClient, api_client: APIClient, full_cart: Cart, worker: Any
) -> None:
    assert _share(auth_client, full_cart).status_code == 202
    [message] = worker.wait_for_messages(to="friend@example.com")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header_url = str(message["List-Unsubscribe"]).strip().strip("<>")
    text, html = _text_and_html(message)
    assert header_url in text
    assert f'href="{header_url}"' in html
    path = header_url.replace("http://testserver", "")

    # What a mail provider does on one click (RFC 8058): a POST with no cookie, no CSRF.
    response = api_client.post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert b"You are unsubscribed" in response.content
    assert b"friend@example.com" not in response.content

    # The next share to that address queues nothing for it; the sender is not told.
    worker.clear_outbox()
    response = _share(auth_client, full_cart, emails=["friend@example.com", "aunt@example.org"])
    assert response.json()["recipients"] == 2
    worker.wait_for_messages(to="aunt@example.org")
    assert worker.messages_to("friend@example.com") == []
    assert not OutboundMail.objects.filter(to="friend@example.com", status="pending").exists()


def test_share_answers_at_once_and_queues_the_mail_for_the_worker(
    auth_client: APIClient, full_cart: Cart
) -> None:
    """The request writes one outbox row per recipient; the sending is the worker's."""
    response = _share(auth_client, full_cart, emails=["friend@example.com", "aunt@example.org"])
    assert response.status_code == 202
    rows = OutboundMail.objects.order_by("to")
    assert [(row.to, row.kind, row.unsubscribe) for row in rows] == [
        ("aunt@example.org", "cart_share", True),
        ("friend@example.com", "cart_share", True),
    ]
    assert mail.outbox == []  # nothing was sent by the request's own process


def test_the_emailed_link_opens_the_cart(
    auth_client: APIClient, api_client: APIClient, full_cart: Cart
) -> None:
    link = _share(auth_client, full_cart).json()["share_url"]
    response = api_client.get(link.replace("http://testserver", ""))
    assert response.status_code == 200
    assert response.json()["name"] == "Gifts"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"emails": []}, "emails"),
        ({"emails": "friend@example.com"}, "emails"),
        ({"emails": ["not-an-address"]}, "emails"),
        ({"emails": [f"f{n}@example.com" for n in range(11)]}, "emails"),
        ({"message": "m" * 1001}, "message"),
    ],
)
def test_share_bad_input_is_400_and_sends_nothing(
    auth_client: APIClient, full_cart: Cart, payload: dict[str, Any], field: str
) -> None:
    response = _share(auth_client, full_cart, **payload)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not OutboundMail.objects.exists()


def test_share_is_rate_limited_per_user(auth_client: APIClient, full_cart: Cart) -> None:
    with override_settings(RATE_SHARE_USER="2/h"):
        assert _share(auth_client, full_cart).status_code == 202
        assert _share(auth_client, full_cart).status_code == 202
        response = _share(auth_client, full_cart)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert response["Retry-After"]
    assert OutboundMail.objects.count() == 2


def test_share_fails_closed_when_the_rate_limit_store_is_down(
    auth_client: APIClient, full_cart: Cart
) -> None:
    dead_redis = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    with override_settings(CACHES=dead_redis):
        response = _share(auth_client, full_cart)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert not OutboundMail.objects.exists()


@pytest.fixture
def moto_ses() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_share_with_the_broker_down_answers_at_once_and_the_scheduler_sends_it_later(
    auth_client: APIClient, full_cart: Cart, worker: Any
) -> None:
    auth_client.get(f"{API}/carts/")  # the first request of a process imports the URLconf
    started = time.perf_counter()
    with broker_unreachable():
        response = _share(auth_client, full_cart)
    assert response.status_code == 202
    assert time.perf_counter() - started < 3
    [row] = OutboundMail.objects.all()
    assert row.status == "pending"
    assert row.reenqueue_at <= timezone.now()  # due for the next flush

    assert flush_outbox() == 1  # the scheduler's job, once the broker is back
    [message] = worker.wait_for_messages(to="friend@example.com")
    assert message["Subject"] == "Alice shared the cart “Gifts” with you"


def test_share_goes_through_django_ses_to_an_ses_server(
    auth_client: APIClient, full_cart: Cart, moto_ses: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The production email path (django-ses, boto3, SendRawEmail) against moto on loopback."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    ses = boto3.client(
        "ses",
        region_name="us-east-1",
        endpoint_url=moto_ses,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    ses.verify_domain_identity(Domain="buyhive.app")
    backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    before = len(backend.sent_messages)

    # Published to no worker (the broker is down), so this process delivers the rows itself.
    with broker_unreachable():
        response = _share(
            auth_client, full_cart, emails=["friend@example.com", "aunt@example.org"], message=EVIL
        )
    rows = list(OutboundMail.objects.order_by("-to"))
    with override_settings(
        EMAIL_BACKEND="django_ses.SESBackend",
        AWS_SES_REGION_NAME="us-east-1",
        AWS_SES_REGION_ENDPOINT_URL=moto_ses,
        AWS_SES_ACCESS_KEY_ID="testing",
        AWS_SES_SECRET_ACCESS_KEY="testing",
    ):
        assert [deliver(mail_id=str(row.pk)) for row in rows] == ["sent", "sent"]

    assert response.status_code == 202, response.content
    assert response.json()["recipients"] == 2
    sent = backend.sent_messages[before:]
    # (moto lists an address once per place it appears: the API call and the To header)
    assert [set(message.destinations) for message in sent] == [
        {"friend@example.com"},
        {"aunt@example.org"},
    ]
    parsed = email.message_from_string(sent[0].raw_data, policy=policy.default)
    assert parsed["Subject"] == "Alice shared the cart “Gifts” with you"
    assert "no-reply@buyhive.app" in parsed["From"]
    html = parsed.get_body(preferencelist=("html",)).get_content()
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    assert "Kettle &lt;deluxe&gt;" in html
    assert "&lt;script&gt;" in html
    assert "<script>" not in html
    assert full_cart.name in text
    assert "/api/v1/shared/" in text
    assert mail.outbox == []  # nothing went to locmem


# -------------------------------------------------------------------------------- the link


def test_share_link_lifecycle_and_public_view(
    auth_client: APIClient, api_client: APIClient, full_cart: Cart
) -> None:
    url = f"{API}/carts/{full_cart.pk}/share-link/"
    created = auth_client.post(url)
    assert created.status_code == 201
    token = created.json()["token"]
    assert created.json()["url"] == f"http://testserver/api/v1/shared/{token}/"
    again = auth_client.post(url)
    assert (again.status_code, again.json()["token"]) == (200, token)
    cart_body = auth_client.get(f"{API}/carts/{full_cart.pk}/").json()
    assert cart_body["share_url"] == created.json()["url"]

    public = api_client.get(f"{API}/shared/{token}/")
    assert public.status_code == 200
    assert public["Cache-Control"] == "private, no-store"
    body = public.json()
    assert set(body) == {"name", "description", "item_count", "totals", "items"}
    assert (body["name"], body["item_count"]) == ("Gifts", 2)
    assert body["totals"] == [{"currency": "EUR", "amount": "19.99"}]
    assert [row["title"] for row in body["items"]] == ["Kettle <deluxe>", "Mug"]
    assert set(body["items"][0]) == {
        "title",
        "brand",
        "price",
        "currency",
        "image_url",
        "url",
        "availability",
        "variant",
        "store_domain",
        "quantity",
        "added_at",
    }
    raw = public.content.decode()
    for private in ("alice", "Alice", "the blue one", str(full_cart.pk), "owner"):
        assert private not in raw
    for item in Item.objects.all():
        assert str(item.pk) not in raw

    assert auth_client.delete(url).status_code == 204
    gone = api_client.get(f"{API}/shared/{token}/")
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "not_found"
    assert auth_client.delete(url).status_code == 204  # idempotent


def test_public_view_renders_html_for_a_browser(
    api_client: APIClient, user: Any, full_cart: Cart
) -> None:
    token, _ = services.cart_share_link_create(cart=full_cart)
    response = api_client.get(f"{API}/shared/{token}/", HTTP_ACCEPT="text/html,*/*;q=0.8")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "<h1>Gifts</h1>" in page
    assert "Kettle &lt;deluxe&gt;" in page
    assert 'href="https://shop.example.com/kettle"' in page
    assert "noindex" in page


def test_public_view_of_unknown_tokens_is_404(api_client: APIClient) -> None:
    for token in ("x" * 43, "short", "../../etc"):
        response = api_client.get(f"{API}/shared/{token}/")
        assert response.status_code == 404


def test_public_view_is_rate_limited_per_ip(api_client: APIClient, full_cart: Cart) -> None:
    token, _ = services.cart_share_link_create(cart=full_cart)
    with override_settings(RATE_SHARED_VIEW_IP="2/h"):
        codes = [api_client.get(f"{API}/shared/{token}/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_a_bearer_token_is_not_needed_nor_checked_on_the_public_view(
    api_client: APIClient, full_cart: Cart
) -> None:
    token, _ = services.cart_share_link_create(cart=full_cart)
    api_client.credentials(HTTP_AUTHORIZATION="Bearer broken")
    assert api_client.get(f"{API}/shared/{token}/").status_code == 200
