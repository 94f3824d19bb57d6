from __future__ import annotations

from django.apps import AppConfig


class MailConfig(AppConfig):
    """The outbox and the unsubscribe list (their own app so they get their own migrations)."""

    name = "buyhive.mail"
    label = "mail"
    verbose_name = "Mail"
    default_auto_field = "django_mongodb_backend.fields.ObjectIdAutoField"

    def ready(self) -> None:
        from buyhive.mail.user_data import mail_delete
        from buyhive.registries import register_user_data

        # Registered first of the apps, so DELETE auth/me/ runs it last (registries).
        register_user_data(name="mail", delete=mail_delete)
