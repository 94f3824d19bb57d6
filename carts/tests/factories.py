"""factory_boy factories for carts tests (they write rows directly, bypassing the services).

Users come from ``accounts.tests.factories``.
"""

from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone

from accounts.tests.factories import UserFactory
from carts.models import Cart, CartItem, Item


class CartFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cart

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Cart {n}")


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item

    owner = factory.SubFactory(UserFactory)
    url = factory.Sequence(lambda n: f"https://shop{n % 7}.example.com/products/{n}")
    title = factory.Sequence(lambda n: f"Product {n}")
    brand = "Acme"
    price = Decimal("10.00")
    currency = "USD"
    availability = "InStock"
    orphaned_at = factory.LazyFunction(timezone.now)


class CartItemFactory(factory.django.DjangoModelFactory):
    """A membership; the item is made for the cart's owner unless given."""

    class Meta:
        model = CartItem

    cart = factory.SubFactory(CartFactory)
    item = factory.SubFactory(ItemFactory, owner=factory.SelfAttribute("..cart.owner"))
    owner = factory.SelfAttribute("cart.owner")
    quantity = 1
    price_at_add = factory.SelfAttribute("item.price")
    currency_at_add = factory.SelfAttribute("item.currency")

    @classmethod
    def _create(cls, model_class: type[CartItem], *args: object, **kwargs: object) -> CartItem:
        membership = super()._create(model_class, *args, **kwargs)
        # The item's read model of its memberships, as the services keep it.
        current = Item.objects.filter(pk=membership.item_id).values_list("cart_ids", flat=True)
        cart_ids = [*(current.first() or []), membership.cart_id]
        Item.objects.filter(pk=membership.item_id).update(orphaned_at=None, cart_ids=cart_ids)
        membership.item.cart_ids, membership.item.orphaned_at = cart_ids, None
        return membership
