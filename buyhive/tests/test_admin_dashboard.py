"""The admin index: one "Accounts" section, and the dashboard every app fills (registries)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from bson import ObjectId
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import UserFactory
from alerts.models import Alert, Notification
from buyhive.registries import run_dashboard_panels
from carts import services
from carts.tests.factories import ItemFactory
from carts.tests.mongo_commands import listening
from conftest import bearer_client_for, otp_admin_client_for
from mlverify.models import PageSample
from mlverify.services import page_sample_label

pytestmark = pytest.mark.django_db

PAGE = (
    "<html><head><title>Espresso Machine X200</title>"
    '<script type="application/ld+json">{"@type": "Product", "name": "Espresso Machine X200",'
    ' "offers": {"price": "199.00", "priceCurrency": "EUR"}}</script></head></html>'
)


@pytest.fixture
def staff_client(db: Any) -> Client:
    return otp_admin_client_for(UserFactory(email="staff@example.com", staff=True))


def _figures(response: Any) -> dict[str, dict[str, Any]]:
    return {
        panel["name"]: {figure.label: figure.value for figure in panel["figures"]}
        for panel in response.context["dashboard"]
    }


def _notification(owner: User, n: int, *, mail: str, age: timedelta) -> None:
    Notification.objects.create(
        owner=owner,
        item_id=ObjectId(),
        kind="price_drop",
        dedupe_key=f"test:{n}",
        mail=mail,
        created_at=timezone.now() - age,
    )


def test_the_dashboard_counts_what_staff_asked_for(staff_client: Client, user: User) -> None:
    old = UserFactory(email="old@example.com")
    User.objects.filter(pk=old.pk).update(date_joined=timezone.now() - timedelta(days=30))
    shared = services.cart_create(owner=user, name="Shared")
    services.cart_share_link_create(cart=shared)
    services.cart_create(owner=user, name="Private")
    for n in range(3):
        ItemFactory(owner=user, url=f"https://shop.example.com/p/{n}")
    Alert.objects.create(owner=user, item_id=ObjectId(), back_in_stock=True)
    _notification(user, 1, mail=Notification.Mail.QUEUED, age=timedelta(hours=2))
    _notification(user, 2, mail=Notification.Mail.SKIPPED, age=timedelta(days=1))
    _notification(user, 3, mail=Notification.Mail.QUEUED, age=timedelta(days=9))
    api = bearer_client_for(user)
    product = {"url": "https://shop.example.com/p/x200", "html": PAGE}
    empty = {"url": "https://shop.example.com/p/empty", "html": "<html></html>"}
    for body in (product, product, empty):  # the second one is answered from the cache
        assert api.post("/api/v1/extract/", body, format="json").status_code == 200
    shared = api.post("/api/v1/extract/", {**empty, "share_page": True}, format="json").json()
    page_sample_label(
        sample=PageSample.objects.get(pk=shared["page_sample"]["id"]), label="article"
    )
    api.post(
        "/api/v1/extract/",
        {"url": "https://shop.example.com/c/kettles", "html": PAGE, "share_page": True},
        format="json",
    )

    response = staff_client.get("/admin/")
    assert response.status_code == 200
    figures = _figures(response)
    # staff, alice, old: three users, two of them new this week
    assert figures["users"] == {"users": 3, "signed up in the last 7 days": 2}
    assert figures["carts"] == {"carts": 2, "items": 3, "live share links": 1}
    assert figures["extraction"]["extractions"] == 5
    assert figures["extraction"]["ok (a title and a price)"] == 3
    assert figures["extraction"]["failed (nothing found)"] == 2
    assert figures["extraction"]["partial"] == 0
    assert figures["extraction"]["answered from the cache"] == 2
    assert figures["extraction"]["with fields from the LLM"] == "0 (0%)"  # no LLM configured
    assert figures["alerts"] == {
        "alerts set": 1,
        "fired in the last 7 days": 2,
        "mailed in the last 7 days": 1,
    }
    assert figures["page_check"] == {"pages to label": 1, "labelled": 1}
    page = response.content.decode()
    assert "Extractions in the last 24 hours" in page
    assert '<a href="/admin/carts/cart/?shared=yes">live share links</a>' in page
    # Every linked figure leads to a list page; sign-ups come newest first.
    links = {
        figure.label: figure.link
        for panel in response.context["dashboard"]
        for figure in panel["figures"]
        if figure.link
    }
    for link in links.values():
        assert staff_client.get(link).status_code == 200, link
    newest = staff_client.get(links["signed up in the last 7 days"]).context["cl"].result_list
    assert [u.email for u in newest][-1] == "old@example.com"
    shared_list = staff_client.get(links["live share links"]).context["cl"].result_list
    assert [cart.name for cart in shared_list] == ["Shared"]


def test_the_dashboard_reads_with_a_fixed_handful_of_queries(
    staff_client: Client, user: User
) -> None:
    for n in range(20):
        cart = services.cart_create(owner=user, name=f"Cart {n}")
        services.cart_share_link_create(cart=cart)
    with listening() as recorder:
        run_dashboard_panels()
    reads = [(c.name, c.collection) for c in recorder.commands if c.collection]
    # users: 1 aggregate; carts: 1 aggregate + 1 count; alerts: 1 count + 1 aggregate;
    # page check: 1 aggregate.
    assert sorted(reads) == [
        ("aggregate", "accounts_user"),
        ("aggregate", "alerts_alert"),
        ("aggregate", "alerts_notification"),
        ("aggregate", "carts_cart"),
        ("aggregate", "carts_item"),
        ("aggregate", "mlverify_pagesample"),
    ]


def test_a_failing_panel_is_shown_as_unavailable_not_a_500(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from buyhive import registries

    def broken() -> list[Any]:
        raise RuntimeError("boom")

    panel = registries._DASHBOARD["carts"]
    monkeypatch.setitem(
        registries._DASHBOARD, "carts", registries.DashboardPanel("carts", panel.title, broken)
    )
    response = staff_client.get("/admin/")
    assert response.status_code == 200
    assert "unavailable: RuntimeError: boom" in response.content.decode()


def test_one_accounts_section_holds_users_and_email_addresses(staff_client: Client) -> None:
    response = staff_client.get("/admin/")
    apps = {app["app_label"]: app for app in response.context["app_list"]}
    assert "account" not in apps
    names = [model["object_name"] for model in apps["accounts"]["models"]]
    assert {"User", "EmailAddress"} <= set(names)
    page = response.content.decode()
    assert page.count(">Accounts</a>") == 1
    # allauth's own app page still lists its models.
    assert staff_client.get("/admin/account/").status_code == 200
    # The sidebar of any other admin page shows the same single section.
    sidebar = staff_client.get("/admin/carts/cart/").context["available_apps"]
    assert [app["name"] for app in sidebar].count("Accounts") == 1


def test_the_dashboard_is_for_staff_only(db: Any) -> None:
    response = APIClient().get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
