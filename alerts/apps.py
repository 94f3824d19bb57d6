from __future__ import annotations

from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Price and stock alerts and the notifications they leave (above extraction).

    Carts announces what users see through ``carts.watch.signals.item_view_changed``; this
    app connects to it when it starts and evaluates alerts in a queued task.
    """

    name = "alerts"
    default_auto_field = "django_mongodb_backend.fields.ObjectIdAutoField"

    def ready(self) -> None:
        from alerts import receivers  # noqa: F401 - connects the signal receivers
        from alerts.user_data import alerts_delete, alerts_export
        from buyhive.registries import register_user_data

        # GET auth/me/export/ and DELETE auth/me/ (accounts cannot import this app).
        register_user_data(name="alerts", export=alerts_export, delete=alerts_delete)
