"""The cart admin."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from buyhive.exceptions import DomainError
from carts import services
from carts.admin.base import (
    OwnedRowAdmin,
    _csv_safe,
    _membership_counts,
    _owner_emails,
)
from carts.admin.filters import OwnerFilter, SharedFilter
from carts.admin.forms import CartAdminForm, _adopt, _refused
from carts.admin.memberships import ItemsInCartInline, _save_memberships
from carts.models import Cart, CartItem, Item


@admin.register(Cart)
class CartAdmin(OwnedRowAdmin):
    form = CartAdminForm
    list_display = ("name", "owner_column", "items_column", "shared_column", "created_at")
    list_filter = (OwnerFilter, SharedFilter, ("created_at", admin.DateFieldListFilter))
    search_fields = ("name",)
    search_help_text = "Cart name, or the owner's email."
    date_hierarchy = None
    ordering = ("-created_at",)
    list_per_page = 100
    show_full_result_count = False
    fields = (
        "owner",
        "owner_link",
        "name",
        "description",
        "items_link",
        "share_token",
        "shared_at",
        "legacy_id",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "owner_link",
        "items_link",
        "share_token",
        "shared_at",
        "legacy_id",
        "created_at",
        "updated_at",
    )
    raw_id_fields = ("owner",)
    inlines = (ItemsInCartInline,)
    actions = ("revoke_share_links", "export_csv")
    actions_outside_transaction = ("export_csv",)  # a read, possibly long

    def annotate_page(self, request: HttpRequest, objects: list[Any]) -> None:
        counts = _membership_counts("cart_id", [cart.pk for cart in objects])
        for cart in objects:
            cart.admin_item_count = counts.get(cart.pk, 0)

    @admin.display(description="items")
    def items_column(self, cart: Cart) -> str:
        url = reverse("admin:carts_item_changelist") + f"?cart={cart.pk}"
        return format_html('<a href="{}">{}</a>', url, getattr(cart, "admin_item_count", "-"))

    @admin.display(description="shared", boolean=True)
    def shared_column(self, cart: Cart) -> bool:
        return bool(cart.share_token)

    @admin.display(description="items")
    def items_link(self, cart: Cart) -> str:
        if cart.pk is None:
            return "-"
        url = reverse("admin:carts_item_changelist") + f"?cart={cart.pk}"
        return format_html('<a href="{}">All items of this cart</a>', url)

    def save_model(self, request: HttpRequest, obj: Cart, form: Any, change: bool) -> None:
        """Create or edit the cart through the services (name rules, the carts-per-user cap)."""
        data = form.cleaned_data
        try:
            if change:
                saved = services.cart_update(
                    cart=Cart.objects.get(pk=obj.pk),
                    name=data["name"] if "name" in form.changed_data else None,
                    description=(
                        data["description"] if "description" in form.changed_data else None
                    ),
                )
            else:
                saved = services.cart_create(
                    owner=data["owner"], name=data["name"], description=data["description"]
                )
        except DomainError as exc:
            raise _refused(exc) from exc
        _adopt(obj, saved)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        _save_memberships(formset, form.instance)

    def delete_model(self, request: HttpRequest, obj: Cart) -> None:
        services.cart_delete(cart=obj)

    @admin.action(description="Revoke the share links of the selected carts")
    def revoke_share_links(self, request: HttpRequest, queryset: QuerySet[Cart]) -> None:
        """Moderation: the public links stop working at once (``cart_share_link_revoke``).

        Each revoked link is recorded in the admin history of its cart.
        """
        revoked = 0
        for cart in queryset.filter(share_token__isnull=False):
            if services.cart_share_link_revoke(cart=cart):
                self.log_change(request, cart, "Revoked the share link.")
                revoked += 1
        self.message_user(request, f"Revoked {revoked} share link(s).", messages.SUCCESS)

    @admin.action(description="Export the selected carts as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Cart]) -> HttpResponse:
        carts = list(queryset.order_by("created_at"))
        emails = _owner_emails(cart.owner_id for cart in carts)
        memberships = list(
            CartItem.objects.filter(cart_id__in=[cart.pk for cart in carts]).order_by("added_at")
        )
        items = {
            item.pk: item
            for item in Item.objects.filter(pk__in=list({ms.item_id for ms in memberships}))
        }
        by_cart: dict[Any, list[CartItem]] = {}
        for membership in memberships:
            by_cart.setdefault(membership.cart_id, []).append(membership)

        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="carts-{stamp}.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [
                "cart_id",
                "cart_name",
                "owner_email",
                "cart_created_at",
                "item_id",
                "title",
                "brand",
                "url",
                "price",
                "currency",
                "quantity",
                "note",
                "added_at",
                "price_at_add",
                "currency_at_add",
            ]
        )
        for cart in carts:
            head = [cart.pk, cart.name, emails.get(cart.owner_id, ""), cart.created_at.isoformat()]
            rows = by_cart.get(cart.pk, [])
            if not rows:
                writer.writerow([_csv_safe(v) for v in head] + [""] * 11)
            for membership in rows:
                item = items.get(membership.item_id)
                if item is None:
                    continue
                tail = [
                    item.pk,
                    item.title,
                    item.brand,
                    item.url,
                    item.price,
                    item.currency,
                    membership.quantity,
                    membership.note,
                    membership.added_at.isoformat(),
                    membership.price_at_add,
                    membership.currency_at_add,
                ]
                writer.writerow([_csv_safe(v) for v in head + tail])
        return response
