"""Routes of the alerts API, under ``/api/v1/``."""

from __future__ import annotations

from django.urls import URLPattern, path

from alerts import apis

app_name = "alerts"

urlpatterns: list[URLPattern] = [
    path("items/<str:item_id>/alert/", apis.ItemAlertApi.as_view(), name="item-alert"),
    path("notifications/", apis.NotificationListApi.as_view(), name="notification-list"),
    path("notifications/read/", apis.NotificationsReadApi.as_view(), name="notifications-read"),
]
