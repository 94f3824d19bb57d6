"""Learning each shop from its users' corrections, through the real endpoints:
``POST extract/`` (saving into a cart), ``PATCH items/{id}/``, then ``POST extract/`` of
another page of the same shop."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from buyhive.celery import app as celery_app
from buyhive.registries import delete_user_data
from buyhive.tests.task_worker import wait_for
from carts import services as cart_services
from carts.models import Item
from conftest import bearer_client_for
from extraction.learning.models import CandidateRecord, LearnedLocation
from extraction.learning.services import RECORD_DAYS
from extraction.tasks import purge_learning_records
from extraction.tests.learning_pages import PAGE_A, PAGE_B, PAGE_C

pytestmark = pytest.mark.django_db


def extract(client: APIClient, page: tuple[str, str], *, save: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"url": page[0], "html": page[1]}
    if save:
        cart = client.post("/api/v1/carts/", {"name": f"Cart {page[0][-6:]}"}, format="json")
        assert cart.status_code == 201, cart.content
        body["cart_ids"] = [cart.json()["id"]]
    response = client.post("/api/v1/extract/", body, format="json")
    assert response.status_code == 200, response.content
    return dict(response.json())


def correct(client: APIClient, item_id: str, **fields: str) -> dict[str, Any]:
    response = client.patch(f"/api/v1/items/{item_id}/", fields, format="json")
    assert response.status_code == 200, response.content
    return dict(response.json())


def price_of(answer: dict[str, Any]) -> str | None:
    return answer["product"]["price"]


def test_a_correction_on_page_a_fixes_page_b_for_the_same_user(auth_client: APIClient) -> None:
    # Before any correction the generic rules take the unmarked reference price.
    assert price_of(extract(auth_client, PAGE_B)) == "120.00"
    saved = extract(auth_client, PAGE_A, save=True)
    assert price_of(saved) == "59.99"
    corrected = correct(auth_client, saved["item"]["id"], price="39.99")
    assert corrected["price"] == "39.99"

    answer = extract(auth_client, PAGE_B)
    assert price_of(answer) == "89.50"
    assert answer["product"]["currency"] == "USD"
    assert answer["provenance"]["price"] == {"source": "heuristic", "confidence": 0.9}
    assert answer["cached"] is False  # the lesson is part of the cache key
    # A third product of the template, and page A itself, read right too.
    assert price_of(extract(auth_client, PAGE_C)) == "49.00"
    assert price_of(extract(auth_client, PAGE_A)) == "39.99"
    # The lesson is about the shop's domain and a place on its pages, nothing else.
    (learned,) = LearnedLocation.objects.all()
    assert (learned.domain, learned.field_name, learned.votes) == (
        "fernhill-goods.example",
        "price",
        1,
    )
    assert learned.location.startswith("dom:") and "deal" in learned.location


def test_one_users_lesson_helps_others_only_when_a_second_user_agrees(
    auth_client: APIClient, other_client: APIClient
) -> None:
    saved = extract(auth_client, PAGE_A, save=True)
    correct(auth_client, saved["item"]["id"], price="39.99")
    # Bob is not helped by Alice's lone correction (one user could poison a shop for all).
    assert price_of(extract(other_client, PAGE_B)) == "120.00"

    bobs = extract(other_client, PAGE_C, save=True)
    assert price_of(bobs) == "75.00"
    correct(other_client, bobs["item"]["id"], price="49.00")
    assert LearnedLocation.objects.get().votes == 2

    carol = bearer_client_for(UserFactory(email="carol@example.com"))
    assert price_of(extract(carol, PAGE_B)) == "89.50"
    assert price_of(extract(other_client, PAGE_B)) == "89.50"


def test_the_same_user_correcting_twice_counts_once(auth_client: APIClient) -> None:
    first = extract(auth_client, PAGE_A, save=True)
    correct(auth_client, first["item"]["id"], price="39.99")
    second = extract(auth_client, PAGE_C, save=True)
    assert price_of(second) == "49.00"  # already helped: nothing to correct
    third = extract(auth_client, PAGE_B, save=True)
    correct(auth_client, third["item"]["id"], price="89.5")  # the same value, re-typed
    assert LearnedLocation.objects.get().votes == 1
    other = bearer_client_for(UserFactory(email="dave@example.com"))
    assert price_of(extract(other, PAGE_B)) == "120.00"


def test_a_value_the_page_never_showed_teaches_nothing(auth_client: APIClient) -> None:
    saved = extract(auth_client, PAGE_A, save=True)
    correct(auth_client, saved["item"]["id"], price="35.00", title="My stool")
    assert not LearnedLocation.objects.exists()
    assert price_of(extract(auth_client, PAGE_B)) == "120.00"


def test_a_staff_edit_teaches_nothing(auth_client: APIClient) -> None:
    saved = extract(auth_client, PAGE_A, save=True)
    item = Item.objects.get(pk=saved["item"]["id"])
    cart_services.item_update(item=item, data={"price": "39.99"})  # the admin's path
    assert Item.objects.get(pk=item.pk).price == Decimal("39.99")
    assert not LearnedLocation.objects.exists()


def test_a_lesson_outranks_stale_structured_data(auth_client: APIClient) -> None:
    """The shop's JSON-LD states the reference price: the user's lesson wins over it."""

    def with_jsonld(page: tuple[str, str], reference: str) -> tuple[str, str]:
        script = (
            '<script type="application/ld+json">{"@context": "https://schema.org", '
            '"@type": "Product", "name": "x", "offers": {"@type": "Offer", '
            f'"price": "{reference}", "priceCurrency": "USD"}}}}</script></head>'
        )
        return page[0], page[1].replace("</head>", script, 1)

    saved = extract(auth_client, with_jsonld(PAGE_A, "59.99"), save=True)
    assert saved["provenance"]["price"]["source"] == "json-ld"
    assert price_of(saved) == "59.99"
    correct(auth_client, saved["item"]["id"], price="39.99")
    answer = extract(auth_client, with_jsonld(PAGE_B, "120.00"))
    assert price_of(answer) == "89.50"
    assert answer["provenance"]["price"]["source"] == "heuristic"


def test_the_record_is_compact_and_goes_with_the_item(auth_client: APIClient) -> None:
    saved = extract(auth_client, PAGE_A, save=True)
    record = CandidateRecord.objects.get(item_id=saved["item"]["id"])
    assert record.domain == "fernhill-goods.example"
    assert "39.99" in {value for _location, value in record.candidates["price"]}
    assert len(repr(record.candidates)) < 900
    assert "Oak Stool" not in repr(record.candidates)  # long values are digests
    response = auth_client.delete(f"/api/v1/items/{saved['item']['id']}/")
    assert response.status_code == 204
    assert not CandidateRecord.objects.exists()


def test_records_expire_after_14_days(auth_client: APIClient) -> None:
    saved = extract(auth_client, PAGE_A, save=True)
    fresh = extract(auth_client, PAGE_C, save=True)
    old = timezone.now() - timedelta(days=RECORD_DAYS, minutes=1)
    CandidateRecord.objects.filter(item_id=saved["item"]["id"]).update(created_at=old)
    # A correction past the record's days teaches nothing, even before the purge runs.
    correct(auth_client, saved["item"]["id"], price="39.99")
    assert not LearnedLocation.objects.exists()
    assert purge_learning_records() == 1
    assert list(CandidateRecord.objects.values_list("item_id", flat=True)) == [
        Item.objects.get(pk=fresh["item"]["id"]).pk
    ]


def test_the_scheduled_purge_runs_on_the_worker(auth_client: APIClient, worker: Any) -> None:
    """The beat entry's task, sent by name to the real worker, deletes the expired records."""
    saved = extract(auth_client, PAGE_A, save=True)
    kept = extract(auth_client, PAGE_C, save=True)
    old = timezone.now() - timedelta(days=RECORD_DAYS, hours=1)
    CandidateRecord.objects.filter(item_id=saved["item"]["id"]).update(created_at=old)
    celery_app.send_task(settings.CELERY_BEAT_SCHEDULE["extraction-purge-learning-records"]["task"])
    wait_for(
        lambda: not CandidateRecord.objects.filter(item_id=saved["item"]["id"]).exists(),
        what="the expired candidate record to be deleted",
    )
    assert CandidateRecord.objects.filter(item_id=kept["item"]["id"]).exists()


