"""Staff moderation of carts and items.

Built for thousands of rows on MongoDB, where every join is a ``$lookup`` over a whole
collection:

* list pages make a fixed number of queries whatever the page holds: the page itself, then
  one read per computed column for the whole page (owners' emails, item counts), attached in
  ``get_changelist_instance``; no ``list_select_related`` (a ``$lookup``), no per-row query;
* searching by owner email first finds the matching users (one query), then filters on the
  indexed ``owner_id``, instead of joining every row to its user;
* an item's carts (and a cart's items) are edited through a ``CartItem`` inline, with the
  related objects' labels read in one query for the whole inline;
* every write goes through ``carts.services`` (``cart_create``, ``cart_update``,
  ``item_upsert``, ``item_update``, ``item_add_to_cart``, ``item_remove_from_cart``,
  ``cart_delete``, ``item_delete``), so staff meet the same name rules, URL uniqueness,
  same-owner rule, caps and price snapshots as the API; this module states none of them;
* a save runs in one MongoDB transaction (``run_in_transaction``, which the services join):
  the form and the inline commit together or not at all. A service that refuses (a
  :class:`~buyhive.exceptions.DomainError`) rolls the whole save back, and the page is shown
  again with the service's message on the field, the inline row or the form it concerns.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.db import models
from django.db.models import Count, Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator

from accounts.models import User
from buyhive.exceptions import DomainError, ValidationFailed
from carts import services
from carts.models import Cart, CartItem, Item
from carts.transactions import run_in_transaction

#: Most users a search term can expand to when matching owner emails.
MAX_OWNER_MATCHES = 1000


def _admin_url(model: type[models.Model], pk: Any) -> str | None:
    opts = model._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk])
    except NoReverseMatch:
        return None


def _link(url: str | None, text: Any) -> str:
    if url is None:
        return str(text)
    return format_html('<a href="{}">{}</a>', url, text)


def _owner_ids_matching(term: str) -> list[Any]:
    return list(
        User.objects.filter(email__icontains=term).values_list("pk", flat=True)[:MAX_OWNER_MATCHES]
    )


def _owner_emails(owner_ids: Iterable[Any]) -> dict[Any, str]:
    ids = list(dict.fromkeys(owner_ids))
    if not ids:
        return {}
    return dict(User.objects.filter(pk__in=ids).values_list("pk", "email"))


def _csv_safe(value: Any) -> str:
    """A cell that a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class PagePrefetchAdmin(admin.ModelAdmin):
    """Computes list columns for a whole page with one query each (``annotate_page``)."""

    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def annotate_page(self, request: HttpRequest, objects: list[Any]) -> None:
        """Attach the values the list columns show to each object of the page."""

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        changelist = super().get_changelist_instance(request)
        changelist.result_list = list(changelist.result_list)
        self.annotate_page(request, changelist.result_list)
        return changelist

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """Django's add/change view, its save in one transaction that a service may refuse.

        When a service raises a :class:`DomainError` while saving, the transaction has
        rolled back; the view then runs again on the same POST with that error attached
        (:class:`ServiceError`), so the page comes back with the message and nothing saved.
        """
        if request.method != "POST":
            return super().changeform_view(request, object_id, form_url, extra_context)
        label = f"admin_{self.model._meta.model_name}_save"
        try:
            return run_in_transaction(
                lambda: self._changeform_view(  # type: ignore[attr-defined]  # Django's own body
                    request, object_id, form_url, extra_context
                ),
                label=label,
            )
        except _RefusedSave as refused:
            request._carts_service_error = refused.error  # type: ignore[attr-defined]
        return self._changeform_view(  # type: ignore[attr-defined, no-any-return]
            request, object_id, form_url, extra_context
        )

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        error = getattr(request, "_carts_service_error", None)
        if error is not None and error.row is None:
            form = type(form.__name__, (form,), {"service_error": error})
        return form

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Like Django's, in a MongoDB transaction instead of Django's (no-op) atomic."""
        if request.method != "POST":
            return super().delete_view(request, object_id, extra_context)
        label = f"admin_{self.model._meta.model_name}_delete"
        return run_in_transaction(
            lambda: self._delete_view(  # type: ignore[attr-defined]  # Django's own body
                request, object_id, extra_context
            ),
            label=label,
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """The owner is chosen when a row is created and never changed afterwards."""
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "owner") if obj is not None else fields


# ------------------------------------------------------------------ refusals from the services


@dataclass(frozen=True)
class ServiceError:
    """A service's refusal of a save, and where to show it.

    ``row`` is the index of the inline row whose write was refused, or None for the main
    form; ``fields`` are the service's field errors (``name``, ``url``, ``quantity``...).
    """

    message: str
    fields: dict[str, Any] | None = None
    row: int | None = None


class _RefusedSave(Exception):
    """Raised out of the save's transaction (rolling it back) to show a ``ServiceError``."""

    def __init__(self, error: ServiceError) -> None:
        super().__init__(error.message)
        self.error = error


