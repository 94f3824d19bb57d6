"""The admin of the page check's labelling queue: the pages users shared for review.

Staff open each page as it was sent (a sandboxed view: no script runs and it cannot reach
the admin's cookies), and label it with one of the ``page-types`` kinds, on its page or in
the list. A label goes through :func:`mlverify.services.page_sample_label` (a labelled page
stops expiring). Who shared a page is not shown: labelling needs the page, not the person.
Pages come from users only, so there is no "add".
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from buyhive.admin import TransactionalAdmin
from mlverify.models import PageSample
from mlverify.services import page_sample_html, page_sample_label

#: The shared page is shown as a sandboxed document (a unique origin, no script, no form,
#: no navigation of the admin): its pictures and styles load so a person sees what the user
#: saw; nothing else does.
PAGE_VIEW_CSP = (
    "sandbox; default-src 'none'; img-src http: https: data:; "
    "style-src 'unsafe-inline' http: https:; font-src http: https: data:"
)


class LabelledFilter(admin.SimpleListFilter):
    """``?labelled=no`` is the queue: the pages no one has labelled yet."""

    title = "labelled"
    parameter_name = "labelled"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Not yet (the queue)"), ("yes", "Labelled")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[PageSample]) -> QuerySet[Any]:
        if self.value() == "no":
            return queryset.filter(label="")
        if self.value() == "yes":
            return queryset.exclude(label="")
        return queryset


@admin.register(PageSample)
class PageSampleAdmin(TransactionalAdmin):
    list_display = ("created_at", "site", "title", "verdict", "label", "expires_at", "open_page")
    list_editable = ("label",)
    list_filter = (LabelledFilter, "verdict", "label")
    search_fields = ("site", "url", "title")
    ordering = ("-created_at",)
    fields = (
        "open_page",
        "url",
        "site",
        "title",
        "verdict",
        "score",
        "model",
        "html_chars",
        "label",
        "labelled_at",
        "created_at",
        "expires_at",
    )
    readonly_fields = tuple(name for name in fields if name != "label")
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet[PageSample]:
        # The list never needs the pages themselves (up to a few hundred KB each).
        return super().get_queryset(request).defer("html")

    @admin.display(description="page")
    def open_page(self, obj: PageSample) -> str:
        url = reverse("admin:mlverify_pagesample_page", args=[obj.pk])
        return format_html('<a href="{}" target="_blank" rel="noopener">open as sent</a>', url)

    def get_urls(self) -> list[URLPattern]:
        page = path(
            "<str:object_id>/page/",
            self.admin_site.admin_view(self.page_view),
            name="mlverify_pagesample_page",
        )
        return [page, *super().get_urls()]

    def page_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The shared page as the extension sent it, to staff who may view samples."""
        sample = self.get_object(request, object_id)
        if sample is None or not self.has_view_permission(request, sample):
            return HttpResponse("Not found.", status=404, content_type="text/plain")
        response = HttpResponse(page_sample_html(sample), content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = PAGE_VIEW_CSP
        response["X-Content-Type-Options"] = "nosniff"
        response["Referrer-Policy"] = "no-referrer"
        return response

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: PageSample, form: Any, change: bool) -> None:
        page_sample_label(sample=obj, label=obj.label)
