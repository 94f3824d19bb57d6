"""Alerts (one per item) and notifications, laid out for MongoDB.

``alerts_alert``: the conditions a user set on one item, the price they are measured from
(``base_price``) and, per condition, whether it is currently true (``state[kind]["active"]``)
and how many times it re-armed (``state[kind]["seq"]``): a firing is named by
``alert id : kind : seq``, so the same crossing can never make two notifications, even when
a task is replayed. ``last_event_at`` orders the changes: an older or replayed change is
dropped.

``alerts_notification``: what the user is told, unique per firing (``dedupe_key``), with
whether it was mailed.

No foreign key to ``carts.Item`` (``item_id`` is a plain ObjectId): a delete of an item need
not look here, and a notification outlives the item it was about.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_mongodb_backend.fields import ObjectIdField

from buyhive.product.money import MAX_EXPONENT

KIND_CHOICES: list[tuple[str, str]] = [
    ("target_reached", "Target price reached"),
    ("price_drop", "Price drop"),
    ("back_in_stock", "Back in stock"),
]
KINDS: tuple[str, ...] = tuple(kind for kind, _label in KIND_CHOICES)


class Alert(models.Model):
    owner_id: Any  # for type checkers (see carts.models.Cart)

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    item_id = ObjectIdField(unique=True)
    target_price = models.DecimalField(
        max_digits=9 + MAX_EXPONENT, decimal_places=MAX_EXPONENT, null=True, blank=True
    )
    drop_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    back_in_stock = models.BooleanField(default=False)
    #: The item's price and currency when the alert was set (what ``drop_percent`` and
    #: ``target_price`` are measured in).
    base_price = models.DecimalField(
        max_digits=9 + MAX_EXPONENT, decimal_places=MAX_EXPONENT, null=True, blank=True
    )
    base_currency = models.CharField(max_length=3, null=True, blank=True)
    #: ``{kind: {"active": bool, "seq": int}}``.
    state = models.JSONField(default=dict, blank=True)
    #: What the user saw at the last evaluation: the ``old`` of the next notification.
    last_seen = models.JSONField(default=dict, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["owner", "created_at"], name="alerts_alert_owner")]

    def __str__(self) -> str:
        return f"alert on {self.item_id}"


class Notification(models.Model):
    class Mail(models.TextChoices):
        PENDING = "pending"  # to be mailed (at once or in the next digest)
        QUEUED = "queued"  # handed to the outbox
        SKIPPED = "skipped"  # the user's alert_emails is "off"

    owner_id: Any

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    item_id = ObjectIdField()
    kind = models.CharField(max_length=20, choices=KIND_CHOICES)
    title = models.CharField(max_length=500, blank=True)
    url = models.CharField(max_length=2048, blank=True)
    old = models.JSONField(default=dict)
    new = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    #: ``alert id : kind : seq``: one notification per firing.
    dedupe_key = models.CharField(max_length=100, unique=True)
    mail = models.CharField(max_length=8, choices=Mail.choices, default=Mail.PENDING)

    class Meta:
        indexes = [
            models.Index(fields=["owner", "created_at"], name="alerts_notif_owner_created"),
            models.Index(fields=["mail", "created_at"], name="alerts_notif_mail"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.item_id}"