def _refused(exc: DomainError, *, row: int | None = None) -> _RefusedSave:
    return _RefusedSave(ServiceError(message=exc.message, fields=exc.fields, row=row))


class ServiceErrorForm(forms.ModelForm):
    """A model form that shows a service's refusal of the previous attempt to save it.

    The rules themselves live in ``carts.services``; the form only carries the message back
    to the field it names (or to the top of the form when the field is not on it).
    """

    service_error: ServiceError | None = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        error = self.service_error
        if error is not None:
            shown = False
            for field, messages_ in (error.fields or {}).items():
                if field in self.fields:
                    for message in messages_ if isinstance(messages_, list) else [messages_]:
                        self.add_error(field, str(message))
                    shown = True
            if not shown:
                self.add_error(None, error.message)
        return cleaned


class CartAdminForm(ServiceErrorForm):
    class Meta:
        model = Cart
        fields = ("owner", "name", "description")


class ItemAdminForm(ServiceErrorForm):
    class Meta:
        model = Item
        fields = ("owner", "url")


def _adopt(target: models.Model, saved: models.Model) -> None:
    """Make the admin's instance the row a service wrote (pk, derived columns, times)."""
    for model_field in type(saved)._meta.concrete_fields:
        setattr(target, model_field.attname, getattr(saved, model_field.attname))
    target._state.adding = False
    target._state.db = saved._state.db


# ----------------------------------------------------------------------------- memberships


