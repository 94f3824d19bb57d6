"""Daily caps on share mail: per recipient (from all senders), per account, and global.

Share mail leaves from the service's own address to people who never signed up, so it is
what a spammer or phisher would use us for. Three counters per UTC day bound it, each a
setting (``SHARE_MAILS_PER_RECIPIENT_DAY``, ``SHARE_MAILS_PER_ACCOUNT_DAY``,
``SHARE_MAILS_GLOBAL_DAY``), each answering 429 ``rate_limited`` with ``Retry-After`` (the
seconds to the next UTC midnight) when a share would go past it.

The counters are Redis integers changed with INCRBY through the cache (``cache.incr``, one
atomic command), so concurrent shares in any number of workers can never send more than a
cap: each request adds what it wants to send, and one that went past a cap takes back what
it added and is refused. All or nothing: a refused share sends no mail and keeps no count.
Recipient addresses are hashed in the keys. The cache being down fails closed (503), as the
share's own rate limit does: better no share mail than unbounded share mail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from django.conf import settings
from django.core.cache import cache

from buyhive.exceptions import RateLimited, ServiceUnavailable

logger = structlog.get_logger(__name__)

_KEY_PREFIX = "share-mail-cap"
_KEEP_SECONDS = 2 * 86400  # a day's counters outlive the day, then expire by themselves


@dataclass(frozen=True, slots=True)
class _Cap:
    scope: str  # "recipient" | "account" | "global"
    key: str
    limit: int
    amount: int
    message: str


def _day_and_retry_after(now: datetime) -> tuple[str, int]:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return now.strftime("%Y%m%d"), max(1, int((tomorrow - now).total_seconds()))


def _caps(*, sender_id: Any, recipients: Sequence[str], day: str) -> list[_Cap]:
    caps = [
        _Cap(
            scope="recipient",
            key=f"{_KEY_PREFIX}:{day}:to:{hashlib.sha256(address.encode()).hexdigest()[:32]}",
            limit=settings.SHARE_MAILS_PER_RECIPIENT_DAY,
            amount=1,
            message=(
                "One of these addresses has received as many shared carts as it can today. "
                "Try again tomorrow."
            ),
        )
        for address in recipients
    ]
    caps.append(
        _Cap(
            scope="account",
            key=f"{_KEY_PREFIX}:{day}:user:{sender_id}",
            limit=settings.SHARE_MAILS_PER_ACCOUNT_DAY,
            amount=len(recipients),
            message="You have sent as many shared-cart emails as you can today.",
        )
    )
    caps.append(
        _Cap(
            scope="global",
            key=f"{_KEY_PREFIX}:{day}:global",
            limit=settings.SHARE_MAILS_GLOBAL_DAY,
            amount=len(recipients),
            message="Sharing by email is paused until tomorrow. The share link still works.",
        )
    )
    return caps


def _take_back(taken: list[_Cap]) -> None:
    for cap in taken:
        try:
            cache.decr(cap.key, cap.amount)
        except Exception as exc:  # noqa: BLE001 - a lost give-back only makes a cap stricter
            logger.warning("share_cap_give_back_failed", scope=cap.scope, error=type(exc).__name__)


def share_mail_caps_take(
    *, sender_id: Any, recipients: Sequence[str], now: datetime | None = None
) -> None:
    """Count ``recipients`` (normalised, distinct) against today's caps, or refuse (429).

    Raises :class:`RateLimited` when any cap would be exceeded (nothing stays counted) and
    :class:`ServiceUnavailable` when the counter store is down.
    """
    if not recipients:
        return
    day, retry_after = _day_and_retry_after(now or datetime.now(UTC))
    taken: list[_Cap] = []
    try:
        for cap in _caps(sender_id=sender_id, recipients=recipients, day=day):
            cache.add(cap.key, 0, timeout=_KEEP_SECONDS)
            value = int(cache.incr(cap.key, cap.amount))
            taken.append(cap)
            if value > cap.limit:
                _take_back(taken)
                logger.warning("share_mail_capped", scope=cap.scope, limit=cap.limit)
                raise RateLimited(cap.message, retry_after=retry_after)
    except RateLimited:
        raise
    except Exception as exc:
        _take_back(taken)
        logger.warning("share_cap_store_unavailable", error=type(exc).__name__)
        raise ServiceUnavailable("Temporarily unavailable. Try again shortly.") from exc
