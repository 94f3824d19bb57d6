"""Writes of alerts and notifications.

Rules (architecture.md, "Price and stock watch (v1)"):

* an alert has at least one condition: ``target_price`` (the price is at or below it),
  ``drop_percent`` (the price is at least that many percent below ``base_price``, the item's
  price when the alert was set) and ``back_in_stock`` (the item can be bought again);
* each condition **fires once when it becomes true and re-arms when it stops being true**;
  a condition already true when the alert is set does not fire (it did not *become* true);
* **a currency change is never a drop:** a price in another currency than the alert's says
  nothing about its price conditions (neither fires nor re-arms them);
* every firing makes one notification, named ``alert : kind : seq`` (``seq`` counts the
  re-arms), so a replayed or duplicated evaluation finds it made and does nothing; changes
  older than the last one evaluated are dropped (``last_event_at``);
* a notification is mailed per the user's ``alert_emails``: at once (``immediate``), in the
  daily digest (``daily``, the default) or never (``off``), through the outbox with a key
  per notification (per digest), so the same crossing never mails twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog
from django.db import IntegrityError
from django.utils import timezone

from alerts.models import KINDS, Alert, Notification
from buyhive.exceptions import ValidationFailed
from buyhive.product.money import MAX_PRICE, amount_to_api, validate_amount
from carts.models import Item
from carts.selectors import parse_object_id

logger = structlog.get_logger(__name__)

__all__ = [
    "IN_STOCK",
    "alert_delete",
    "alert_evaluate",
    "alert_set",
    "clean_alert_input",
    "notifications_mark_read",
]

#: Availability terms under which an item can be bought now.
IN_STOCK: frozenset[str] = frozenset(
    {"InStock", "LimitedAvailability", "OnlineOnly", "InStoreOnly"}
)
_CENT = Decimal("0.01")


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]})


def _decimal(value: Any, field: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal, float)):
        raise _invalid(field, "A valid number is required.")
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise _invalid(field, "A valid number is required.") from exc
    if not amount.is_finite():
        raise _invalid(field, "A valid number is required.")
    return amount


def clean_alert_input(data: Mapping[str, Any], *, currency: str | None = None) -> dict[str, Any]:
    """``{"target_price"?, "drop_percent"?, "back_in_stock"?}``, at least one (else 400).

    ``target_price``: a price above 0 in ``currency`` (the item's), at most its decimals
    (``1500`` JPY, ``19.99`` EUR); ``drop_percent``: above 0 and below 100;
    ``back_in_stock``: a boolean (``false`` is no condition).
    """
    target = _decimal(data.get("target_price"), "target_price")
    if target is not None:
        if not Decimal("0") < target < MAX_PRICE:
            raise _invalid("target_price", "Enter a price above 0.")
        try:
            target = validate_amount(target, currency=currency)
        except ValueError as exc:
            raise _invalid("target_price", str(exc)) from exc
    drop = _decimal(data.get("drop_percent"), "drop_percent")
    if drop is not None:
        if not Decimal("0") < drop < Decimal("100"):
            raise _invalid("drop_percent", "Enter a percentage above 0 and below 100.")
        drop = drop.quantize(_CENT)
    back = data.get("back_in_stock", False)
    if back is None:
        back = False
    if not isinstance(back, bool):
        raise _invalid("back_in_stock", "Must be a valid boolean.")
    if target is None and drop is None and not back:
        message = "Give at least one condition: target_price, drop_percent or back_in_stock."
        raise ValidationFailed(message, fields={"non_field_errors": [message]})
    return {"target_price": target, "drop_percent": drop, "back_in_stock": back}


def _view(item: Any) -> dict[str, Any]:
    return {
        "price": amount_to_api(item.price, currency=item.currency),
        "currency": item.currency or None,
        "availability": item.availability or None,
    }


def _truth(alert: Alert, kind: str, view: Mapping[str, Any]) -> bool | None:
    """Whether ``kind``'s condition holds for ``view``; None when not set or not comparable."""
    if kind == "back_in_stock":
        if not alert.back_in_stock or not view.get("availability"):
            return None
        return view["availability"] in IN_STOCK
    if kind == "target_reached":
        limit = alert.target_price
    else:
        if alert.drop_percent is None or alert.base_price is None:
            return None
        limit = Decimal(alert.base_price) * (Decimal(100) - Decimal(alert.drop_percent)) / 100
    if limit is None or view.get("price") is None:
        return None
    if view.get("currency") != alert.base_currency:
        return None  # a currency change is never a drop
    return Decimal(view["price"]) <= Decimal(limit)


def alert_set(*, item: Item, data: Mapping[str, Any]) -> Alert:
    """Create or replace the alert on ``item`` (its owner's). 400 without a condition.

    ``base_price`` is the item's price now; a price condition needs the item to have a price
    and a currency. Conditions already true now count as fired (they re-arm when they stop
    being true); replacing an alert starts new firings.
    """
    cleaned = clean_alert_input(data, currency=item.currency)
    if (cleaned["target_price"] is not None or cleaned["drop_percent"] is not None) and (
        item.price is None or not item.currency
    ):
        field = "target_price" if cleaned["target_price"] is not None else "drop_percent"
        raise _invalid(field, "This item has no price to compare with yet.")
    now = timezone.now()
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    view = _view(item)
    alert = Alert.objects.filter(item_id=item.pk).first()
    if alert is None:
        alert = Alert(owner_id=item.owner_id, item_id=item.pk, created_at=now)
    alert.target_price = cleaned["target_price"]
    alert.drop_percent = cleaned["drop_percent"]
    alert.back_in_stock = cleaned["back_in_stock"]
    alert.base_price = item.price
    alert.base_currency = item.currency or None
    previous = alert.state or {}
    alert.state = {
        kind: {
            "active": _truth(alert, kind, view) is True,
            "seq": int(previous.get(kind, {}).get("seq", -1)) + 1,
        }
        for kind in KINDS
    }
    alert.last_seen = view
    alert.last_event_at = now
    alert.updated_at = now
    try:
        alert.save()
    except IntegrityError:  # a concurrent first PUT on the same item: this one replaces it
        existing = Alert.objects.get(item_id=item.pk)
        alert.pk = existing.pk
        alert.save()
    logger.info("alert_set", item_id=str(item.pk))
    return alert


def alert_delete(*, alert: Alert) -> None:
    Alert.objects.filter(pk=alert.pk).delete()


def _parse_time(value: Any) -> datetime | None:
    """An ISO time, cut to milliseconds (what MongoDB keeps), so that it compares equal to
    the stored ``last_event_at`` of the same change."""
    try:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)