class _LabelledRawIdWidget(ForeignKeyRawIdWidget):
    """A raw-id widget whose labels come from one query made for the whole inline."""

    def __init__(self, *args: Any, labels: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.labels = labels

    def label_and_url_for_value(self, value: Any) -> tuple[str, str]:
        key = str(value) if value else ""
        if key in self.labels:
            url = _admin_url(self.rel.model, key) or ""
            return Truncator(self.labels[key]).words(14), url
        return super().label_and_url_for_value(value)


class MembershipFormSet(BaseInlineFormSet):
    """The memberships of an item or a cart; shows a service's refusal on the row it concerns."""

    service_error: ServiceError | None = None

    def clean(self) -> None:
        super().clean()
        error = self.service_error
        if error is None or error.row is None:
            return
        if 0 <= error.row < len(self.forms):
            self.forms[error.row].add_error(None, error.message)
        else:  # pragma: no cover - the POST changed shape between the two passes
            raise forms.ValidationError(error.message)


class _MembershipInline(admin.TabularInline):
    model = CartItem
    formset = MembershipFormSet
    extra = 0
    readonly_fields = ("added_at", "price_at_add", "currency_at_add")
    #: The foreign key shown for each row (the other side of the parent).
    other_field = ""

    def labels_for(self, obj: Any) -> dict[str, str]:  # pragma: no cover - overridden
        return {}

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        request._carts_inline_labels = self.labels_for(obj) if obj is not None else {}  # type: ignore[attr-defined]
        formset = super().get_formset(request, obj, **kwargs)
        error = getattr(request, "_carts_service_error", None)
        if error is not None and error.row is not None:
            formset = type(formset.__name__, (formset,), {"service_error": error})
        return formset

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        if db_field.name == self.other_field:
            kwargs["widget"] = _LabelledRawIdWidget(
                db_field.remote_field,
                self.admin_site,
                labels=getattr(request, "_carts_inline_labels", {}),
            )
            kwargs["queryset"] = db_field.related_model._default_manager.all()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ItemsInCartInline(_MembershipInline):
    fields = ("item", "quantity", "note", "added_at", "price_at_add", "currency_at_add")
    other_field = "item"
    verbose_name = "item in this cart"
    verbose_name_plural = "items in this cart"

    def labels_for(self, obj: Cart) -> dict[str, str]:
        ids = CartItem.objects.filter(cart_id=obj.pk).values_list("item_id", flat=True)
        return {
            str(pk): title or url or str(pk)
            for pk, title, url in Item.objects.filter(pk__in=list(ids)).values_list(
                "pk", "title", "url"
            )
        }


class CartsOfItemInline(_MembershipInline):
    fields = ("cart", "quantity", "note", "added_at", "price_at_add", "currency_at_add")
    other_field = "cart"
    verbose_name = "cart holding this item"
    verbose_name_plural = "carts holding this item"

    def labels_for(self, obj: Item) -> dict[str, str]:
        ids = CartItem.objects.filter(item_id=obj.pk).values_list("cart_id", flat=True)
        return {
            str(pk): name
            for pk, name in Cart.objects.filter(pk__in=list(ids)).values_list("pk", "name")
        }


def _save_memberships(formset: Any, parent: Cart | Item) -> None:
    """Write an inline's memberships through the services, inside the admin's transaction.

    Removals first (``item_remove_from_cart``), then additions and changes
    (``item_add_to_cart``: same owner, the item cap, the price snapshot, orphan marks, the
    quantity rule), so that swapping one item for another in a full cart works. A row whose
    other side changed is a removal and an addition. A refusal names its row.
    """
    other_field = "item" if formset.fk.name == "cart" else "cart"

    def pair(other: Any) -> tuple[Cart, Item]:
        return (parent, other) if other_field == "item" else (other, parent)  # type: ignore[return-value]

    removals: list[tuple[int, Cart, Item]] = []
    writes: list[tuple[int, Cart, Item, dict[str, Any]]] = []
    for index, form in enumerate(formset.forms):
        cleaned = getattr(form, "cleaned_data", None)
        if not cleaned:
            continue  # an empty extra row
        existing = form.instance if form.instance.pk is not None else None
        if formset.can_delete and formset._should_delete_form(form):
            if existing is not None:
                removals.append((index, existing.cart, existing.item))
            continue
        cart, item = pair(cleaned[other_field])
        if existing is not None and (existing.cart_id, existing.item_id) != (cart.pk, item.pk):
            removals.append((index, existing.cart, existing.item))
            existing = None
        if existing is None or form.has_changed():
            fields = {"quantity": cleaned.get("quantity"), "note": cleaned.get("note", "")}
            writes.append((index, cart, item, fields))
    # What Django's formset.save() would leave behind, for the admin's change message.
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    for index, cart, item in removals:
        try:
            services.item_remove_from_cart(cart=cart, item=item)
        except DomainError as exc:
            raise _refused(exc, row=index) from exc
        formset.deleted_objects.append(formset.forms[index].instance)
    for index, cart, item, fields in writes:
        try:
            membership, created = services.item_add_to_cart(cart=cart, item=item, **fields)
        except DomainError as exc:
            raise _refused(exc, row=index) from exc
        if created:
            formset.new_objects.append(membership)
        else:
            formset.changed_objects.append((membership, formset.forms[index].changed_data))


# ---------------------------------------------------------------------------------- filters


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


# ------------------------------------------------------------------------------------ carts


@admin.register(Cart)
class CartAdmin(PagePrefetchAdmin):
    form = CartAdminForm
    list_display = ("name", "owner_column", "items_column", "shared_column", "created_at")
    list_filter = (OwnerFilter, ("created_at", admin.DateFieldListFilter))
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
    actions = ("export_csv",)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Cart], search_term: str
    ) -> tuple[QuerySet[Cart], bool]:
        term = search_term.strip()[:200]
        if not term:
            return queryset, False
        return queryset.filter(
            Q(name__icontains=term) | Q(owner_id__in=_owner_ids_matching(term))
        ), False

    def annotate_page(self, request: HttpRequest, objects: list[Any]) -> None:
        emails = _owner_emails(cart.owner_id for cart in objects)
        counts = dict(
            CartItem.objects.filter(cart_id__in=[cart.pk for cart in objects])
            .values("cart_id")
            .annotate(count=Count("pk"))
            .order_by()
            .values_list("cart_id", "count")
        )
        for cart in objects:
            cart.admin_owner_email = emails.get(cart.owner_id, "?")
            cart.admin_item_count = counts.get(cart.pk, 0)

    @admin.display(description="owner")
    def owner_column(self, cart: Cart) -> str:
        return _link(_admin_url(User, cart.owner_id), getattr(cart, "admin_owner_email", ""))

    @admin.display(description="items")
    def items_column(self, cart: Cart) -> str:
        url = reverse("admin:carts_item_changelist") + f"?cart={cart.pk}"
        return format_html('<a href="{}">{}</a>', url, getattr(cart, "admin_item_count", "-"))

    @admin.display(description="shared", boolean=True)
    def shared_column(self, cart: Cart) -> bool:
        return bool(cart.share_token)

    @admin.display(description="owner")
    def owner_link(self, cart: Cart) -> str:
        if cart.owner_id is None:
            return "-"
        emails = _owner_emails([cart.owner_id])
        return _link(_admin_url(User, cart.owner_id), emails.get(cart.owner_id, "?"))

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

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Cart]) -> None:
        for cart in queryset:
            services.cart_delete(cart=cart)

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


