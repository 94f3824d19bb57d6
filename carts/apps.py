from __future__ import annotations

from django.apps import AppConfig


class CartsConfig(AppConfig):
    name = "carts"
    default_auto_field = "django_mongodb_backend.fields.ObjectIdAutoField"

    def ready(self) -> None:
        from accounts.signals import account_taken_over
        from carts.services import on_account_taken_over

        # A takeover revokes every share link made before it (carts.services).
        account_taken_over.connect(on_account_taken_over, dispatch_uid="carts-takeover")