def alert_evaluate(*, change: Mapping[str, Any]) -> list[Notification]:
    """Evaluate the alert on ``change["item_id"]`` against what its owner now sees.

    ``change`` is one entry of ``carts.watch.signals.item_view_changed``. Returns the
    notifications this call made (none for a replayed or stale change). Safe to run any
    number of times: the firing's notification is created first under its unique key, then
    the alert's state moves only if nobody moved it meanwhile.
    """
    item_id = parse_object_id(change.get("item_id"))
    observed_at = _parse_time(change.get("observed_at"))
    new = dict(change.get("new") or {})
    if item_id is None or observed_at is None:
        return []
    made: list[Notification] = []
    for _attempt in range(3):
        alert = Alert.objects.filter(item_id=item_id).first()
        if alert is None:
            return made
        if alert.last_event_at is not None and observed_at <= alert.last_event_at:
            return made  # stale or replayed
        state = {kind: dict(alert.state.get(kind, {"active": False, "seq": 0})) for kind in KINDS}
        fired: list[str] = []
        for kind in KINDS:
            truth = _truth(alert, kind, new)
            entry = state[kind]
            if truth is True and not entry["active"]:
                entry["active"] = True
                fired.append(kind)
            elif truth is False and entry["active"]:
                entry["active"] = False
                entry["seq"] = int(entry["seq"]) + 1
        if fired:
            made.extend(_notify(alert=alert, kinds=fired, state=state, new=new, at=observed_at))
        moved = Alert.objects.filter(pk=alert.pk, last_event_at=alert.last_event_at).update(
            state=state, last_seen=new, last_event_at=observed_at, updated_at=timezone.now()
        )
        if moved:
            return made
    logger.warning("alert_evaluate_contended", item_id=str(item_id))
    return made


_TITLES = {
    "target_reached": "{title} reached your target price",
    "price_drop": "{title} dropped in price",
    "back_in_stock": "{title} is back in stock",
}


def _notify(
    *, alert: Alert, kinds: list[str], state: dict[str, Any], new: dict[str, Any], at: datetime
) -> list[Notification]:
    from accounts.models import User

    item = Item.objects.filter(pk=alert.item_id).order_by().first()
    if item is None or item.owner_id != alert.owner_id:
        return []
    preference = (
        User.objects.filter(pk=alert.owner_id).values_list("alert_emails", flat=True).first()
    )
    made = []
    for kind in kinds:
        key = f"{alert.pk}:{kind}:{state[kind]['seq']}"
        if Notification.objects.filter(dedupe_key=key).exists():
            continue
        try:
            notification = Notification.objects.create(
                owner_id=alert.owner_id,
                item_id=alert.item_id,
                kind=kind,
                title=_TITLES[kind].format(title=item.title or item.store_domain or "An item")[
                    :500
                ],
                url=item.url,
                old=dict(alert.last_seen or {}),
                new=new,
                created_at=at,
                dedupe_key=key,
                mail=Notification.Mail.SKIPPED
                if preference == "off"
                else Notification.Mail.PENDING,
            )
        except IntegrityError:
            continue  # made by a concurrent run of the same evaluation
        made.append(notification)
        logger.info("alert_fired", kind=kind, item_id=str(alert.item_id))
    return made


def notifications_mark_read(
    *, user: Any, ids: Iterable[Any] | None = None, all_: bool = False
) -> int:
    """Mark the user's notifications read: ``ids`` (unknown or another user's: 400 on
    ``ids``, nothing marked) or ``all_``. Returns how many changed."""
    now = timezone.now()
    owner = getattr(user, "pk", user)
    if all_:
        return Notification.objects.filter(owner_id=owner, read_at__isnull=True).update(read_at=now)
    oids = []
    for raw in ids or []:
        oid = parse_object_id(raw)
        if oid is None:
            raise _invalid("ids", "One or more notifications do not exist.")
        oids.append(oid)
    oids = list(dict.fromkeys(oids))
    found = {
        pk: read_at
        for pk, notification_owner, read_at in Notification.objects.filter(pk__in=oids)
        .order_by()
        .values_list("pk", "owner_id", "read_at")
        if notification_owner == owner
    }
    if len(found) != len(oids):
        raise _invalid("ids", "One or more notifications do not exist.")
    unread = [pk for pk, read_at in found.items() if read_at is None]
    if not unread:
        return 0
    return Notification.objects.filter(pk__in=unread).update(read_at=now)
