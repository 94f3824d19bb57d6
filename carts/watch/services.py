"""Writes of the price watch: observations, the second-observer rule, the daily roll-up.

The rules (architecture.md, "Price and stock watch (v1)"), and where each is kept:

* **What a user sees** is the item's ``price``/``currency``/``availability``: the user's own
  reports (page views, saves, edits) and other users' *confirmed* ones, whichever is latest.
  An own observation updates the reporter's item at once; another user's item moves only when
  a change is confirmed (:func:`observation_record`).
* **Confirmation:** a value that differs from the product's confirmed state is a pending
  change, remembered with when it was first reported and by which observer (a keyed hash).
  It is confirmed when a *second observer* reports the same value: another account (another
  hash), with a confirmed email, whose item was saved before the change was first reported.
  Then every saver's item takes the value. One user's reports alone never move another user's
  price, whatever they send and however many times.
* **One counted report per user per product per hour** (``WATCH_REPORT_INTERVAL_S``), kept on
  the observer hash; a save or an edit is not a report and does not count against it.
* **Observations do not record who made them** (see ``carts/watch/models.py``).
* Every change of what a user sees is announced through
  :data:`carts.watch.signals.item_view_changed` (the alerts app evaluates alerts on it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from accounts.models import User
from buyhive.product.money import amount_to_api, round_amount
from buyhive.transactions import run_in_transaction
from carts.models import Item
from carts.read_model import drop_views
from carts.watch.matching import observer_hash
from carts.watch.models import DailyPoint, Observation, WatchedProduct
from carts.watch.signals import item_view_changed

logger = structlog.get_logger(__name__)

__all__ = [
    "ObservationOutcome",
    "View",
    "confirmed_series",
    "item_edited",
    "item_saved",
    "observation_record",
    "observations_roll_up",
    "observer_hash",
    "view_of",
]

#: Pending (unconfirmed) changes remembered per product; the oldest is forgotten first.
PENDING_MAX = 20


@dataclass(frozen=True, slots=True)
class View:
    """What a page (or an item) shows: the price, its currency and the availability."""

    price: Decimal | None
    currency: str | None
    availability: str = ""

    @property
    def fingerprint(self) -> str:
        price = amount_to_api(self.price, currency=self.currency) or ""
        return f"{price}|{self.currency or ''}|{self.availability or ''}"

    @property
    def is_empty(self) -> bool:
        return self.price is None and not self.availability

    def as_dict(self) -> dict[str, Any]:
        return {
            "price": amount_to_api(self.price, currency=self.currency),
            "currency": self.currency,
            "availability": self.availability or None,
        }

    def diff(self, other: View) -> dict[str, dict[str, Any]]:
        """``{"price"?: {"from", "to"}, "availability"?: {...}}`` from ``self`` to ``other``.

        A price in another currency is a price change (the contract's ``changed.price``
        carries the amounts; the currency is in the answer itself).
        """
        before, after = self.as_dict(), other.as_dict()
        changed: dict[str, dict[str, Any]] = {}
        if (before["price"], before["currency"]) != (after["price"], after["currency"]):
            changed["price"] = {"from": before["price"], "to": after["price"]}
        if before["availability"] != after["availability"]:
            changed["availability"] = {"from": before["availability"], "to": after["availability"]}
        return changed


def view_of(obj: Any) -> View:
    """The :class:`View` of an item, a product's confirmed state or an observation.

    The price is at its currency's exponent (``1500`` JPY, ``19.90`` EUR), so that two views
    of the same figure compare equal whatever the stored scale.
    """
    currency = obj.currency or None
    price = obj.price
    if price is not None:
        price = round_amount(Decimal(str(price)), currency=currency)
    return View(price=price, currency=currency, availability=obj.availability or "")


def confirmed_series(product_id: Any) -> str:
    """The daily-point series every saver of the product sees."""
    return f"p:{product_id}"


@dataclass
class ObservationOutcome:
    """What :func:`observation_record` did."""

    counted: bool
    view: View
    changed: dict[str, dict[str, Any]] = field(default_factory=dict)
    confirmed: bool = False
    #: Items of other users that took the value (a change confirmed by this observation).
    fanned_out: int = 0


def _product_for(key: str) -> WatchedProduct:
    product = WatchedProduct.objects.filter(key=key).first()
    if product is not None:
        return product
    try:
        return WatchedProduct.objects.create(key=key)
    except IntegrityError:  # created concurrently
        return WatchedProduct.objects.get(key=key)


def _reported_recently(observer: str, now: datetime) -> bool:
    """Whether this observer's last counted report is younger than the interval.

    One indexed read (``observer`` equality, newest first), bounded: saves and edits between
    reports are skipped in memory.
    """
    since = now - timedelta(seconds=settings.WATCH_REPORT_INTERVAL_S)
    recent = (
        Observation.objects.filter(observer=observer)
        .order_by("-observed_at")
        .values_list("kind", "observed_at")[:50]
    )
    for kind, observed_at in recent:
        if observed_at < since:
            return False
        if kind == Observation.Kind.REPORT:
            return True
    return False


def _qualifies(*, owner_id: Any, item: Item, first_reported: datetime) -> bool:
    """A second observer: a confirmed email, and the product saved before the change."""
    if item.created_at >= first_reported:
        return False
    verified = User.objects.filter(pk=owner_id).values_list("email_verified", flat=True).first()
    return bool(verified)


def _apply_view(item_ids: list[Any], owner_ids: list[Any], view: View, now: datetime) -> None:
    """Show ``view`` on the items, then drop their owners' cart views (after the write,
    outside a transaction: a view built before it goes, one built after it shows it)."""
    Item.objects.filter(pk__in=item_ids).update(
        price=view.price, currency=view.currency, availability=view.availability, updated_at=now
    )
    drop_views(owner_ids=owner_ids)


def _announce(changes: list[dict[str, Any]]) -> None:
    if changes:
        item_view_changed.send(sender=Observation, changes=changes)


def _change(
    item_id: Any, owner_id: Any, view: View, observed_at: datetime, event: Any
) -> dict[str, Any]:
    return {
        "item_id": str(item_id),
        "owner_id": str(owner_id),
        "new": view.as_dict(),
        "observed_at": observed_at.isoformat(),
        "event": str(event),
    }


_UNKNOWN = object()


def observation_record(
    *,
    item: Item,
    view: View,
    kind: str,
    before: Any = _UNKNOWN,
    now: datetime | None = None,
) -> ObservationOutcome:
    """Record what ``item``'s owner saw of its page, and move whom it may move.

    ``kind`` is ``report`` (the extension saw the page: at most one counted per user, product
    and ``WATCH_REPORT_INTERVAL_S``), ``save`` or ``edit`` (the item was just written with
    ``view``: never limited). ``before`` is what the owner saw until now: by default the item
    as given (a report); ``None`` when unknown (a re-save), which announces the change anyway.

    Returns the outcome; nothing is recorded (``counted=False``) for a report inside the
    interval. Never records who observed: only the observer hash.
    """
    now = now or timezone.now()
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # what MongoDB keeps
    key = item.watch_key
    if not key or view.is_empty:
        return ObservationOutcome(counted=False, view=view)
    product = _product_for(key)
    observer = observer_hash(user_id=item.owner_id, product_key=key)
    if kind == Observation.Kind.REPORT and _reported_recently(observer, now):
        return ObservationOutcome(counted=False, view=view)
    fingerprint = view.fingerprint

    def decide(current: WatchedProduct) -> tuple[bool, bool, list[dict[str, Any]] | None]:
        """``(confirmed, confirmed_now, new pending list or None when unchanged)``."""
        if current.confirmed_at is not None and view_of(current) == view:
            return True, False, None  # agrees with what everyone sees
        pending = [entry for entry in current.pending if isinstance(entry, dict)]
        entry = next((e for e in pending if e.get("fp") == fingerprint), None)
        if entry is None:
            pending.append({"fp": fingerprint, "first_at": now.isoformat(), "observer": observer})
            return False, False, pending[-PENDING_MAX:]
        if entry.get("observer") != observer and _qualifies(
            owner_id=item.owner_id,
            item=item,
            first_reported=datetime.fromisoformat(entry["first_at"]),
        ):
            return True, True, [e for e in pending if e.get("fp") != fingerprint]
        return False, False, None  # a change already pending, not confirmed by this one

    def insert(current: WatchedProduct, confirmed: bool) -> Observation:
        return Observation.objects.create(
            product=current,
            observer=observer,
            kind=kind,
            observed_at=now,
            price=view.price,
            currency=view.currency,
            availability=view.availability,
            confirmed=confirmed,
        )

    def work() -> tuple[Observation, bool, bool]:
        current = WatchedProduct.objects.get(pk=product.pk)
        confirmed, confirmed_now, pending = decide(current)
        observation = insert(current, confirmed)
        updates: dict[str, Any] = {}
        if pending is not None:
            updates["pending"] = pending
        if confirmed_now:
            updates.update(
                price=view.price,
                currency=view.currency,
                availability=view.availability,
                confirmed_at=now,
            )
        if updates:
            WatchedProduct.objects.filter(pk=current.pk).update(**updates)
        return observation, confirmed, confirmed_now

    # Most reports change nothing about the product (the price everyone sees, or a change
    # this observer already reported): one insert. A new pending change or a confirmation
    # re-reads the product in a transaction, so concurrent reports cannot lose one another.
    confirmed, confirmed_now, pending = decide(product)
    if pending is None and not confirmed_now:
        observation = insert(product, confirmed)
    else:
        observation, confirmed, confirmed_now = run_in_transaction(work, label="observation_record")

    changes: list[dict[str, Any]] = []
    own_before = view_of(item) if before is _UNKNOWN else before
    changed: dict[str, dict[str, Any]] = {}
    if own_before is None:
        changes.append(_change(item.pk, item.owner_id, view, now, observation.pk))
    elif own_before != view:
        changed = own_before.diff(view)
        if view_of(item) != view:
            _apply_view([item.pk], [item.owner_id], view, now)
            item.price, item.currency, item.availability = (
                view.price,
                view.currency,
                view.availability,
            )
        changes.append(_change(item.pk, item.owner_id, view, now, observation.pk))

    fanned_out = 0
    if confirmed_now:
        others = [
            (pk, owner_id)
            for pk, owner_id, price, currency, availability in Item.objects.filter(watch_key=key)
            .order_by()
            .values_list("pk", "owner_id", "price", "currency", "availability")
            if pk != item.pk and view_of(_Row(price, currency, availability)) != view
        ]
        if others:
            _apply_view([pk for pk, _o in others], [owner for _pk, owner in others], view, now)
            changes.extend(_change(pk, owner, view, now, observation.pk) for pk, owner in others)
            fanned_out = len(others)
        logger.info("watch_change_confirmed", product_id=str(product.pk), items=fanned_out)
    _announce(changes)
    return ObservationOutcome(
        counted=True, view=view, changed=changed, confirmed=confirmed, fanned_out=fanned_out
    )


@dataclass(frozen=True, slots=True)
class _Row:
    price: Any
    currency: Any
    availability: Any


def item_saved(*, item: Item, created: bool) -> None:
    """The item was saved (created, or saved again from its page): its owner's observation.

    Saving records the first point of the item's history and is not a counted report. A
    re-save may have changed what the owner sees, so it is announced.
    """
    view = view_of(item)
    if view.is_empty or not item.watch_key:
        return
    observation_record(
        item=item, view=view, kind=Observation.Kind.SAVE, before=view if created else None
    )


def item_edited(*, item: Item, before: View) -> None:
    """The owner corrected the item's price or stock: a correction is their own report
    (not counted against the hourly limit)."""
    view = view_of(item)
    if view == before or view.is_empty or not item.watch_key:
        return
    observation_record(item=item, view=view, kind=Observation.Kind.EDIT, before=before)


# -------------------------------------------------------------------------------------------
# Roll-up (a scheduled job)
# -------------------------------------------------------------------------------------------


def _upsert_point(series: str, day: date, obs: Observation) -> None:
    values = {
        "price": obs.price,
        "currency": obs.currency,
        "availability": obs.availability,
        "observed_at": obs.observed_at,
    }
    existing = DailyPoint.objects.filter(series=series, day=day).first()
    if existing is None:
        try:
            DailyPoint.objects.create(series=series, day=day, **values)
            return
        except IntegrityError:
            existing = DailyPoint.objects.get(series=series, day=day)
    if existing.observed_at <= obs.observed_at:
        DailyPoint.objects.filter(pk=existing.pk).update(**values)


def observations_roll_up(*, now: datetime | None = None, days: int = 2) -> dict[str, int]:
    """Roll raw observations up into daily points, then delete those past ``WATCH_RAW_DAYS``.

    For each product and day (UTC) of the last ``days`` days: the day's last confirmed
    observation becomes the confirmed series' point, and each observer's last own observation
    that was not confirmed becomes their own series' point. Idempotent (an upsert keyed on
    ``(series, day)`` that keeps the latest observation): run it as often as you like; run
    daily with ``days=2`` it never misses a day, and a longer ``days`` catches up after an
    outage. Raw observations older than ``WATCH_RAW_DAYS`` are deleted only after their days
    were rolled up.
    """
    now = now or timezone.now()
    start = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    last: dict[tuple[str, date], Observation] = {}
    for obs in (
        Observation.objects.filter(observed_at__gte=start).order_by("observed_at").iterator()
    ):
        day = obs.observed_at.date()
        series = confirmed_series(obs.product_id) if obs.confirmed else obs.observer
        last[(series, day)] = obs
    for (series, day), obs in last.items():
        _upsert_point(series, day, obs)
    cutoff = now - timedelta(days=settings.WATCH_RAW_DAYS)
    deleted, _ = Observation.objects.filter(observed_at__lt=cutoff).delete()
    logger.info("watch_rolled_up", points=len(last), deleted=deleted)
    return {"points": len(last), "deleted": deleted}


def items_first_observations(*, items: Iterable[Item]) -> int:
    """Record each item's saved price as its first observation (the data migration's work,
    also usable after an import). Items that already have an observation are skipped."""
    recorded = 0
    for item in items:
        view = view_of(item)
        if view.is_empty or not item.watch_key:
            continue
        product = _product_for(item.watch_key)
        observer = observer_hash(user_id=item.owner_id, product_key=item.watch_key)
        if Observation.objects.filter(observer=observer).exists():
            continue
        Observation.objects.create(
            product=product,
            observer=observer,
            kind=Observation.Kind.SAVE,
            observed_at=item.created_at,
            price=view.price,
            currency=view.currency,
            availability=view.availability,
        )
        recorded += 1
    return recorded
