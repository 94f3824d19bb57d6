"""Shared pieces of the carts admin: links, owner lookups and the base of both model admins."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db import models
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from accounts.models import User
from buyhive.admin import TransactionalAdmin
from carts.admin.forms import _RefusedSave
from carts.models import CartItem

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


def _membership_counts(side: str, ids: list[Any]) -> dict[Any, int]:
    """How many memberships each of ``ids`` has, ``side`` being ``"cart_id"`` or ``"item_id"``
    (one grouped query for the whole page)."""
    return dict(
        CartItem.objects.filter(**{f"{side}__in": ids})
        .values(side)
        .annotate(count=Count("pk"))
        .order_by()
        .values_list(side, "count")
    )


class OwnedRowAdmin(TransactionalAdmin):
    """The base of the cart and item admins: rows a user owns, written through the services.

    * list columns computed for a whole page with one query each: the owner's email here,
      the rest in the subclass's ``annotate_page``;
    * search: a contains-search on ``search_fields``, or the owner's email (the matching
      users first, then the indexed ``owner_id``: no join);
    * the owner chosen on "add", then only shown as a link;
    * saves in one transaction that a service may refuse (``run_write``), bulk deletes one
      row at a time through the subclass's ``delete_model`` (its service).
    """

    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def annotate_page(self, request: HttpRequest, objects: list[Any]) -> None:
        """Attach the values the subclass's list columns show to each object of the page."""

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        changelist = super().get_changelist_instance(request)
        objects = changelist.result_list = list(changelist.result_list)
        emails = _owner_emails(obj.owner_id for obj in objects)
        for obj in objects:
            obj.admin_owner_email = emails.get(obj.owner_id, "?")
        self.annotate_page(request, objects)
        return changelist

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()[:200]
        if not term:
            return queryset, False
        match = Q(owner_id__in=_owner_ids_matching(term))
        for name in self.search_fields:
            match |= Q(**{f"{name}__icontains": term})
        return queryset.filter(match), False

    @admin.display(description="owner")
    def owner_column(self, obj: Any) -> str:
        return _link(_admin_url(User, obj.owner_id), getattr(obj, "admin_owner_email", ""))

    @admin.display(description="owner")
    def owner_link(self, obj: Any) -> str:
        if obj.owner_id is None:
            return "-"
        emails = _owner_emails([obj.owner_id])
        return _link(_admin_url(User, obj.owner_id), emails.get(obj.owner_id, "?"))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)

    def run_write(
        self, request: HttpRequest, kind: str, view: Callable[[], HttpResponse]
    ) -> HttpResponse:
        """The page's write in one transaction (``TransactionalAdmin``) that a service may refuse.

        When a service raises a :class:`DomainError` while saving, the transaction has
        rolled back; the view then runs again on the same POST with that error attached
        (:class:`ServiceError`), so the page comes back with the message and nothing saved.
        """
        if kind != "save":
            return super().run_write(request, kind, view)
        try:
            return super().run_write(request, kind, view)
        except _RefusedSave as refused:
            request._carts_service_error = refused.error  # type: ignore[attr-defined]
        return view()

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        error = getattr(request, "_carts_service_error", None)
        if error is not None and error.row is None:
            form = type(form.__name__, (form,), {"service_error": error})
        return form

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """The owner once: a choice on "add", then only the link to the owner's user page."""
        hidden = "owner" if obj is not None else "owner_link"
        return [name for name in super().get_fields(request, obj) if name != hidden]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """The owner is chosen when a row is created and never changed afterwards."""
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "owner") if obj is not None else fields
