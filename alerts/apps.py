from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.apps import AppConfig


def _dashboard_figures() -> Sequence[Any]:
    """The admin dashboard's alerts panel: two queries (``alerts.selectors.alert_counts``)."""
    from django.utils import timezone

    from alerts.selectors import alert_counts
    from buyhive.registries import DashboardFigure

    counts = alert_counts(since=timezone.now() - timedelta(days=7))
    return [
        DashboardFigure("alerts set", counts["alerts"]),
        DashboardFigure("fired in the last 7 days", counts["fired"]),
        DashboardFigure("mailed in the last 7 days", counts["mailed"]),
    ]


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
        from buyhive.registries import register_dashboard_panel, register_user_data

        # GET auth/me/export/ and DELETE auth/me/ (accounts cannot import this app).
        register_user_data(name="alerts", export=alerts_export, delete=alerts_delete)

        register_dashboard_panel(
            name="alerts", title="Price alerts", figures=_dashboard_figures, order=40
        )
