"""Alert mail: one mail per firing (``immediate``) or one digest (``daily``), via the outbox.

Every mail is written with :func:`buyhive.mail.services.send_templated_mail` under a key that
names what it is about (the notification's own key, or the exact set of notifications of a
digest), so running any of this again, or replaying a task, never mails twice. The mail kind
``price_alert`` is what the one-click unsubscribe link turns off.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import structlog

from accounts.models import User
from alerts.models import Notification
from buyhive.mail.services import send_templated_mail

logger = structlog.get_logger(__name__)

MAIL_KIND = "price_alert"
_PENDING = Notification.Mail.PENDING


def _context(notification: Notification) -> dict[str, Any]:
    return {
        "title": notification.title,
        "url": notification.url,
        "old": notification.old or {},
        "new": notification.new or {},
        "kind": notification.kind,
    }


def _mark(ids: Iterable[Any], state: str) -> None:
    ids = list(ids)
    if ids:
        Notification.objects.filter(pk__in=ids, mail=_PENDING).update(mail=state)


def notifications_mail_now(*, item_id: Any) -> int:
    """Mail the pending notifications about ``item_id`` of users who want them at once.

    Called by the evaluation task after each evaluation (so a replay also mails what a crash
    left unmailed). ``daily`` ones wait for the digest; ``off`` ones are never mailed.
    """
    pending = list(Notification.objects.filter(item_id=item_id, mail=_PENDING))
    if not pending:
        return 0
    users = {
        user.pk: user for user in User.objects.filter(pk__in=list({n.owner_id for n in pending}))
    }
    mailed = 0
    for notification in pending:
        user = users.get(notification.owner_id)
        if user is None or user.alert_emails == "off":
            _mark([notification.pk], Notification.Mail.SKIPPED)
            continue
        if user.alert_emails != "immediate":
            continue
        send_templated_mail(
            kind=MAIL_KIND,
            to=user.email,
            key=f"{MAIL_KIND}:{notification.dedupe_key}",
            template="alerts/email/alert",
            subject=notification.title,
            context=_context(notification),
            unsubscribe=True,
        )
        _mark([notification.pk], Notification.Mail.QUEUED)
        mailed += 1
    return mailed


def notifications_send_digests(*, limit: int = 10_000) -> int:
    """One digest per user with pending notifications (``daily``, and any ``immediate`` one
    whose mail was lost). Returns the number of digests written."""
    pending = list(Notification.objects.filter(mail=_PENDING).order_by("created_at")[:limit])
    by_owner: dict[Any, list[Notification]] = defaultdict(list)
    for notification in pending:
        by_owner[notification.owner_id].append(notification)
    users = {user.pk: user for user in User.objects.filter(pk__in=list(by_owner))}
    sent = 0
    for owner_id, notifications in by_owner.items():
        user = users.get(owner_id)
        ids = [n.pk for n in notifications]
        if user is None or user.alert_emails == "off":
            _mark(ids, Notification.Mail.SKIPPED)
            continue
        digest = hashlib.sha256(",".join(sorted(map(str, ids))).encode()).hexdigest()[:24]
        count = len(notifications)
        subject = notifications[0].title if count == 1 else f"{count} updates on your saved items"
        send_templated_mail(
            kind=MAIL_KIND,
            to=user.email,
            key=f"{MAIL_KIND}:digest:{owner_id}:{digest}",
            template="alerts/email/digest",
            subject=subject,
            context={"notifications": [_context(n) for n in notifications]},
            unsubscribe=True,
        )
        _mark(ids, Notification.Mail.QUEUED)
        sent += 1
    if sent:
        logger.info("alert_digests_written", digests=sent, notifications=len(pending))
    return sent
