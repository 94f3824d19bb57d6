"""What the alerts app holds about a user, for the data export and the account deletion.

Registered in :mod:`buyhive.registries` by :class:`alerts.apps.AlertsConfig`. Deletion runs
inside ``DELETE auth/me/``'s transaction; the digest mails already in the outbox go with the
mail app's own hook (:mod:`buyhive.mail.user_data`).
"""

from __future__ import annotations

from typing import Any

from alerts.models import Alert, Notification
from buyhive.product.money import amount_to_api
from buyhive.registries import export_date


def _amount(value: Any, currency: str | None) -> str | None:
    return None if value is None else amount_to_api(value, currency=currency)


def alerts_export(user: Any) -> dict[str, Any]:
    """The user's alerts and notifications, oldest first: two reads on the owner indexes."""
    alerts = [
        {
            "id": str(alert.pk),
            "item_id": str(alert.item_id),
            "target_price": _amount(alert.target_price, alert.base_currency),
            "drop_percent": None if alert.drop_percent is None else str(alert.drop_percent),
            "back_in_stock": alert.back_in_stock,
            "base_price": _amount(alert.base_price, alert.base_currency),
            "base_currency": alert.base_currency,
            "created_at": export_date(alert.created_at),
            "updated_at": export_date(alert.updated_at),
        }
        for alert in Alert.objects.filter(owner_id=user.pk).order_by("created_at", "pk")
    ]
    notifications = [
        {
            "id": str(note.pk),
            "kind": note.kind,
            "item_id": str(note.item_id),
            "title": note.title,
            "url": note.url,
            "old": note.old,
            "new": note.new,
            "created_at": export_date(note.created_at),
            "read_at": export_date(note.read_at),
        }
        for note in Notification.objects.filter(owner_id=user.pk).order_by("created_at", "pk")
    ]
    return {"alerts": alerts, "notifications": notifications}


def alerts_delete(user: Any) -> int:
    """Delete the user's alerts and notifications; the rows deleted."""
    deleted = Notification.objects.filter(owner_id=user.pk).delete()[0]
    return deleted + Alert.objects.filter(owner_id=user.pk).delete()[0]
