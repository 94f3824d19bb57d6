"""The item admin."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.text import Truncator

from buyhive.exceptions import DomainError, ValidationFailed
from carts import services
from carts.admin.base import (
    OwnedRowAdmin,
    _membership_counts,
)
from carts.admin.filters import InCartFilter, OrphanFilter, OwnerFilter, PageCheckFilter
from carts.admin.forms import ItemAdminForm, _adopt, _refused
from carts.admin.memberships import CartsOfItemInline, _save_memberships
from carts.models import Item


@admin.register(Item)
class ItemAdmin(OwnedRowAdmin):
    form = ItemAdminForm
    list_display = (
        "title_column",
        "owner_column",
        "store_domain",
        "price",
        "currency",
        "availability",
        "carts_column",
        "created_at",
    )
    list_filter = (
        OwnerFilter,
        InCartFilter,
        OrphanFilter,
        "currency",
        "availability",
        PageCheckFilter,
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("title", "store_domain", "canonical_url", "url")
    # No list filter on the shop: it would list every domain ever saved. Search for it.
    search_help_text = "Title, URL or shop domain, or the owner's email."
    ordering = ("-created_at",)
    list_per_page = 100
    show_full_result_count = False
    raw_id_fields = ("owner",)
    # What staff may edit is what a client may set (``ITEM_FIELDS``), then what is derived.
    fields = (
        "owner",
        "owner_link",
        *services.ITEM_FIELDS,
        "canonical_url",
        "store_domain",
        "extraction_details",
        "orphaned_at",
        "legacy_id",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "owner_link",
        "canonical_url",
        "store_domain",
        "extraction_details",
        "orphaned_at",
        "legacy_id",
        "created_at",
        "updated_at",
    )
    inlines = (CartsOfItemInline,)
    actions = ("delete_orphans",)

    def annotate_page(self, request: HttpRequest, objects: list[Any]) -> None:
        counts = _membership_counts("item_id", [item.pk for item in objects])
        for item in objects:
            item.admin_cart_count = counts.get(item.pk, 0)

    @admin.display(description="title", ordering="title")
    def title_column(self, item: Item) -> str:
        return Truncator(item.title or item.url or str(item.pk)).chars(80)

    @admin.display(description="carts")
    def carts_column(self, item: Item) -> int:
        return getattr(item, "admin_cart_count", 0)

    @admin.display(description="extraction details")
    def extraction_details(self, item: Item) -> str:
        if not item.extraction:
            return "-"
        text = json.dumps(item.extraction, indent=2, sort_keys=True, default=str)
        return format_html('<pre style="white-space:pre-wrap;max-width:60em">{}</pre>', text)

    def save_model(self, request: HttpRequest, obj: Item, form: Any, change: bool) -> None:
        """Create or edit the item through the services (cleaning, URL uniqueness per owner).

        Adding refuses a URL the owner already saved: ``item_upsert`` would update that item,
        which is what the extension wants but not what "add" means to staff, so the upsert is
        rolled back with the admin's transaction.
        """
        data = form.cleaned_data
        try:
            if change:
                fields = {k: data[k] for k in form.changed_data if k in services.ITEM_FIELDS}
                saved = services.item_update(item=Item.objects.get(pk=obj.pk), data=fields)
            else:
                fields = {k: data[k] for k in services.ITEM_FIELDS if k in data}
                saved, created = services.item_upsert(owner=data["owner"], data=fields)
                if not created:
                    message = "This user already saved an item with this URL."
                    raise ValidationFailed(message, fields={"url": [message]})
        except DomainError as exc:
            raise _refused(exc) from exc
        _adopt(obj, saved)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        _save_memberships(formset, form.instance)

    def delete_model(self, request: HttpRequest, obj: Item) -> None:
        services.item_delete(item=obj)

    @admin.action(description="Delete the selected items that are in no cart")
    def delete_orphans(self, request: HttpRequest, queryset: QuerySet[Item]) -> None:
        chosen = list(queryset)
        ids = [item.pk for item in chosen]
        deleted, kept = services.items_delete_orphans(item_ids=ids)
        left = set(Item.objects.filter(pk__in=ids).values_list("pk", flat=True))
        gone = [item for item in chosen if item.pk not in left]
        if gone:  # the admin history: which items went, once the service has decided
            self.log_deletions(request, gone)  # type: ignore[arg-type]  # a list works
        self.message_user(
            request,
            f"Deleted {deleted} item(s) in no cart; kept {kept} still in a cart.",
            messages.SUCCESS,
        )