def test_account_deletion_takes_the_records_and_the_votes_back(
    auth_client: APIClient, other_client: APIClient, user: Any, other_user: Any
) -> None:
    for client, page, price in ((auth_client, PAGE_A, "39.99"), (other_client, PAGE_C, "49.00")):
        saved = extract(client, page, save=True)
        correct(client, saved["item"]["id"], price=price)
    assert LearnedLocation.objects.get().votes == 2

    report = delete_user_data(user)
    assert report["extraction_learning"] == 2  # one record, one vote
    assert CandidateRecord.objects.count() == 1  # Bob's
    learned = LearnedLocation.objects.get()
    assert learned.votes == 1
    # Bob still benefits from his own lesson; a newcomer no longer does.
    assert price_of(extract(other_client, PAGE_B)) == "89.50"
    newcomer = bearer_client_for(UserFactory(email="erin@example.com"))
    assert price_of(extract(newcomer, PAGE_B)) == "120.00"

    delete_user_data(other_user)
    assert not LearnedLocation.objects.exists()
    assert not CandidateRecord.objects.exists()


def test_a_learned_place_that_does_not_validate_falls_back_to_the_rules(
    auth_client: APIClient,
) -> None:
    saved = extract(auth_client, PAGE_A, save=True)
    correct(auth_client, saved["item"]["id"], price="39.99")
    url, html = PAGE_B
    redesigned = html.replace(
        '<div class="deal"><span class="amt">$89.50</span>',
        '<div class="deal"><span class="amt">Call us</span>',
    )
    assert price_of(extract(auth_client, (url, redesigned))) == "120.00"


