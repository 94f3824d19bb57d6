"""Shared pieces of the carts admin: links, owner lookups and the page-prefetching base class."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib.admin.views.main import ChangeList
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from accounts.models import User
from buyhive.admin import TransactionalAdmin
from carts.admin.forms import _RefusedSave

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


class PagePrefetchAdmin(TransactionalAdmin):
    """Computes list columns for a whole page with one query each (``annotate_page``)."""

    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def annotate_page(self, request: HttpRequest, objects: list[Any]) -> None:
        """Attach the values the list columns show to each object of the page."""

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        changelist = super().get_changelist_instance(request)
        changelist.result_list = list(changelist.result_list)
        self.annotate_page(request, changelist.result_list)
        return changelist

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