# ------------------------------------------------------------------------------------ items


@admin.register(Item)
class ItemAdmin(PagePrefetchAdmin):
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
        "store_domain",
        "currency",
        "availability",
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("title",)
    search_help_text = "Title, URL, or the owner's email."
    ordering = ("-created_at",)
    list_per_page = 100
    show_full_result_count = False
    raw_id_fields = ("owner",)
    fields = (
        "owner",
        "owner_link",
        "url",
        "canonical_url",
        "store_domain",
        "title",
        "brand",
        "description",
        "price",
        "currency",
        "price_raw",
        "image_url",
        "availability",
        "sku",
        "gtin",
        "mpn",
        "variant",
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

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Item], search_term: str
    ) -> tuple[QuerySet[Item], bool]:
        term = search_term.strip()[:200]
        if not term:
            return queryset, False
        return queryset.filter(
            Q(title__icontains=term)
            | Q(canonical_url__icontains=term)
            | Q(url__icontains=term)
            | Q(owner_id__in=_owner_ids_matching(term))
        ), False

    def annotate_page(self, request: HttpRequest, objects: list[Any]) -> None:
        emails = _owner_emails(item.owner_id for item in objects)
        counts = dict(
            CartItem.objects.filter(item_id__in=[item.pk for item in objects])
            .values("item_id")
            .annotate(count=Count("pk"))
            .order_by()
            .values_list("item_id", "count")
        )
        for item in objects:
            item.admin_owner_email = emails.get(item.owner_id, "?")
            item.admin_cart_count = counts.get(item.pk, 0)

    @admin.display(description="title", ordering="title")
    def title_column(self, item: Item) -> str:
        return Truncator(item.title or item.url or str(item.pk)).chars(80)

    @admin.display(description="owner")
    def owner_column(self, item: Item) -> str:
        return _link(_admin_url(User, item.owner_id), getattr(item, "admin_owner_email", ""))

    @admin.display(description="carts")
    def carts_column(self, item: Item) -> int:
        return getattr(item, "admin_cart_count", 0)

    @admin.display(description="owner")
    def owner_link(self, item: Item) -> str:
        if item.owner_id is None:
            return "-"
        emails = _owner_emails([item.owner_id])
        return _link(_admin_url(User, item.owner_id), emails.get(item.owner_id, "?"))

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

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Item]) -> None:
        for item in queryset:
            services.item_delete(item=item)

    @admin.action(description="Delete the selected items that are in no cart")
    def delete_orphans(self, request: HttpRequest, queryset: QuerySet[Item]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        deleted, kept = services.items_delete_orphans(item_ids=ids)
        self.message_user(
            request,
            f"Deleted {deleted} item(s) in no cart; kept {kept} still in a cart.",
            messages.SUCCESS,
        )
