"""Pages users share for labelling: kept with a save on ``extract/`` when asked, listed and
deleted by their owner only, purged when no one labelled them in time, labelled by staff in
the admin, part of the user's export and deletion, and read by the training as labelled pages.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from buyhive.celery import app as celery_app
from buyhive.registries import delete_user_data, export_user_data
from buyhive.tests.task_worker import wait_for
from carts.models import Item
from conftest import api_error, otp_admin_client_for
from mlverify.admin import PAGE_VIEW_CSP
from mlverify.models import PageSample
from mlverify.services import page_sample_html, page_sample_label, page_samples_purge

pytestmark = pytest.mark.django_db

EXTRACT = "/api/v1/extract/"
SAMPLES = "/api/v1/page-samples/"
ADMIN = "/admin/mlverify/pagesample/"
GRID_URL = "https://www.lumio-lamps.example/collections/desk-lamps"
# A grid of priced cards, as capture.js sends it (no inline script): the kind of page a user
# saves "anyway" and may share.
GRID = (
    "<!doctype html><html><head><title>Desk lamps | Lumio</title></head><body>"
    "<h1>Desk lamps</h1><select aria-label='Sort by'><option>Price</option></select><ul>"
    + "".join(
        f"<li class='card'><a href='/products/lamp-{n}'>Lamp {n}</a><span>${40 + n}.00</span></li>"
        for n in range(12)
    )
    + "</ul></body></html>"
)


def _cart(client: APIClient, name: str = "Lamps") -> str:
    response = client.post("/api/v1/carts/", {"name": name}, format="json")
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


def _save(client: APIClient, url: str = GRID_URL, **extra: Any) -> Any:
    body = {"url": url, "html": GRID, "cart_ids": [_cart(client, url[-20:])], **extra}
    return client.post(EXTRACT, body, format="json")


# ------------------------------------------------------------------------------ extract/


def test_a_shared_page_is_kept_with_the_save_and_the_checks_own_verdict(
    auth_client: APIClient, user: Any
) -> None:
    response = _save(auth_client, share_page=True)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["item"] is not None
    assert body["page_sample"]["status"] == "kept"
    sample = PageSample.objects.get(pk=body["page_sample"]["id"])
    assert sample.owner_id == user.pk
    assert page_sample_html(sample) == GRID  # exactly what was sent, nothing more
    assert sample.url == body["item"]["url"]
    assert sample.site == "lumio-lamps"
    assert sample.title == (body["product"]["title"] or "")
    # The verdict is the server's, as the answer gave it (never one the client sends).
    assert sample.verdict == (body["page_check"]["page_type"] or "")
    assert sample.model == (body["page_check"]["model"] or "")
    assert sample.label == ""
    days = settings.PAGE_SAMPLE_KEEP_DAYS
    assert sample.expires_at is not None
    assert sample.expires_at - sample.created_at == timedelta(days=days)


def test_without_share_page_nothing_is_kept(auth_client: APIClient) -> None:
    body = _save(auth_client).json()
    assert body["page_sample"] is None
    body = _save(auth_client, url=GRID_URL + "?page=2", share_page=False).json()
    assert body["page_sample"] is None
    assert not PageSample.objects.exists()


def test_a_client_cannot_choose_the_verdict_kept(auth_client: APIClient) -> None:
    body = _save(
        auth_client, share_page=True, page_check={"page_type": "product"}, verdict="product"
    ).json()
    sample = PageSample.objects.get(pk=body["page_sample"]["id"])
    # The server's own check does not call this grid a product page, so a kept "product"
    # could only have come from the client.
    assert body["page_check"]["page_type"] != "product"
    assert sample.verdict == (body["page_check"]["page_type"] or "")
    assert sample.verdict != "product"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"share_page": True, "html": "", "text": "Desk lamp $40"}, "share_page"),
        ({"share_page": "maybe"}, "share_page"),
        ({"share_page": [True]}, "share_page"),
    ],
)
def test_bad_share_page_input_is_a_400_and_saves_nothing(
    auth_client: APIClient, extra: dict[str, Any], field: str
) -> None:
    cart = _cart(auth_client)
    body = {"url": GRID_URL, "html": GRID, "cart_ids": [cart], **extra}
    error = api_error(auth_client.post(EXTRACT, body, format="json"), 400, "validation_error")
    assert field in error["fields"]
    assert not Item.objects.exists()
    assert not PageSample.objects.exists()


def test_past_the_daily_number_the_save_goes_on_and_the_page_is_not_kept(
    auth_client: APIClient, settings: Any
) -> None:
    settings.PAGE_SAMPLES_PER_DAY = 2
    kept = [_save(auth_client, url=f"{GRID_URL}?page={n}", share_page=True) for n in (1, 2)]
    assert [r.json()["page_sample"]["status"] for r in kept] == ["kept", "kept"]

    third = _save(auth_client, url=f"{GRID_URL}?page=3", share_page=True)

    assert third.status_code == 200, third.content
    assert third.json()["page_sample"] == {"status": "limit_reached", "id": None}
    assert third.json()["item"] is not None
    assert PageSample.objects.count() == 2
    # A day later the user may share again.
    PageSample.objects.update(created_at=timezone.now() - timedelta(days=1, minutes=1))
    fourth = _save(auth_client, url=f"{GRID_URL}?page=4", share_page=True)
    assert fourth.json()["page_sample"]["status"] == "kept"


# --------------------------------------------------------------------------- page-samples/


def test_the_owner_lists_their_shared_pages_newest_first_without_the_page(
    auth_client: APIClient, other_client: APIClient
) -> None:
    first = _save(auth_client, url=f"{GRID_URL}?page=1", share_page=True).json()
    second = _save(auth_client, url=f"{GRID_URL}?page=2", share_page=True).json()
    _save(other_client, url=f"{GRID_URL}?page=3", share_page=True)

    response = auth_client.get(SAMPLES)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and body["previous"] is None and body["next"] is None
    rows = body["results"]
    assert [row["id"] for row in rows] == [
        second["page_sample"]["id"],
        first["page_sample"]["id"],
    ]
    assert set(rows[0]) == {
        "id",
        "url",
        "title",
        "page_type",
        "reviewed",
        "reviewed_as",
        "created_at",
        "expires_at",
    }
    assert rows[1]["url"] == first["item"]["url"]
    assert rows[1]["page_type"] == (first["page_check"]["page_type"] or "")
    assert rows[1]["reviewed"] is False and rows[1]["expires_at"] and rows[1]["reviewed_as"] == ""
    assert auth_client.get(SAMPLES, {"limit": 1}).json()["next"]


def test_a_reviewed_page_says_so_and_no_longer_expires(auth_client: APIClient) -> None:
    made = _save(auth_client, share_page=True).json()
    page_sample_label(sample=PageSample.objects.get(pk=made["page_sample"]["id"]), label="product")
    row = auth_client.get(SAMPLES).json()["results"][0]
    assert row["reviewed"] is True and row["expires_at"] is None
    # The person's label, not the check's verdict (a grid here), is what the user is shown.
    assert row["reviewed_as"] == "product" and row["page_type"] != "product"


def test_the_owner_deletes_a_shared_page_and_no_one_else_can(
    auth_client: APIClient, other_client: APIClient
) -> None:
    made = _save(auth_client, share_page=True).json()
    sample_id = made["page_sample"]["id"]

    api_error(other_client.delete(f"{SAMPLES}{sample_id}/"), 404, "not_found")
    api_error(auth_client.delete(f"{SAMPLES}not-an-id/"), 404, "not_found")
    api_error(auth_client.delete(f"{SAMPLES}{'0' * 24}/"), 404, "not_found")
    assert PageSample.objects.filter(pk=sample_id).exists()
    assert other_client.get(SAMPLES).json()["count"] == 0

    assert auth_client.delete(f"{SAMPLES}{sample_id}/").status_code == 204
    assert not PageSample.objects.exists()
    assert auth_client.get(f"/api/v1/items/{made['item']['id']}/").status_code == 200


def test_page_samples_need_a_token(api_client: APIClient) -> None:
    api_error(api_client.get(SAMPLES), 401, "not_authenticated")
    api_error(api_client.delete(f"{SAMPLES}{'0' * 24}/"), 401, "not_authenticated")


# ------------------------------------------------------------------------ expiry and labels


def _sample(owner: Any, *, age_days: float = 0, label: str = "") -> PageSample:
    created = timezone.now() - timedelta(days=age_days)
    sample = PageSample.objects.create(
        owner=owner,
        url=GRID_URL,
        site="lamps",
        html=b"",
        created_at=created,
        expires_at=created + timedelta(days=settings.PAGE_SAMPLE_KEEP_DAYS),
    )
    return page_sample_label(sample=sample, label=label) if label else sample


def test_unlabelled_pages_go_after_their_days_and_labelled_ones_stay(user: Any) -> None:
    days = settings.PAGE_SAMPLE_KEEP_DAYS
    expired = _sample(user, age_days=days + 0.01)
    fresh = _sample(user, age_days=days - 0.01)
    labelled = _sample(user, age_days=days * 3, label="collection")

    assert page_samples_purge() == 1

    assert set(PageSample.objects.values_list("pk", flat=True)) == {fresh.pk, labelled.pk}
    assert not PageSample.objects.filter(pk=expired.pk).exists()


def test_a_label_taken_back_gives_the_page_its_time_again_never_less_than_a_day(
    user: Any,
) -> None:
    old = _sample(user, age_days=settings.PAGE_SAMPLE_KEEP_DAYS * 2, label="product")
    assert old.expires_at is None and old.labelled_at is not None

    page_sample_label(sample=old, label="")

    old.refresh_from_db()
    assert old.label == "" and old.labelled_at is None
    assert old.expires_at is not None
    assert old.expires_at > timezone.now() + timedelta(hours=23)
    assert page_samples_purge() == 0
    with pytest.raises(ValueError, match="unknown label"):
        page_sample_label(sample=old, label="shop")


def test_the_scheduled_purge_runs_on_the_worker(user: Any, worker: Any) -> None:
    expired = _sample(user, age_days=settings.PAGE_SAMPLE_KEEP_DAYS + 1)
    kept = _sample(user)
    celery_app.send_task(settings.CELERY_BEAT_SCHEDULE["mlverify-purge-page-samples"]["task"])
    wait_for(
        lambda: not PageSample.objects.filter(pk=expired.pk).exists(),
        what="the expired shared page to be deleted",
    )
    assert PageSample.objects.filter(pk=kept.pk).exists()


# ------------------------------------------------------------------------------- data rights


def test_the_export_holds_the_users_shared_pages_and_deletion_takes_them(
    auth_client: APIClient, other_client: APIClient, user: Any, other_user: Any
) -> None:
    mine = _save(auth_client, share_page=True).json()["page_sample"]["id"]
    theirs = _save(other_client, share_page=True).json()["page_sample"]["id"]

    exported = export_user_data(user)["shared_pages"]

    assert [row["id"] for row in exported] == [mine]
    assert exported[0]["html"] == GRID
    assert exported[0]["label"] is None

    delete_user_data(user)

    assert list(PageSample.objects.values_list("pk", flat=True)) == [
        PageSample.objects.get(pk=theirs).pk
    ]


# ------------------------------------------------------------------------------------ admin


@pytest.fixture
def staff_client(db: Any) -> Client:
    staff = UserFactory(email="staff@example.com", password="pw-staff-1234", staff=True)
    return otp_admin_client_for(staff)


def test_staff_see_the_queue_without_who_shared_and_label_a_page(
    staff_client: Client, auth_client: APIClient, user: Any
) -> None:
    queued = PageSample.objects.get(
        pk=_save(auth_client, share_page=True).json()["page_sample"]["id"]
    )
    done = _sample(user, label="article")

    queue = staff_client.get(ADMIN, {"labelled": "no"})

    assert queue.status_code == 200
    page = queue.content.decode()
    assert f"{queued.pk}/change/" in page and f"{done.pk}/change/" not in page
    assert user.email not in page
    change = staff_client.get(f"{ADMIN}{queued.pk}/change/")
    assert change.status_code == 200 and user.email not in change.content.decode()

    response = staff_client.post(f"{ADMIN}{queued.pk}/change/", {"label": "product"})

    assert response.status_code == 302, response.content.decode()[:2000]
    queued.refresh_from_db()
    assert queued.label == "product"
    assert queued.labelled_at is not None and queued.expires_at is None
    assert staff_client.get(f"{ADMIN}add/").status_code == 403


def test_staff_open_the_page_as_sent_in_a_sandbox(
    staff_client: Client, auth_client: APIClient
) -> None:
    sample_id = _save(auth_client, share_page=True).json()["page_sample"]["id"]

    response = staff_client.get(f"{ADMIN}{sample_id}/page/")

    assert response.status_code == 200
    assert response.content.decode() == GRID
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Security-Policy"] == PAGE_VIEW_CSP
    assert PAGE_VIEW_CSP.startswith("sandbox;")  # no script, an origin of its own
    assert "no-store" in response["Cache-Control"]
    assert staff_client.get(f"{ADMIN}{'0' * 24}/page/").status_code == 404


def test_a_shopper_cannot_open_the_queue_or_a_page(auth_client: APIClient, user: Any) -> None:
    sample_id = _save(auth_client, share_page=True).json()["page_sample"]["id"]
    client = Client()
    client.force_login(user)
    for path in (ADMIN, f"{ADMIN}{sample_id}/page/"):
        response = client.get(path)
        assert response.status_code in (302, 403)
        assert GRID not in response.content.decode()


def test_staff_label_in_the_list_through_the_service(
    staff_client: Client, auth_client: APIClient
) -> None:
    queued = PageSample.objects.get(
        pk=_save(auth_client, share_page=True).json()["page_sample"]["id"]
    )

    response = staff_client.post(
        ADMIN,
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(queued.pk),
            "form-0-label": "collection",
            "_save": "Save",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    queued.refresh_from_db()
    assert queued.label == "collection"
    assert queued.labelled_at is not None and queued.expires_at is None
