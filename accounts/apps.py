from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.apps import AppConfig

#: The dashboard's window for sign-ups.
SIGNUP_WINDOW = timedelta(days=7)


def _dashboard_figures() -> Sequence[Any]:
    """The admin dashboard's users panel: one query (``accounts.selectors.user_counts``)."""
    from django.urls import reverse
    from django.utils import timezone

    from accounts.selectors import user_counts
    from buyhive.registries import DashboardFigure

    counts = user_counts(since=timezone.now() - SIGNUP_WINDOW)
    users = reverse("admin:accounts_user_changelist")
    return [
        DashboardFigure("users", counts["users"], users),
        DashboardFigure("signed up in the last 7 days", counts["signed_up"], f"{users}?o=-6"),
    ]


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django_mongodb_backend.fields.ObjectIdAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from accounts import (
            schema,  # noqa: F401 - registers the OpenAPI bearer scheme
            user_data,
        )
        from accounts.auth_cache import on_user_saved
        from accounts.models import User
        from buyhive.registries import register_dashboard_panel

        # Any save of a user (deactivation, password change...) drops its cached copy.
        post_save.connect(on_user_saved, sender=User, dispatch_uid="accounts_auth_cache_save")
        post_delete.connect(on_user_saved, sender=User, dispatch_uid="accounts_auth_cache_del")
        register_dashboard_panel(name="users", title="Users", figures=_dashboard_figures, order=10)
        # The account's part in GET auth/me/export/ and DELETE auth/me/.
        user_data.register()
