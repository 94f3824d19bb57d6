"""The user admin: search, filters (provider without per-row queries), linked Google
accounts, and deactivate/reactivate actions.

Deactivating (the action, or unticking "active" on the user's page) goes through
:func:`accounts.services.user_deactivate`, which revokes the user's sessions and, through
the ``account_deactivated`` signal, what the other apps keep open (share links): this
module states none of those rules. Every staff write is recorded in the admin history, and
each page's writes (the form, the deactivation, the history entry; a bulk action on every
selected user) commit together or not at all (:class:`buyhive.admin.TransactionalAdmin`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from allauth.socialaccount.models import SocialAccount
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from accounts import selectors, services
from accounts.models import User, normalize_email
from buyhive import registries
from buyhive.admin import TransactionalAdmin
from buyhive.registries import UserSummary

PASSWORD_PROVIDER = "password"  # noqa: S105 - a filter value, not a secret


class _NormalisedEmailMixin:
    """Check uniqueness on the stored spelling, so ``A@x.com`` is caught as a duplicate
    of ``a@x.com`` by the form (a field error) rather than by the unique index (a crash)."""

    cleaned_data: dict[str, Any]
    instance: User

    def clean_email(self) -> str:
        email = normalize_email(self.cleaned_data.get("email", ""))
        taken = User.objects.filter(email=email)
        if self.instance.pk is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("A user with this email already exists.")
        return email


class UserCreateForm(_NormalisedEmailMixin, AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserEditForm(_NormalisedEmailMixin, UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class SignInProviderFilter(admin.SimpleListFilter):
    """Filter by how users sign in: a linked provider (Google) or a usable password.

    Two queries whatever the page size: the provider's user ids, then the page with
    ``pk__in`` (a join would be a ``$lookup`` over every user on MongoDB).
    """

    title = "sign-in provider"
    parameter_name = "provider"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(PASSWORD_PROVIDER, "Email and password"), *selectors.installed_providers()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        value = self.value()
        if not value:
            return queryset
        if value == PASSWORD_PROVIDER:
            return queryset.exclude(password__startswith=UNUSABLE_PASSWORD_PREFIX)
        return queryset.filter(pk__in=selectors.user_ids_with_provider(provider=value))


class SocialAccountInline(admin.TabularInline):
    """The Google (or other) identities linked to the user, read-only."""

    model = SocialAccount
    fk_name = "user"
    extra = 0
    can_delete = False
    fields = ("provider", "uid", "last_login", "date_joined")
    readonly_fields = fields
    verbose_name = "linked sign-in account"
    verbose_name_plural = "linked sign-in accounts"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _summary_column(entry: UserSummary) -> Any:
    """A list column showing ``entry``'s number for each user, linked when it has a page."""

    @admin.display(description=entry.label)
    def column(user: User) -> str:
        count = getattr(user, "admin_summaries", {}).get(entry.name, 0)
        if entry.link is None:
            return str(count)
        return format_html('<a href="{}">{}</a>', entry.link(user.pk), count)

    column.__name__ = f"summary_{entry.name}"
    return column


@admin.register(User)
class UserAdmin(TransactionalAdmin, DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreateForm
    inlines = [SocialAccountInline]
    list_display = (
        "email",
        "name",
        "is_active",
        "is_staff",
        "email_verified",
        "date_joined",
        "last_login",
    )
    list_filter = ("is_active", "is_staff", SignInProviderFilter, "date_joined")
    search_fields = ("email", "name")
    ordering = ("email",)
    readonly_fields = ("last_login", "date_joined")
    date_hierarchy = None
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "avatar_url", "email_verified")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "usable_password", "password1", "password2"),
            },
        ),
    )
    actions = ["deactivate_users", "reactivate_users"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_list_display(self, request: HttpRequest) -> Any:
        """The columns, then one per summary another app registered (carts: the number of carts)."""
        columns = [_summary_column(entry) for entry in registries.user_summaries()]
        return (*super().get_list_display(request), *columns)

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        """The changelist, each registered summary read for the whole page in one call."""
        changelist = super().get_changelist_instance(request)
        changelist.result_list = list(changelist.result_list)
        counts = registries.user_summary_counts([u.pk for u in changelist.result_list])
        for user in changelist.result_list:
            user.admin_summaries = {name: found.get(user.pk, 0) for name, found in counts.items()}
        return changelist

    def get_inlines(self, request: HttpRequest, obj: User | None) -> list[Any]:
        return list(self.inlines) if obj is not None else []  # nothing linked on "add"

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        """Django's save; unticking "active" then closes everything exactly like the action.

        Both run in the page's one transaction (:class:`buyhive.admin.TransactionalAdmin`):
        if the deactivation fails, the user is not left inactive with sessions still open.
        """
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            services.user_deactivate(user=obj)

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        """Django's password page, its save and history entry in one transaction too."""
        view = partial(super().user_change_password, request, id, form_url)
        return view() if request.method != "POST" else self.run_write(request, "password", view)

    @admin.action(description="Deactivate selected users (revokes sessions and share links)")
    def deactivate_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        """One message for the whole selection, with the count. The staff member's own
        account, when selected, is skipped, and that message says so (as a warning)."""
        done, skipped_yourself = 0, False
        for user in queryset:
            if user.pk == request.user.pk:
                skipped_yourself = True
                continue
            summary = services.user_deactivate(user=user)
            closed = ", ".join(f"{name.replace('_', ' ')}: {n}" for name, n in summary.items())
            self.log_change(request, user, f"Deactivated ({closed}).")
            done += 1
        result = f"{done} user(s) deactivated; their sessions and share links were revoked."
        if not skipped_yourself:
            self.message_user(request, result, messages.SUCCESS)
        elif done:
            warning = f"{result} Your own account was skipped: you cannot deactivate yourself."
            self.message_user(request, warning, messages.WARNING)
        else:
            warning = "You cannot deactivate yourself; no user was deactivated."
            self.message_user(request, warning, messages.WARNING)

    @admin.action(description="Reactivate selected users")
    def reactivate_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        done = 0
        for user in queryset:
            services.user_reactivate(user=user)
            self.log_change(request, user, "Reactivated.")
            done += 1
        self.message_user(request, f"{done} user(s) reactivated.", messages.SUCCESS)
