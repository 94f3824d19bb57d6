"""Reads of alerts and notifications, scoped to a user (and staff-wide counts for the admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet

from alerts.models import Alert, Notification
from buyhive.exceptions import NotFound
from carts.models import Item

__all__ = ["alert_get", "notification_list"]


def alert_get(*, user: Any, item: Item) -> Alert:
    """The alert on the user's ``item``; NotFound when there is none."""
    alert = Alert.objects.filter(item_id=item.pk).first()
    if alert is None or alert.owner_id != getattr(user, "pk", user):
        raise NotFound("This item has no alert.")
    return alert


def notification_list(*, user: Any, unread: bool = False) -> QuerySet[Notification]:
    """The user's notifications, newest first (index ``alerts_notif_owner_created``)."""
    queryset = Notification.objects.filter(owner_id=getattr(user, "pk", user))
    if unread:
        queryset = queryset.filter(read_at__isnull=True)
    return queryset.order_by("-created_at", "-pk")


def alert_counts(*, since: datetime) -> dict[str, int]:
    """Staff-wide (the admin dashboard), two queries: alerts set, and the notifications
    created since ``since`` (``"fired"``) with how many went out by mail (``"mailed"``:
    handed to the outbox)."""
    found = Notification.objects.filter(created_at__gte=since).aggregate(
        fired=Count("pk"), mailed=Count("pk", filter=Q(mail=Notification.Mail.QUEUED))
    )
    return {
        "alerts": Alert.objects.count(),
        "fired": int(found["fired"] or 0),
        "mailed": int(found["mailed"] or 0),
    }
