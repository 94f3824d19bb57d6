"""Reads of the price watch, always scoped to a user.

A user's history of an item is what that user may see: their own observations (their
observer hash for the product) and the confirmed ones (every saver's), one point per UTC day
(the day's last), from the raw observations while they are kept and from the daily points
after. Reads filter on one indexed field each, or an index's prefix (see ``carts.selectors``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta
from typing import Any

from django.utils import timezone

from buyhive.exceptions import ValidationFailed
from carts.models import Item
from carts.watch.matching import DROP_PARAMS, match_key
from carts.watch.models import DailyPoint, Observation, WatchedProduct
from carts.watch.services import View, confirmed_series, observer_hash, view_of

__all__ = [
    "HISTORY_DAYS_DEFAULT",
    "HISTORY_DAYS_MAX",
    "clean_history_days",
    "item_for_page",
    "item_history",
    "watch_urls",
]

HISTORY_DAYS_DEFAULT = 90
HISTORY_DAYS_MAX = 365


def _user_pk(user: Any) -> Any:
    return getattr(user, "pk", user)


def watch_urls(*, user: Any) -> tuple[dict[str, Any], str]:
    """``({"drop_params", "items": [{"item_id", "match"}]}, etag)`` for the extension.

    One read of two fields on the owner index. The ETag is a hash of the body, so it changes
    exactly when an item is saved, re-addressed or deleted.
    """
    rows = sorted(
        (str(pk), key)
        for pk, key in Item.objects.filter(owner_id=_user_pk(user))
        .order_by()
        .values_list("pk", "watch_key")
        if key
    )
    body = {
        "drop_params": list(DROP_PARAMS),
        "items": [{"item_id": pk, "match": key} for pk, key in rows],
    }
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]
    return body, f'"{digest}"'


def item_for_page(*, user: Any, url: str) -> Item | None:
    """The user's item whose page ``url`` is, or None (nothing read beyond the user's keys)."""
    key = match_key(url)
    if not key:
        return None
    ids = [
        pk
        for pk, item_key in Item.objects.filter(owner_id=_user_pk(user))
        .order_by("-created_at")
        .values_list("pk", "watch_key")
        if item_key == key
    ]
    if not ids:
        return None
    item = Item.objects.filter(pk=ids[0]).order_by().first()
    if item is None or item.owner_id != _user_pk(user):
        return None
    return item


def clean_history_days(value: Any) -> int:
    """``?days=``: a whole number from 1 to 365 (default 90); anything else is a 400."""
    if value in (None, ""):
        return HISTORY_DAYS_DEFAULT
    try:
        days = int(str(value))
    except ValueError:
        days = 0
    if not 1 <= days <= HISTORY_DAYS_MAX:
        message = f"Enter a whole number of days from 1 to {HISTORY_DAYS_MAX}."
        raise ValidationFailed(message, fields={"days": [message]})
    return days


def _point(observed_at: datetime, view: View) -> dict[str, Any]:
    return {"observed_at": observed_at, "view": view}


def item_history(
    *, user: Any, item: Item, days: int, now: datetime | None = None
) -> dict[str, Any]:
    """The item's history as this user may see it, one point per day, the last ``days`` days.

    Prices are compared (``lowest``/``highest``) only in the item's current currency: a
    currency change is never a drop.
    """
    if item.owner_id != _user_pk(user):
        raise ValueError("item_history needs the user's own item")
    now = now or timezone.now()
    today = now.date()
    first_day = today - timedelta(days=days - 1)
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=now.tzinfo)
    current_view = view_of(item)
    by_day: dict[date, dict[str, Any]] = {}

    def offer(day: date, observed_at: datetime, view: View) -> None:
        if day < first_day:
            return
        seen = by_day.get(day)
        if seen is None or seen["observed_at"] <= observed_at:
            by_day[day] = _point(observed_at, view)

    product = WatchedProduct.objects.filter(key=item.watch_key).first() if item.watch_key else None
    if product is not None:
        own = observer_hash(user_id=item.owner_id, product_key=product.key)
        shared = confirmed_series(product.pk)
        last_rolled: date | None = None
        for point in DailyPoint.objects.filter(series__in=[shared, own], day__gte=first_day):
            offer(point.day, point.observed_at, view_of(point))
            if point.series == shared and (last_rolled is None or point.day > last_rolled):
                last_rolled = point.day
        for obs in Observation.objects.filter(observer=own, observed_at__gte=start):
            offer(obs.observed_at.date(), obs.observed_at, view_of(obs))
        # Confirmed raw observations only from the last rolled-up day on: older days are in
        # the daily points, so a popular product's read stays small.
        raw_from = start
        if last_rolled is not None:
            raw_from = max(
                start, datetime.combine(last_rolled, datetime.min.time(), tzinfo=now.tzinfo)
            )
        for obs in Observation.objects.filter(product_id=product.pk, observed_at__gte=raw_from):
            if obs.confirmed:
                offer(obs.observed_at.date(), obs.observed_at, view_of(obs))

    points = []
    lowest: dict[str, Any] | None = None
    highest: dict[str, Any] | None = None
    for day in sorted(by_day):
        view = by_day[day]["view"]
        rendered = view.as_dict()
        points.append(
            {
                "date": day.isoformat(),
                "price": rendered["price"],
                "currency": rendered["currency"],
                "availability": rendered["availability"],
            }
        )
        if view.price is None or view.currency != current_view.currency:
            continue
        if lowest is None or view.price < lowest["_price"]:
            lowest = {"price": rendered["price"], "date": day.isoformat(), "_price": view.price}
        if highest is None or view.price > highest["_price"]:
            highest = {"price": rendered["price"], "date": day.isoformat(), "_price": view.price}
    latest = max((entry["observed_at"] for entry in by_day.values()), default=None)
    current = current_view.as_dict()
    return {
        "item_id": str(item.pk),
        "currency": current_view.currency,
        "points": points,
        "lowest": {k: v for k, v in lowest.items() if k != "_price"} if lowest else None,
        "highest": {k: v for k, v in highest.items() if k != "_price"} if highest else None,
        "current": {**current, "observed_at": latest or item.updated_at},
    }
