"""The CartItem inlines: a cart's items and an item's carts, written through the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.text import Truncator

from buyhive.exceptions import DomainError
from carts import services
from carts.admin.base import _admin_url
from carts.admin.forms import ServiceError, _refused
from carts.models import Cart, CartItem, Item


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
