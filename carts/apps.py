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


class CartsConfig(AppConfig):
    name = "carts"
    default_auto_field = "django_mongodb_backend.fields.ObjectIdAutoField"

    def ready(self) -> None:
        from accounts.signals import account_taken_over
        from buyhive.registries import register_user_data, register_user_summary
        from carts.services import on_account_taken_over
        from carts.user_data import carts_delete, carts_export

        # A takeover revokes every share link made before it (carts.services).
        account_taken_over.connect(on_account_taken_over, dispatch_uid="carts-takeover")
        # The user admin's "carts" column (accounts may not import carts).
        register_user_summary(
            name="carts", label="carts", counts=_cart_counts, link=_carts_of_user_url
        )
        # GET auth/me/export/ and DELETE auth/me/ (accounts cannot import carts).
        register_user_data(name="carts", export=carts_export, delete=carts_delete)
