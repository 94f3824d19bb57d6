"""The outbox (one row per mail, its key making delivery idempotent) and the suppressions."""

from __future__ import annotations

from django.db import models


class OutboundMail(models.Model):
    """One mail to one recipient, written in the sender's transaction and sent by the worker.

    ``key`` is unique: the same logical mail (a share to one address, one reset request)
    written twice is one row, and a delivery task run twice finds it ``sent`` and does
    nothing. The rendered body is dropped once sent; the row stays as the idempotency record
    for ``MAIL_KEEP_SENT_DAYS``.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        SUPPRESSED = "suppressed"
        FAILED = "failed"

    key = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=40)
    to = models.EmailField(max_length=254)
    subject = models.CharField(max_length=255)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    reply_to = models.CharField(max_length=254, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    unsubscribe = models.BooleanField(default=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # Deliveries that found the mail already sent or being sent (replays, redeliveries).
    replays = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the scheduler should enqueue it again if it is still pending (a lost publish).
    reenqueue_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "reenqueue_at"], name="mail_pending_due"),
            models.Index(fields=["status", "sent_at"], name="mail_sent_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} ({self.status})"


class Suppression(models.Model):
    """An address that asked for no more mail of one kind (one-click unsubscribe)."""

    address = models.EmailField(max_length=254)
    kind = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["address", "kind"], name="mail_suppression_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.address}"
