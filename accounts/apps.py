from __future__ import annotations

from django.apps import AppConfig


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

        # Any save of a user (deactivation, password change...) drops its cached copy.
        post_save.connect(on_user_saved, sender=User, dispatch_uid="accounts_auth_cache_save")
        post_delete.connect(on_user_saved, sender=User, dispatch_uid="accounts_auth_cache_del")
        # The account's part in GET auth/me/export/ and DELETE auth/me/.
        user_data.register()
