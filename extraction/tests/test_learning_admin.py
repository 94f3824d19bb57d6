"""The learned locations in the admin: listed per domain, removable by staff, never edited."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.tests.factories import UserFactory
from conftest import otp_admin_client_for
from extraction.learning.models import LearnedLocation
from extraction.learning.services import voter_hash

pytestmark = pytest.mark.django_db

LIST = "/admin/extraction/learnedlocation/"


@pytest.fixture
def staff_client(db: Any) -> Client:
    admin = UserFactory(email="staff@example.com", password="pw-staff-1234", staff=True)
    return otp_admin_client_for(admin)


def _learned(domain: str, location: str, voters: int) -> LearnedLocation:
    hashes = [voter_hash(user_id=f"user-{n}") for n in range(voters)]
    return LearnedLocation.objects.create(
        domain=domain, field_name="price", location=location, voters=hashes, votes=voters
    )


def test_staff_list_learned_locations_by_domain_without_voters(staff_client: Client) -> None:
    shared = _learned("fernhill-goods.example", "dom:div.deal>span.amt", 2)
    _learned("other-shop.example", "ld:offers[0].price", 1)
    response = staff_client.get(LIST, {"q": "fernhill"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "dom:div.deal&gt;span.amt" in page
    assert "ld:offers[0].price" not in page
    assert shared.voters[0] not in page  # who voted is never shown
    detail = staff_client.get(f"{LIST}{shared.pk}/change/")
    assert detail.status_code == 200
    assert shared.voters[0] not in detail.content.decode()
    assert staff_client.get(f"{LIST}add/").status_code == 403


def test_staff_remove_a_learned_location(staff_client: Client) -> None:
    wrong = _learned("fernhill-goods.example", "dom:div.ref>span.amt", 1)
    kept = _learned("fernhill-goods.example", "dom:div.deal>span.amt", 2)
    response = staff_client.post(f"{LIST}{wrong.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert list(LearnedLocation.objects.values_list("pk", flat=True)) == [kept.pk]


def test_a_shopper_cannot_see_the_learned_locations(auth_client: Any, user: Any) -> None:
    client = Client()
    client.force_login(user)
    response = client.get(LIST)
    assert response.status_code in (302, 403)