def test_a_price_watch_observation_teaches_nothing(auth_client: APIClient) -> None:
    """The watch changes the item's price from a page report: not the user's correction."""
    saved = extract(auth_client, PAGE_A, save=True)
    url, html = PAGE_A
    # The shop now shows 39.99 where the rules look: the watch moves the item to 39.99, the
    # value the record holds at the "deal" place, yet no lesson may come of it.
    report = html.replace("$59.99", "$39.99")
    response = auth_client.post(
        "/api/v1/watch/observations/", {"url": url, "html": report}, format="json"
    )
    assert response.status_code == 202, response.content
    assert response.json()["changed"]["price"] == {"from": "59.99", "to": "39.99"}
    shown = auth_client.get(f"/api/v1/items/{saved['item']['id']}/").json()
    assert shown["price"] == "39.99"
    assert not LearnedLocation.objects.exists()


def test_a_watch_report_after_a_correction_reads_the_learned_place(
    auth_client: APIClient,
) -> None:
    """Reporting the corrected page again must not undo the user's correction."""
    saved = extract(auth_client, PAGE_A, save=True)
    correct(auth_client, saved["item"]["id"], price="39.99")
    url, html = PAGE_A
    cheaper = html.replace("$39.99", "$34.99")
    response = auth_client.post(
        "/api/v1/watch/observations/", {"url": url, "html": cheaper}, format="json"
    )
    assert response.status_code == 202, response.content
    assert response.json()["price"] == "34.99"
    assert auth_client.get(f"/api/v1/items/{saved['item']['id']}/").json()["price"] == "34.99"
