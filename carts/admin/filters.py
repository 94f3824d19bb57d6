"""List filters of the carts admin: owner, in a cart, orphaned, shared, page check."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import User
from carts.models import Cart, CartItem, Item


class OwnerFilter(admin.SimpleListFilter):
    """``?owner=<user id>``: one user's rows (linked from the cart and user admin pages)."""

    title = "owner"
    parameter_name = "owner"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from carts.selectors import parse_object_id

        value = request.GET.get(self.parameter_name)
        oid = parse_object_id(value)
        if not value or oid is None:
            return []
        email = User.objects.filter(pk=oid).values_list("email", flat=True).first()
        return [(value, email or value)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        from carts.selectors import parse_object_id

        value = self.value()
        if not value:
            return queryset
        return queryset.filter(owner_id=parse_object_id(value))


class InCartFilter(admin.SimpleListFilter):
    """``?cart=<id>``: the items of one cart (reached from the cart list's item counts)."""

    title = "cart"
    parameter_name = "cart"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = request.GET.get(self.parameter_name)
        if not value:
            return []
        from carts.selectors import parse_object_id

        oid = parse_object_id(value)
        name = Cart.objects.filter(pk=oid).values_list("name", flat=True).first() if oid else None
        return [(value, name or value)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Item]) -> QuerySet[Item]:
        from carts.selectors import parse_object_id

        value = self.value()
        if not value:
            return queryset
        oid = parse_object_id(value)
        ids = (
            list(CartItem.objects.filter(cart_id=oid).values_list("item_id", flat=True))
            if oid
            else []
        )
        return queryset.filter(pk__in=ids)


class OrphanFilter(admin.SimpleListFilter):
    title = "in a cart"
    parameter_name = "orphan"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "In no cart"), ("no", "In a cart")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Item]) -> QuerySet[Item]:
        if self.value() == "yes":
            return queryset.filter(orphaned_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(orphaned_at__isnull=True)
        return queryset


class SharedFilter(admin.SimpleListFilter):
    """``?shared=yes|no``: carts with a live public share link, or without one."""

    title = "share link"
    parameter_name = "shared"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Shared (live link)"), ("no", "Not shared")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Cart]) -> QuerySet[Cart]:
        if self.value() == "yes":
            return queryset.filter(share_token__isnull=False)
        if self.value() == "no":
            return queryset.filter(share_token__isnull=True)
        return queryset


class PageCheckFilter(admin.SimpleListFilter):
    """``?page_check=product|collection|other|none``: what the page check said of the page an
    item was saved from (``extraction.page_check.page_type``, kept with the item).

    Items saved from a page the check took for something else are the labelling queue of the
    page classifier: the user saved the page as a product, so each is a likely miss of the
    check, and the kind of page its model card says it needs more of (``MODEL_CARD.md``).
    """

    title = "page check said"
    parameter_name = "page_check"
    KEY = "extraction__page_check__page_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("product", "A product page"),
            ("collection", "A list of products"),
            ("other", "Not a product page"),
            ("none", "Not checked"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Item]) -> QuerySet[Item]:
        value = self.value()
        if value in ("product", "collection", "other"):
            return queryset.filter(**{self.KEY: value})
        if value == "none":
            return queryset.filter(**{f"{self.KEY}__isnull": True})
        return queryset
