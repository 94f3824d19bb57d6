"""Cart totals converted with the ECB's reference rates, fetched from a local fake feed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from buyhive.tests.http_servers import LoopbackServer, respond
from carts.watch import rates
from carts.watch.models import ExchangeRates

pytestmark = pytest.mark.django_db

ECB_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
    xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <gesmes:Sender><gesmes:name>European Central Bank</gesmes:name></gesmes:Sender>
  <Cube>
    <Cube time="2026-12-02">
      <Cube currency="USD" rate="1.0500"/>
      <Cube currency="JPY" rate="160.00"/>
      <Cube currency="GBP" rate="0.8400"/>
    </Cube>
  </Cube>
</gesmes:Envelope>
"""


@pytest.fixture(autouse=True)
def _loopback_feeds(settings: Any) -> None:
    """The fake feeds listen on 127.0.0.1: let the safe client reach loopback (tests only)."""
    settings.OUTBOUND_HTTP_ALLOW_LOOPBACK = True


@pytest.fixture
def feed(settings: Any) -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        server.route("/eurofxref-daily.xml", respond(ECB_XML, content_type="text/xml"))
        settings.ECB_RATES_URL = server.url("/eurofxref-daily.xml")
        yield server


def _cart_with_items(client: Any) -> str:
    cart = client.post("/api/v1/carts/", {"name": "Mixed"}, format="json").json()
    for index, (price, currency) in enumerate(
        [("10.00", "EUR"), ("21.00", "USD"), ("1600", "JPY"), ("5.00", "ARS")]
    ):
        response = client.post(
            "/api/v1/items/",
            {
                "url": f"https://shop.example.com/p/{index}",
                "price": price,
                "currency": currency,
                "cart_ids": [cart["id"]],
            },
            format="json",
        )
        assert response.status_code == 201
    return str(cart["id"])


def test_refresh_stores_the_days_rates_through_the_safe_client(feed: LoopbackServer) -> None:
    day = rates.rates_refresh()
    assert day is not None and day.isoformat() == "2026-12-02"
    assert ExchangeRates.objects.get(day=day).rates == {
        "USD": "1.0500",
        "JPY": "160.00",
        "GBP": "0.8400",
    }
    assert rates.rates_refresh() == day  # idempotent per publication day
    assert ExchangeRates.objects.count() == 1
    assert [r.path for r in feed.requests] == ["/eurofxref-daily.xml"] * 2


def test_carts_total_converted(auth_client: Any, feed: LoopbackServer) -> None:
    rates.rates_refresh()
    cart_id = _cart_with_items(auth_client)
    listing = auth_client.get("/api/v1/carts/?currency=EUR").json()["results"]
    # 10 EUR + 21 USD / 1.05 + 1600 JPY / 160; ARS has no rate.
    assert listing[0]["total_converted"] == {
        "currency": "EUR",
        "amount": "40.00",
        "rates_date": "2026-12-02",
        "left_out": ["ARS"],
    }
    one = auth_client.get(f"/api/v1/carts/{cart_id}/?currency=jpy").json()
    assert one["total_converted"]["currency"] == "JPY"
    assert one["total_converted"]["amount"] == "6400"  # whole yen
    assert auth_client.get(f"/api/v1/carts/{cart_id}/").json()["total_converted"] is None


def test_without_rates_totals_answer_with_left_out_never_an_error(auth_client: Any) -> None:
    cart_id = _cart_with_items(auth_client)
    body = auth_client.get(f"/api/v1/carts/{cart_id}/?currency=EUR").json()
    assert body["total_converted"] == {
        "currency": "EUR",
        "amount": "10.00",
        "rates_date": None,
        "left_out": ["ARS", "JPY", "USD"],
    }


def test_an_unreachable_feed_stores_nothing(settings: Any) -> None:
    with LoopbackServer() as server:
        url = server.url("/eurofxref-daily.xml")
    settings.ECB_RATES_URL = url  # the server is gone: connection refused
    assert rates.rates_refresh() is None
    assert not ExchangeRates.objects.exists()


def test_an_unreadable_feed_stores_nothing(settings: Any) -> None:
    with LoopbackServer() as server:
        server.route(
            "/x.xml", respond(b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", content_type="text/xml")
        )
        settings.ECB_RATES_URL = server.url("/x.xml")
        assert rates.rates_refresh() is None
    assert not ExchangeRates.objects.exists()


def test_unknown_currency_is_400(auth_client: Any) -> None:
    response = auth_client.get("/api/v1/carts/?currency=EURO")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["currency"]
