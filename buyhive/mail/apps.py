from __future__ import annotations

from django.apps import AppConfig


class MailConfig(AppConfig):
    """The outbox and the unsubscribe list (their own app so they get their own migrations)."""

    name = "buyhive.mail"
    label = "mail"
    verbose_name = "Mail"
    default_auto_field = "django_mongodb_backend.fields.ObjectIdAutoField"
