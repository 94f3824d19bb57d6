"""Writing mail into the outbox, delivering it once, and the scheduler's outbox chores.

Every outgoing mail goes through :func:`send_templated_mail`: it renders the message in the
caller's process, writes one :class:`OutboundMail` row per recipient under a unique key
(inside the caller's transaction when there is one), and publishes the delivery task after
the commit. The request answers at once; the worker sends.

Delivery is at least once on both brokers, so :func:`deliver` claims the row with one atomic
update (``pending`` -> ``sending``) before sending: a replayed or duplicated task finds it
``sent`` (or claimed by another worker) and sends nothing. The one window left is a worker
dying after the mail server accepted the mail and before the row says ``sent``; the claim's
lease (``MAIL_CLAIM_LEASE``) then lets a later delivery send it again, a duplicate we accept
rather than a lost mail.

If publishing fails (broker down), the row stays ``pending`` and the scheduler's
:func:`flush_outbox` publishes it again within a minute of the broker coming back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError
from django.db.models import F, Q
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone
from django_mongodb_backend.transaction import on_commit

from buyhive.mail.models import OutboundMail
from buyhive.mail.unsubscribe import (
    is_suppressed,
    normalize_address,
    unsubscribe_headers,
    unsubscribe_url,
)

logger = structlog.get_logger(__name__)

DELIVER_TASK = "buyhive.mail.deliver"
#: A claim older than this is taken to belong to a dead worker; the mail may be sent again.
MAIL_CLAIM_LEASE = timedelta(minutes=10)
_Status = OutboundMail.Status


def _one_line(text: str, limit: int) -> str:
    return " ".join((text or "").split())[:limit]


def send_templated_mail(
    *,
    kind: str,
    to: str,
    key: str,
    template: str,
    context: Mapping[str, Any],
    subject: str | None = None,
    reply_to: str = "",
    unsubscribe: bool = False,
) -> OutboundMail | None:
    """Queue one mail to ``to``: rendered now, sent by the worker after the commit.

    - ``kind``: what the mail is (``cart_share``, ``password_reset``, ``email_confirmation``,
      ``price_alert``...): the unit a recipient unsubscribes from.
    - ``key``: the idempotency key, unique across all mail (prefix it with the kind). The
      same key queued again returns the first row and sends nothing more.
    - ``template``: renders ``<template>.txt`` and, when it exists, ``<template>.html``;
      without ``subject``, also ``<template>_subject.txt``.
    - ``unsubscribe``: give it for every mail to someone who is not the account's owner
      (share recipients) and for optional mail (alerts, digests). The context then has
      ``unsubscribe_url``, the message carries ``List-Unsubscribe`` and
      ``List-Unsubscribe-Post``, and an address that unsubscribed from ``kind`` gets nothing
      (None is returned).
    """
    address = normalize_address(to)
    if unsubscribe and is_suppressed(address=address, kind=kind):
        logger.info("mail_suppressed", kind=kind)
        return None
    existing = OutboundMail.objects.filter(key=key).first()
    if existing is not None:
        return existing
    full_context = {"site_name": settings.SITE_NAME, **context}
    headers: dict[str, str] = {}
    if unsubscribe:
        link = unsubscribe_url(address=address, kind=kind)
        full_context["unsubscribe_url"] = link
        headers = unsubscribe_headers(link)
    if subject is None:
        subject = render_to_string(f"{template}_subject.txt", full_context)
    body_html: str
    try:
        body_html = render_to_string(f"{template}.html", full_context)
    except TemplateDoesNotExist:  # a text-only mail
        body_html = ""
    mail = OutboundMail(
        key=key,
        kind=kind,
        to=address,
        subject=_one_line(subject, 255),
        body_text=render_to_string(f"{template}.txt", full_context),
        body_html=body_html,
        reply_to=reply_to,
        headers=headers,
        unsubscribe=unsubscribe,
        reenqueue_at=timezone.now() + timedelta(seconds=settings.MAIL_REENQUEUE_AFTER_SECONDS),
    )
    try:
        mail.save()
    except IntegrityError:  # the same key written concurrently: that row is the mail
        return OutboundMail.objects.filter(key=key).first()
    mail_id = str(mail.pk)
    on_commit(lambda: enqueue_delivery(mail_id=mail_id))
    return mail


def enqueue_delivery(*, mail_id: str) -> bool:
    """Publish the delivery task; on failure, mark the row due for the scheduler's flush.

    Never raises: the caller's write has committed and its request must still answer.
    """
    from buyhive.celery import app

    try:
        app.send_task(DELIVER_TASK, kwargs={"mail_id": mail_id})
    except Exception as exc:  # noqa: BLE001 - any broker failure degrades the same way
        logger.warning("mail_enqueue_failed", mail_id=mail_id, error=type(exc).__name__)
        OutboundMail.objects.filter(pk=mail_id, status=_Status.PENDING).update(
            reenqueue_at=timezone.now()
        )
        return False
    return True


def _claim(mail_id: Any) -> bool:
    now = timezone.now()
    claimable = Q(status=_Status.PENDING) | Q(
        status=_Status.SENDING, claimed_at__lt=now - MAIL_CLAIM_LEASE
    )
    claimed = (
        OutboundMail.objects.filter(claimable, pk=mail_id)
        .order_by()
        .update(status=_Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )
    return bool(claimed)


def _message(mail: OutboundMail) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=mail.subject,
        body=mail.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[mail.to],
        reply_to=[mail.reply_to] if mail.reply_to else None,
        headers=dict(mail.headers or {}),
    )
    if mail.body_html:
        message.attach_alternative(mail.body_html, "text/html")
    return message


class DeliveryFailed(Exception):
    """The mail server refused or failed; the task retries with backoff."""

    def __init__(self, attempts: int, error: str) -> None:
        super().__init__(error)
        self.attempts = attempts


def deliver(*, mail_id: str) -> str:
    """Send one outbox mail unless it was sent (or is being sent) already.

    Returns what happened: ``sent``, ``replay`` (already sent or claimed: nothing sent),
    ``missing``, ``suppressed`` or ``failed`` (out of attempts). Raises
    :class:`DeliveryFailed` when the send failed and another attempt is due.
    """
    try:
        mail = OutboundMail.objects.get(pk=mail_id)
    except (OutboundMail.DoesNotExist, DjangoValidationError, ValueError, TypeError):
        logger.warning("mail_missing", mail_id=mail_id)
        return "missing"
    if not _claim(mail.pk):
        OutboundMail.objects.filter(pk=mail.pk).update(replays=F("replays") + 1)
        logger.info("mail_replay_skipped", mail_id=mail_id, status=mail.status)
        return "replay"
    mail.refresh_from_db()
    if mail.unsubscribe and is_suppressed(address=mail.to, kind=mail.kind):
        OutboundMail.objects.filter(pk=mail.pk).update(
            status=_Status.SUPPRESSED, body_text="", body_html=""
        )
        return "suppressed"
    try:
        connection = get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT)
        connection.send_messages([_message(mail)])
    except Exception as exc:  # noqa: BLE001 - SES, SMTP and network errors all retry
        error = f"{type(exc).__name__}: {exc}"[:255]
        out_of_attempts = mail.attempts >= settings.MAIL_MAX_ATTEMPTS
        OutboundMail.objects.filter(pk=mail.pk).update(
            status=_Status.FAILED if out_of_attempts else _Status.PENDING,
            last_error=error,
            claimed_at=None,
        )
        logger.warning(
            "mail_send_failed", mail_id=mail_id, attempts=mail.attempts, error=type(exc).__name__
        )
        if out_of_attempts:
            return "failed"
        raise DeliveryFailed(mail.attempts, error) from exc
    now = timezone.now()
    OutboundMail.objects.filter(pk=mail.pk).update(
        status=_Status.SENT, sent_at=now, body_text="", body_html="", last_error=""
    )
    logger.info(
        "mail_sent",
        mail_id=mail_id,
        kind=mail.kind,
        latency_ms=round((now - mail.created_at).total_seconds() * 1000, 1),
    )
    return "sent"


def flush_outbox(*, limit: int = 500) -> int:
    """Publish again the pending mails that are due (a publish that failed or was lost)."""
    now = timezone.now()
    due = list(
        OutboundMail.objects.filter(status=_Status.PENDING, reenqueue_at__lte=now)
        .order_by("reenqueue_at")
        .values_list("pk", flat=True)[:limit]
    )
    published = 0
    later = now + timedelta(seconds=settings.MAIL_REENQUEUE_AFTER_SECONDS)
    for pk in due:
        OutboundMail.objects.filter(pk=pk, status=_Status.PENDING).update(reenqueue_at=later)
        if enqueue_delivery(mail_id=str(pk)):
            published += 1
    if due:
        logger.info("mail_outbox_flushed", due=len(due), published=published)
    return published


def purge_sent(*, older_than_days: int | None = None) -> int:
    """Delete idempotency records of mail sent (or suppressed) long ago."""
    days = settings.MAIL_KEEP_SENT_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = OutboundMail.objects.filter(
        Q(status=_Status.SENT, sent_at__lt=cutoff)
        | Q(status__in=[_Status.SUPPRESSED, _Status.FAILED], created_at__lt=cutoff)
    ).delete()
    return int(deleted)
