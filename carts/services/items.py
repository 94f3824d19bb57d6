"""Saving products: create or update an item (``item_upsert``), add one to a cart in the
same transaction (``cart_add_item``), edit and delete items."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from celery import current_app
from django.db import IntegrityError
from django.utils import timezone

from buyhive.exceptions import ValidationFailed
from buyhive.product.urls import CanonicalUrl, canonicalize_url
from buyhive.transactions import run_in_transaction
from carts import models as m
from carts.models import Cart, CartItem, Item
from carts.read_model import drop_views, stamp_carts
from carts.selectors import parse_object_id
from carts.services._common import _clean_field, _clean_quantity, _pk, resolve_carts
from carts.services.item_fields import _fit_price, clean_item_data
from carts.services.memberships import _add_membership
from carts.signals import item_corrected
from carts.validation import clean_input_text
from carts.watch import services as watch

logger = structlog.get_logger(__name__)


def _save_item(
    *,
    owner_id: Any,
    cleaned: Mapping[str, Any],
    extraction: dict[str, Any] | None,
    now: Any,
    address: CanonicalUrl | None = None,
    into_carts: Sequence[Any] = (),
    insert_first: bool = False,
) -> tuple[Item, bool]:
    """Create or update the owner's item for ``cleaned["url"]`` (inside a transaction).

    ``address`` is that URL already canonicalised by the caller, if it was. ``into_carts``:
    the ids of the carts the caller puts the item in, in this transaction: a new item is
    created un-orphaned and with them as its ``cart_ids`` (no second write of it).
    ``insert_first``: insert without looking the URL up first (one command less for the
    common case, a new product); when the owner has saved it already, the unique index
    refuses the insert with ``IntegrityError``, which aborts the transaction, and the caller
    retries with ``insert_first=False``.
    """
    address = address if address is not None else CanonicalUrl.of(cleaned["url"])
    canonical = address.canonical_for(cleaned["url"])[: m.URL_MAX]
    item = (
        None
        if insert_first
        else Item.objects.filter(owner_id=owner_id, canonical_url=canonical).first()
    )
    if item is None:
        item = Item(
            owner_id=owner_id,
            created_at=now,
            updated_at=now,
            orphaned_at=None if into_carts else now,
            cart_ids=list(into_carts),
            **cleaned,
        )
        item.use_canonical(address)
        if extraction is not None:
            item.extraction = extraction
        item.save()
        return item, True
    if ("price" in cleaned) != ("currency" in cleaned):
        # Only one of them was sent: the price must fit the currency this item keeps.
        cleaned = dict(cleaned)
        try:
            _fit_price(cleaned, item=item)
        except ValueError as exc:
            raise ValidationFailed(str(exc), fields={"price": [str(exc)]}) from exc
    for key, value in cleaned.items():
        setattr(item, key, value)
    item.use_canonical(address)
    update_fields = [*cleaned, "updated_at"]
    if extraction is not None:
        item.extraction = extraction
        update_fields.append("extraction")
    item.updated_at = now
    item.save(update_fields=update_fields)
    if item.cart_ids and not into_carts:
        # The carts it is in show its fields (read in this transaction, so exactly those);
        # when the caller puts it in carts, the membership write drops them.
        drop_views(cart_ids=item.cart_ids)
    return item, False


def item_upsert(
    *,
    owner: Any,
    data: Mapping[str, Any],
    extraction: dict[str, Any] | None = None,
    cart_ids: Sequence[Any] | None = None,
    address: CanonicalUrl | None = None,
) -> tuple[Item, bool]:
    """Save a product for ``owner``: create it, or update the item with the same canonical URL.

    Returns ``(item, created)`` (``POST items/`` answers 201 or 200). Only the fields in
    ``data`` are written on an update. ``cart_ids`` adds the item to those carts (never
    removes it from others), in the same transaction; ``extraction`` (provenance, checks,
    scores) is set by the extraction app, never by a client. ``address`` is ``data["url"]``
    with its canonical form, when the caller has canonicalised it already.
    """
    cleaned = clean_item_data(data, partial=False)
    carts = resolve_carts(owner=owner, cart_ids=cart_ids) if cart_ids else []

    def work() -> tuple[Item, bool]:
        now = timezone.now()
        item, created = _save_item(
            owner_id=_pk(owner),
            cleaned=cleaned,
            extraction=extraction,
            now=now,
            address=address,
            into_carts=[cart.pk for cart in carts],
        )
        for cart in carts:
            _add_membership(
                cart_id=cart.pk,
                item=item,
                quantity=None,
                note=None,
                now=now,
                in_carts=() if created else None,
                item_written=created,
            )
        return item, created

    try:
        item, created = run_in_transaction(work, label="item_upsert")
    except IntegrityError:
        # A concurrent save of the same product inserted it first: this one updates it.
        item, created = run_in_transaction(work, label="item_upsert")
    logger.info("item_saved", item_id=str(item.pk), created=created, carts=len(carts))
    watch.item_saved(item=item, created=created)
    return item, created


def cart_add_item(
    *,
    cart: Cart,
    item_id: Any = None,
    data: Mapping[str, Any] | None = None,
    quantity: int | None = None,
    note: str | None = None,
) -> tuple[Item, CartItem, bool, bool]:
    """Add an existing item (``item_id``) or a new item's fields (``data``) to ``cart``.

    Returns ``(item, membership, membership_created, item_created)``; an item created here
    is in this cart only, which spares the view a read of its carts. An item already in the
    cart keeps its membership, with the ``quantity``/``note`` given applied. An unknown or foreign
    ``item_id`` is a 400 on ``item_id``.
    """
    if (item_id is None) == (data is None):
        message = "Give either item_id or the new item's fields (url...), not both."
        raise ValidationFailed(message, fields={"item_id": [message]})
    quantity = _clean_quantity(quantity)
    if note is not None:
        note = _clean_field(
            lambda v: clean_input_text(v, max_length=m.NOTE_MAX, multiline=True), note, "note"
        )
    cleaned = clean_item_data(data, partial=False) if data is not None else None
    existing: Item | None = None
    if item_id is not None:
        oid = parse_object_id(item_id)
        existing = Item.objects.filter(pk=oid, owner_id=cart.owner_id).first() if oid else None
        if existing is None:
            message = "Unknown item."
            raise ValidationFailed(message, fields={"item_id": [message]})

    # The first attempt inserts a new product without looking it up (see ``_save_item``);
    # a product saved before fails the insert, and the second attempt finds and updates it.
    insert_first = [existing is None]
    orphaned_at = existing.orphaned_at if existing is not None else None
    read_cart_ids = list(existing.cart_ids or []) if existing is not None else []

    def work() -> tuple[Item, CartItem, bool, bool]:
        now = timezone.now()
        if existing is not None:  # as read, also when an aborted attempt is retried
            existing.orphaned_at, existing.cart_ids = orphaned_at, list(read_cart_ids)
        item_created = False
        if existing is not None:
            item = existing
        else:
            assert cleaned is not None
            item, item_created = _save_item(
                owner_id=cart.owner_id,
                cleaned=cleaned,
                extraction=None,
                now=now,
                into_carts=[cart.pk],
                insert_first=insert_first[0],
            )
        membership, created = _add_membership(
            cart_id=cart.pk,
            item=item,
            quantity=quantity,
            note=note,
            now=now,
            in_carts=() if item_created else None,
            item_written=item_created,
        )
        return item, membership, created, item_created

    try:
        result = run_in_transaction(work, label="cart_add_item")
    except IntegrityError:
        insert_first[0] = False
        result = run_in_transaction(work, label="cart_add_item")
    if existing is None:
        _first_observation_later(result[0])
    return result


def _first_observation_later(item: Item) -> None:
    """Record the price watch's first point of a saved item on the worker; never raises.

    It takes about six commands, which would double an add's cost (issue 16's budget is 6),
    and nothing in the answer depends on it. A broker that is down degrades to recording it
    here, in the request: slower, nothing lost.
    """
    try:
        # By name: carts.tasks imports these services.
        current_app.send_task("carts.watch_item_saved", kwargs={"item_id": str(item.pk)})
    except Exception as exc:  # noqa: BLE001 - any broker failure degrades the same way
        logger.warning("watch_enqueue_failed", error=type(exc).__name__)
        watch.item_saved(item=item, created=False)


def item_update(*, item: Item, data: Mapping[str, Any], by_owner: bool = False) -> Item:
    """Change an item's fields (allow-list ``ITEM_FIELDS``).

    A new ``url`` that canonicalises to another of the owner's items is a 400 on ``url``.
    Memberships keep their price snapshot, so a price change shows against it. ``by_owner``
    (the owner's own ``PATCH``, not staff) announces the changed fields as their correction
    (:data:`carts.signals.item_corrected`).
    """
    cleaned = clean_item_data(data, partial=True, item=item)
    if not cleaned:
        return item
    if "url" in cleaned:
        canonical = canonicalize_url(cleaned["url"])[: m.URL_MAX]
        if (
            canonical != item.canonical_url
            and Item.objects.filter(owner_id=item.owner_id, canonical_url=canonical)
            .exclude(pk=item.pk)
            .exists()
        ):
            message = "You already saved an item with this URL."
            raise ValidationFailed(message, fields={"url": [message]})
    before = watch.view_of(item)
    previous = {key: getattr(item, key, None) for key in cleaned}
    for key, value in cleaned.items():
        setattr(item, key, value)
    item.updated_at = timezone.now()
    try:
        item.save(update_fields=[*cleaned, "updated_at"])
    except IntegrityError as exc:
        message = "You already saved an item with this URL."
        raise ValidationFailed(message, fields={"url": [message]}) from exc
    # After the write and outside a transaction: all of the owner's carts, since the item
    # may have joined a cart since it was read (``carts.read_model``).
    drop_views(owner_ids=[item.owner_id])
    watch.item_edited(item=item, before=before)
    if by_owner:
        changed = {k: v for k, v in cleaned.items() if previous.get(k) != v}
        if changed:
            item_corrected.send(sender=Item, item=item, fields=changed)
    return item


def item_delete(*, item: Item) -> None:
    """Delete an item and its memberships in one transaction."""

    def work() -> None:
        now = timezone.now()
        cart_ids = list(CartItem.objects.filter(item_id=item.pk).values_list("cart_id", flat=True))
        CartItem.objects.filter(item_id=item.pk).delete()
        Item.objects.filter(pk=item.pk).delete()
        stamp_carts(stamped=cart_ids, now=now)

    run_in_transaction(work, label="item_delete")
    logger.info("item_deleted", item_id=str(item.pk))
