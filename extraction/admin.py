"""The admin of what extraction learned from corrections: the learned locations per shop.

Staff see, per domain and field, where the truth was found and how many distinct users
agreed (never who: the voter hashes stay hidden), and remove a wrong lesson through the
service (a bulk delete in one transaction). Locations are made by corrections only, so there
is no "add" and no edit.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from buyhive.admin import TransactionalAdmin
from extraction.learning.models import LearnedLocation
from extraction.learning.selectors import PUBLIC_VOTES
from extraction.learning.services import learned_location_delete


@admin.register(LearnedLocation)
class LearnedLocationAdmin(TransactionalAdmin):
    list_display = ("domain", "field_name", "location", "votes", "shared", "updated_at")
    list_filter = ("field_name",)
    search_fields = ("domain",)
    ordering = ("domain", "field_name", "-votes")
    fields = ("domain", "field_name", "location", "votes", "shared", "created_at", "updated_at")
    readonly_fields = fields
    list_per_page = 100

    @admin.display(boolean=True, description="helps every user")
    def shared(self, obj: LearnedLocation) -> bool:
        return obj.votes >= PUBLIC_VOTES

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: LearnedLocation) -> None:
        learned_location_delete(learned=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[LearnedLocation]) -> None:
        for learned in queryset:
            learned_location_delete(learned=learned)
