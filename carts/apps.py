from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.apps import AppConfig


def _cart_counts(user_ids: Sequence[Any]) -> Mapping[Any, int]:
    from carts.selectors import cart_counts_by_owner

    return cart_counts_by_owner(owner_ids=user_ids)


def _carts_of_user_url(user_id: Any) -> str:
    from django.urls import reverse

    return reverse("admin:carts_cart_changelist") + f"?owner={user_id}"


def _dashboard_figures() -> Sequence[Any]:
    """The admin dashboard's carts panel: two queries (``carts.selectors.carts_counts``)."""
    from django.urls import reverse

    from buyhive.registries import DashboardFigure
    from carts.selectors import carts_counts

    counts = carts_counts()
    carts = reverse("admin:carts_cart_changelist")
    return [
        DashboardFigure("carts", counts["carts"], carts),
        DashboardFigure("items", counts["items"], reverse("admin:carts_item_changelist")),
        DashboardFigure("live share links", counts["shared"], f"{carts}?shared=yes"),
    ]


class CartsConfig(AppConfig):
    name = "carts"
    default_auto_field = "django_mongodb_backend.fields.ObjectIdAutoField"

    def ready(self) -> None:
        from accounts.signals import account_deactivated, account_taken_over
        from buyhive.registries import (
            register_dashboard_panel,
            register_user_data,
            register_user_summary,
        )
        from carts.services import on_account_deactivated, on_account_taken_over
        from carts.user_data import carts_delete, carts_export

        # A takeover revokes every share link made before it (carts.services).
        account_taken_over.connect(on_account_taken_over, dispatch_uid="carts-takeover")
        # So does a deactivation by staff (the admin's action, through accounts.services).
        account_deactivated.connect(on_account_deactivated, dispatch_uid="carts-deactivated")
        # The user admin's "carts" column (accounts may not import carts).
        register_user_summary(
            name="carts", label="carts", counts=_cart_counts, link=_carts_of_user_url
        )
        register_dashboard_panel(name="carts", title="Carts", figures=_dashboard_figures, order=20)
        # GET auth/me/export/ and DELETE auth/me/ (accounts cannot import carts).
        register_user_data(name="carts", export=carts_export, delete=carts_delete)
