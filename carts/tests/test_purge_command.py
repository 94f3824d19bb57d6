"""``manage.py purge_orphan_items --older-than DAYS [--dry-run]``."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from carts import services
from carts.models import Item
from carts.tests.factories import CartFactory, CartItemFactory, ItemFactory

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command("purge_orphan_items", *args, stdout=out)
    return out.getvalue()


def test_purge_deletes_only_items_orphaned_for_longer_than_asked(user: Any) -> None:
    now = timezone.now()
    old = ItemFactory(owner=user, orphaned_at=now - timedelta(days=31))
    young = ItemFactory(owner=user, orphaned_at=now - timedelta(days=29))
    in_cart = CartItemFactory(cart=CartFactory(owner=user)).item

    dry = _run("--older-than", "30", "--dry-run")
    assert "Would delete 1 item(s)" in dry
    assert Item.objects.count() == 3

    assert "Deleted 1 item(s)" in _run("--older-than", "30")
    assert set(Item.objects.values_list("pk", flat=True)) == {young.pk, in_cart.pk}
    assert not Item.objects.filter(pk=old.pk).exists()


def test_an_item_removed_from_its_last_cart_is_purged_later(user: Any) -> None:
    cart = services.cart_create(owner=user, name="Gifts")
    item, _ = services.item_upsert(
        owner=user, data={"url": "https://s.example.com/1"}, cart_ids=[cart.pk]
    )
    services.item_remove_from_cart(cart=cart, item=item)
    assert "Deleted 0 item(s)" in _run("--older-than", "1")
    Item.objects.filter(pk=item.pk).update(orphaned_at=timezone.now() - timedelta(days=2))
    assert "Deleted 1 item(s)" in _run("--older-than", "1")


def test_purge_refuses_a_negative_age() -> None:
    with pytest.raises(CommandError):
        _run("--older-than", "-1")


def test_the_scheduled_purge_runs_on_the_worker_by_name(user: Any, worker: Any) -> None:
    """The beat entry ``carts.purge_orphan_items`` (ORPHAN_ITEMS_MAX_AGE_DAYS, 30)."""
    from buyhive.celery import app
    from buyhive.tests.task_worker import wait_for

    now = timezone.now()
    old = ItemFactory(owner=user, orphaned_at=now - timedelta(days=31))
    young = ItemFactory(owner=user, orphaned_at=now - timedelta(days=29))

    app.send_task("carts.purge_orphan_items")

    wait_for(lambda: not Item.objects.filter(pk=old.pk).exists(), what="the old orphan purged")
    assert Item.objects.filter(pk=young.pk).exists()
