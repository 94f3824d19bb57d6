"""Fixtures shared by the carts tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from carts import services
from carts.models import Cart, Item
from carts.tests.mongo_commands import Recorder, listening


@pytest.fixture
def cart(user: Any) -> Cart:
    return services.cart_create(owner=user, name="Gifts", description="For the family")


@pytest.fixture
def item(user: Any) -> Item:
    item, _created = services.item_upsert(
        owner=user,
        data={
            "url": "https://shop.example.com/products/kettle?utm_source=news&colour=red",
            "title": "Kettle",
            "brand": "Boil Co",
            "price": "19.99",
            "currency": "EUR",
            "availability": "InStock",
            "image_url": "https://cdn.example.com/kettle.jpg",
        },
    )
    return item


@pytest.fixture
def item_in_cart(cart: Cart, item: Item) -> Item:
    services.item_add_to_cart(cart=cart, item=item)
    return item


@pytest.fixture
def commands(db: Any) -> Iterator[Recorder]:
    """Every command Django sends to MongoDB during the test (see ``mongo_commands``)."""
    with listening() as recorder:
        yield recorder
