"""Writes on carts, items and memberships.

Every function is keyword-only and takes objects already scoped to their owner (views get
them from ``carts.selectors``). Ids that arrive in a body (``cart_ids``, ``item_id``) are
resolved here against the owner, and an unknown or foreign one is the same 400 on that
field.

Invariants, enforced here and by the unique indexes in ``carts/models.py``:

* a cart name is unique per owner, compared with ``normalize_cart_name`` (400 on ``name``);
* an item is unique per ``(owner, canonical_url)``: saving the same product again updates it;
* a membership is unique per ``(cart, item)``, and a cart, its items and its memberships
  always have the same owner: nothing can put an item into someone else's cart;
* a user has at most ``MAX_CARTS_PER_USER`` carts and a cart at most ``MAX_ITEMS_PER_CART``
  items (409 ``limit_exceeded``), exactly, even under concurrent requests: the write that
  could cross a cap first writes a document every competing write also writes (the cart for
  its items, the ``CartOwner`` row for carts), so concurrent transactions conflict, the loser
  is retried (``buyhive.transactions``) and counts again in a fresh snapshot;
* deleting a cart removes its memberships, never its items; an item that is left in no cart
  gets ``orphaned_at`` (``purge_orphan_items`` deletes it after a while);
* a membership keeps the price and currency the item had when it was added.

Every multi-document write runs in one transaction (``run_in_transaction``), so a failure
halfway (a cap reached on the second of three carts) leaves everything as it was.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import structlog
from celery import current_app
from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from accounts.services import email_confirmation_on_refused_share
from buyhive.exceptions import EmailUnverified, LimitExceeded, NotFound, ValidationFailed
from buyhive.product.money import parse_amount, validate_amount
from buyhive.product.urls import CanonicalUrl, canonicalize_url
from buyhive.transactions import run_in_transaction
from carts import emails as share_emails
from carts import models as m
from carts.models import Cart, CartItem, CartOwner, Item, normalize_cart_name
from carts.selectors import cart_summaries, membership_rows, parse_object_id
from carts.share_caps import share_mail_caps_take
from carts.signals import item_corrected
from carts.validation import (
    clean_availability,
    clean_cart_name,
    clean_currency,
    clean_http_url,
    clean_input_text,
    clean_variant,
)
from carts.watch import services as watch

logger = structlog.get_logger(__name__)

__all__ = [
    "ITEM_FIELDS",
    "cart_add_item",
    "cart_create",
    "cart_delete",
    "cart_share_by_email",
    "cart_share_link_create",
    "cart_share_link_revoke",
    "cart_share_links_revoke_all",
    "cart_update",
    "carts_close_after_takeover",
    "clean_item_data",
    "item_add_to_cart",
    "item_delete",
    "item_remove_from_cart",
    "item_set_carts",
    "item_update",
    "item_upsert",
    "items_delete_orphans",
    "resolve_carts",
    "share_url",
]

#: Item fields a client (or the extraction app) may set. ``owner``, ``canonical_url``,
#: ``store_domain``, ``extraction``, ``orphaned_at`` and the times are never among them.
ITEM_FIELDS: tuple[str, ...] = (
    "url",
    "title",
    "brand",
    "description",
    "price",
    "currency",
    "price_raw",
    "image_url",
    "availability",
    "sku",
    "gtin",
    "mpn",
    "variant",
)


def _optional_url(value: Any) -> str:
    return "" if value in (None, "") else clean_http_url(value)


_ITEM_CLEANERS: dict[str, Callable[[Any], Any]] = {
    "url": clean_http_url,
    "title": lambda v: clean_input_text(v, max_length=m.TITLE_MAX),
    "brand": lambda v: clean_input_text(v, max_length=m.BRAND_MAX),
    "description": lambda v: clean_input_text(v, max_length=m.DESCRIPTION_MAX, multiline=True),
    # The amount alone here; whether its decimals fit its currency is ``_fit_price``'s check.
    "price": parse_amount,
    "currency": clean_currency,
    "price_raw": lambda v: clean_input_text(v, max_length=m.PRICE_RAW_MAX),
    "image_url": _optional_url,
    "availability": clean_availability,
    "sku": lambda v: clean_input_text(v, max_length=m.IDENTIFIER_MAX),
    "gtin": lambda v: clean_input_text(v, max_length=m.IDENTIFIER_MAX),
    "mpn": lambda v: clean_input_text(v, max_length=m.IDENTIFIER_MAX),
    "variant": clean_variant,
}


def clean_item_data(
    data: Mapping[str, Any], *, partial: bool, item: Item | None = None
) -> dict[str, Any]:
    """Validate and normalise item fields (see ``carts.validation``).

    Unknown keys are refused, so that nothing else (``owner``...) can be set through here.
    ``partial=False`` requires ``url``. A price must fit its currency (the one sent with it,
    else ``item``'s, see :func:`_fit_price`). Raises ValidationFailed with every bad field.
    """
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for key, value in data.items():
        cleaner = _ITEM_CLEANERS.get(key)
        if cleaner is None:
            errors[key] = ["This field cannot be set."]
            continue
        try:
            cleaned[key] = cleaner(value)
        except ValueError as exc:
            errors[key] = [str(exc)]
    if not partial and "url" not in data:
        errors["url"] = ["This field is required."]
    if not errors.keys() & {"price", "currency"}:
        try:
            _fit_price(cleaned, item=item)
        except ValueError as exc:
            errors["price"] = [str(exc)]
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], fields=errors)
    return cleaned


def _fit_price(cleaned: dict[str, Any], *, item: Item | None) -> None:
    """Put ``cleaned["price"]`` at exactly its currency's exponent, in place.

    The currency is the one sent with the price, else the item's current one. A price with
    more decimals than that currency has (``1500.5`` JPY, ``9.999`` USD) is refused
    (:class:`ValueError`, reported on ``price``), never rounded: a client's figure is not
    ours to change. A new currency alone re-checks the item's current price, and rewrites it
    at the new exponent when it fits (``10.00`` USD becoming JPY is stored as ``10``).
    """
    if "price" not in cleaned and "currency" not in cleaned:
        return
    currency = cleaned["currency"] if "currency" in cleaned else getattr(item, "currency", None)
    price = cleaned["price"] if "price" in cleaned else getattr(item, "price", None)
    if price is None:
        return
    fitted = validate_amount(price, currency=currency)
    if fitted is None:
        return
    if "price" in cleaned or fitted.as_tuple() != Decimal(price).as_tuple():
        cleaned["price"] = fitted


def _clean_field(cleaner: Callable[[Any], Any], value: Any, field: str) -> Any:
    try:
        return cleaner(value)
    except ValueError as exc:
        raise ValidationFailed(str(exc), fields={field: [str(exc)]}) from exc


def _clean_quantity(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= m.QUANTITY_MAX:
        message = f"Enter a whole number from 1 to {m.QUANTITY_MAX}."
        raise ValidationFailed(message, fields={"quantity": [message]})
    return value


def _pk(owner: Any) -> Any:
    """A user's pk from a user or a pk (services accept either for ``owner``)."""
    return getattr(owner, "pk", owner)


def _duplicate_name() -> ValidationFailed:
    message = "You already have a cart with this name."
    return ValidationFailed(message, fields={"name": [message]})


def _unknown_carts() -> ValidationFailed:
    message = "One or more carts do not exist."
    return ValidationFailed(message, fields={"cart_ids": [message]})


def resolve_carts(*, owner: Any, cart_ids: Iterable[Any]) -> list[Cart]:
    """The owner's carts for ``cart_ids``, in the order given, duplicates dropped.

    An id that is malformed, unknown or another user's gives one and the same 400 on
    ``cart_ids``, so that the answer says nothing about other users' carts.
    """
    if isinstance(cart_ids, (str, bytes)):
        raise _unknown_carts()
    oids = []
    for raw in cart_ids:
        oid = parse_object_id(raw)
        if oid is None:
            raise _unknown_carts()
        oids.append(oid)
    oids = list(dict.fromkeys(oids))
    if len(oids) > settings.MAX_CARTS_PER_USER:
        raise _unknown_carts()
    if not oids:
        return []
    owner_pk = _pk(owner)
    found = {
        cart.pk: cart
        for cart in Cart.objects.filter(pk__in=oids).order_by()
        if cart.owner_id == owner_pk
    }
    if len(found) != len(oids):
        raise _unknown_carts()
    return [found[oid] for oid in oids]


# -------------------------------------------------------------------------------------------
# Carts
# -------------------------------------------------------------------------------------------


def _ensure_cart_owner(owner: Any) -> None:
    """Create the owner's ``CartOwner`` row once, outside any transaction.

    A duplicate-key error aborts a MongoDB transaction, so the row is made before it; a
    concurrent creation losing the race is harmless.
    """
    if CartOwner.objects.filter(owner=owner).exists():
        return
    with contextlib.suppress(IntegrityError):
        CartOwner.objects.create(owner=owner)


def cart_create(*, owner: Any, name: Any, description: Any = "") -> Cart:
    """Create a cart. 400 on a duplicate name, 409 past ``MAX_CARTS_PER_USER``."""
    name = _clean_field(clean_cart_name, name, "name")
    description = _clean_field(
        lambda v: clean_input_text(v, max_length=m.CART_DESCRIPTION_MAX, multiline=True),
        description,
        "description",
    )
    key = normalize_cart_name(name)
    _ensure_cart_owner(owner)

    def work() -> Cart:
        now = timezone.now()
        # The serialisation point for the cap (see CartOwner).
        CartOwner.objects.filter(owner=owner).update(touched_at=now)
        cap = settings.MAX_CARTS_PER_USER
        if Cart.objects.filter(owner=owner).count() >= cap:
            raise LimitExceeded(f"You can have at most {cap} carts.")
        if Cart.objects.filter(owner=owner, name_lower=key).exists():
            raise _duplicate_name()
        return Cart.objects.create(
            owner=owner, name=name, description=description, created_at=now, updated_at=now
        )

    try:
        cart = run_in_transaction(work, label="cart_create")
    except IntegrityError as exc:
        raise _duplicate_name() from exc
    logger.info("cart_created", cart_id=str(cart.pk))
    return cart


def cart_update(*, cart: Cart, name: Any = None, description: Any = None) -> Cart:
    """Rename and/or re-describe a cart (``None`` leaves a field as it is)."""
    changed: list[str] = []
    if name is not None:
        name = _clean_field(clean_cart_name, name, "name")
        key = normalize_cart_name(name)
        if (
            key != cart.name_lower
            and Cart.objects.filter(owner_id=cart.owner_id, name_lower=key)
            .exclude(pk=cart.pk)
            .exists()
        ):
            raise _duplicate_name()
        cart.name = name
        changed.append("name")
    if description is not None:
        cart.description = _clean_field(
            lambda v: clean_input_text(v, max_length=m.CART_DESCRIPTION_MAX, multiline=True),
            description,
            "description",
        )
        changed.append("description")
    if not changed:
        return cart
    cart.updated_at = timezone.now()
    try:
        cart.save(update_fields=[*changed, "updated_at"])
    except IntegrityError as exc:
        raise _duplicate_name() from exc
    return cart


def _mark_orphans(item_ids: Iterable[Any], now: Any) -> None:
    """Stamp ``orphaned_at`` on those of ``item_ids`` that are now in no cart."""
    ids = list(dict.fromkeys(item_ids))
    if not ids:
        return
    still_in_a_cart = set(
        CartItem.objects.filter(item_id__in=ids).values_list("item_id", flat=True)
    )
    orphans = [pk for pk in ids if pk not in still_in_a_cart]
    if orphans:
        unmarked = [
            pk
            for pk, orphaned_at in Item.objects.filter(pk__in=orphans).values_list(
                "pk", "orphaned_at"
            )
            if orphaned_at is None
        ]
        if unmarked:
            Item.objects.filter(pk__in=unmarked).update(orphaned_at=now)


def cart_delete(*, cart: Cart) -> None:
    """Delete a cart and its memberships, in one transaction. Its items stay."""

    def work() -> None:
        now = timezone.now()
        item_ids = list(CartItem.objects.filter(cart_id=cart.pk).values_list("item_id", flat=True))
        CartItem.objects.filter(cart_id=cart.pk).delete()
        Cart.objects.filter(pk=cart.pk).delete()
        _mark_orphans(item_ids, now)

    run_in_transaction(work, label="cart_delete")
    logger.info("cart_deleted", cart_id=str(cart.pk))


def share_url(token: str) -> str:
    """The public read-only address of a shared cart."""
    return f"{settings.PUBLIC_BASE_URL}/api/v1/shared/{token}/"


def cart_share_link_create(*, cart: Cart) -> tuple[str, bool]:
    """The cart's share token, created when it has none: ``(token, created)``.

    The token is ``secrets.token_urlsafe(32)`` (256 random bits). Setting it is a
    conditional update, so two concurrent calls agree on one token.
    """
    if cart.share_token:
        return cart.share_token, False
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    updated = Cart.objects.filter(pk=cart.pk, share_token__isnull=True).update(
        share_token=token, shared_at=now
    )
    if not updated:
        cart.refresh_from_db(fields=["share_token", "shared_at"])
        if cart.share_token:
            return cart.share_token, False
        raise NotFound("Cart not found.")
    cart.share_token, cart.shared_at = token, now
    logger.info("cart_share_link_created", cart_id=str(cart.pk))
    return token, True


def cart_share_link_revoke(*, cart: Cart) -> bool:
    """Revoke the public link (the old token stops working). False when there was none."""
    updated = Cart.objects.filter(pk=cart.pk, share_token__isnull=False).update(
        share_token=None, shared_at=None
    )
    cart.share_token, cart.shared_at = None, None
    if updated:
        logger.info("cart_share_link_revoked", cart_id=str(cart.pk))
    return bool(updated)


def cart_share_links_revoke_all(*, owner: Any) -> int:
    """Revoke every share link of ``owner``'s carts (the public tokens stop working at once).

    For moderation: a deactivated account must not keep publishing carts. Answers how many
    links were live.
    """
    revoked = Cart.objects.filter(owner=owner, share_token__isnull=False).update(
        share_token=None, shared_at=None
    )
    if revoked:
        logger.info("cart_share_links_revoked", user_id=str(_pk(owner)), revoked=revoked)
    return int(revoked)


def on_account_deactivated(sender: Any, user: Any, **_: Any) -> dict[str, int]:
    """Receiver of ``accounts.signals.account_deactivated`` (connected in CartsConfig.ready)."""
    return {"share_links_revoked": cart_share_links_revoke_all(owner=user)}


def carts_close_after_takeover(*, owner: Any) -> dict[str, int]:
    """After a takeover of ``owner``'s account, nothing made before stays public.

    A verified Google sign-in took over an account whose address was never verified
    (``accounts.signals.account_taken_over``): whoever registered it first may have made
    carts and shared them, and a share link keeps showing whatever the real owner adds
    later. Every share link of the account is revoked (the tokens stop working); the carts
    and items stay, as the owner's, and are counted so the sign-in answer can say what was
    already there: ``{"carts", "items", "share_links_revoked"}``.
    """
    revoked = Cart.objects.filter(owner=owner, share_token__isnull=False).update(
        share_token=None, shared_at=None
    )
    summary = {
        "carts": Cart.objects.filter(owner=owner).count(),
        "items": Item.objects.filter(owner=owner).count(),
        "share_links_revoked": revoked,
    }
    logger.warning("carts_closed_after_takeover", user_id=str(owner.pk), **summary)
    return summary


def on_account_taken_over(sender: Any, user: Any, **_: Any) -> dict[str, int]:
    """Receiver of ``accounts.signals.account_taken_over`` (connected in CartsConfig.ready)."""
    return carts_close_after_takeover(owner=user)


# -------------------------------------------------------------------------------------------
# Items and memberships
# -------------------------------------------------------------------------------------------


def _add_membership(
    *,
    cart_id: Any,
    item: Item,
    quantity: int | None,
    note: str | None,
    now: Any,
    in_carts: Iterable[Any] | None = None,
    cart_written: bool = False,
) -> tuple[CartItem, bool]:
    """Put ``item`` in cart ``cart_id`` (inside the caller's transaction).

    The caller has checked that the cart is the item owner's (a cart from a selector or
    ``resolve_carts``). Writes the cart first (``updated_at``): concurrent adds to one cart
    then conflict and are retried, so the count below is exact and the cap cannot be
    overshot; a cart deleted meanwhile matches nothing and is a NotFound. Returns
    ``(membership, created)``; an existing membership gets the ``quantity``/``note`` given.
    Every query filters on one indexed field (see ``carts.selectors``).

    Commands (issue 16's budgets): the cart update (skipped when ``cart_written``: the caller
    wrote it already, in the same transaction), the read of the item's memberships (skipped
    when the caller knows them: ``in_carts``, the ids of the carts the item is in, empty for
    an item created in this transaction), the count for the cap, the insert, and the item's
    ``orphaned_at`` reset only when it was set.
    """
    if not cart_written and not Cart.objects.filter(pk=cart_id).update(updated_at=now):
        raise NotFound("Cart not found.")
    if in_carts is None or cart_id in set(in_carts):
        existing = next(
            (ms for ms in CartItem.objects.filter(item_id=item.pk) if ms.cart_id == cart_id), None
        )
    else:
        existing = None
    if existing is not None:
        changed = []
        if quantity is not None and existing.quantity != quantity:
            existing.quantity = quantity
            changed.append("quantity")
        if note is not None and existing.note != note:
            existing.note = note
            changed.append("note")
        if changed:
            existing.save(update_fields=changed)
        return existing, False
    cap = settings.MAX_ITEMS_PER_CART
    if CartItem.objects.filter(cart_id=cart_id).count() >= cap:
        name = Cart.objects.filter(pk=cart_id).values_list("name", flat=True).first()
        raise LimitExceeded(f"The cart {name!r} already holds the maximum of {cap} items.")
    membership = CartItem.objects.create(
        cart_id=cart_id,
        item_id=item.pk,
        owner_id=item.owner_id,
        added_at=now,
        quantity=quantity or 1,
        note=note or "",
        price_at_add=item.price,
        currency_at_add=item.currency,
    )
    if item.orphaned_at is not None:
        Item.objects.filter(pk=item.pk).update(orphaned_at=None)
        item.orphaned_at = None
    return membership, True


def _save_item(
    *,
    owner_id: Any,
    cleaned: Mapping[str, Any],
    extraction: dict[str, Any] | None,
    now: Any,
    address: CanonicalUrl | None = None,
    into_cart: bool = False,
    insert_first: bool = False,
) -> tuple[Item, bool]:
    """Create or update the owner's item for ``cleaned["url"]`` (inside a transaction).

    ``address`` is that URL already canonicalised by the caller, if it was. ``into_cart``:
    the caller puts the item in a cart in this transaction, so a new item is created
    un-orphaned (no second write). ``insert_first``: insert without looking the URL up first
    (one command less for the common case, a new product); when the owner has saved it
    already, the unique index refuses the insert with ``IntegrityError``, which aborts the
    transaction, and the caller retries with ``insert_first=False``.
    """
    address = address if address is not None else CanonicalUrl.of(cleaned["url"])
    canonical = address.canonical_for(cleaned["url"])[: m.URL_MAX]
    item = (
        None
        if insert_first
        else Item.objects.filter(owner_id=owner_id, canonical_url=canonical).first()
    )
    if item is None:
        orphaned_at = None if into_cart else now
        item = Item(
            owner_id=owner_id, created_at=now, updated_at=now, orphaned_at=orphaned_at, **cleaned
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
            into_cart=bool(carts),
        )
        for cart in carts:
            _add_membership(
                cart_id=cart.pk,
                item=item,
                quantity=None,
                note=None,
                now=now,
                in_carts=() if created else None,
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

    def work() -> tuple[Item, CartItem, bool, bool]:
        now = timezone.now()
        if existing is not None:  # as read, also when an aborted attempt is retried
            existing.orphaned_at = orphaned_at
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
                into_cart=True,
                insert_first=insert_first[0],
            )
        membership, created = _add_membership(
            cart_id=cart.pk,
            item=item,
            quantity=quantity,
            note=note,
            now=now,
            in_carts=() if item_created else None,
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


def item_add_to_cart(
    *, cart: Cart, item: Item, quantity: int | None = None, note: str | None = None
) -> tuple[CartItem, bool]:
    """Put ``item`` in ``cart`` (same owner, else NotFound): ``(membership, created)``."""
    if cart.owner_id != item.owner_id:
        raise NotFound("This item and this cart belong to different users.")
    quantity = _clean_quantity(quantity)

    def work() -> tuple[CartItem, bool]:
        return _add_membership(
            cart_id=cart.pk, item=item, quantity=quantity, note=note, now=timezone.now()
        )

    return run_in_transaction(work, label="item_add_to_cart")


def item_remove_from_cart(*, cart: Cart, item: Item) -> None:
    """Take ``item`` out of ``cart`` (NotFound when it is not in it). The item stays."""

    def work() -> None:
        now = timezone.now()
        memberships = [
            pk
            for pk, cart_id in CartItem.objects.filter(item_id=item.pk).values_list("pk", "cart_id")
            if cart_id == cart.pk
        ]
        if not memberships:
            raise NotFound("This item is not in this cart.")
        CartItem.objects.filter(pk__in=memberships).delete()
        Cart.objects.filter(pk=cart.pk).update(updated_at=now)
        _mark_orphans([item.pk], now)

    run_in_transaction(work, label="item_remove_from_cart")


def item_set_carts(*, item: Item, cart_ids: Sequence[Any]) -> list[Cart]:
    """Make ``cart_ids`` exactly the carts ``item`` is in, atomically (moves and copies).

    Removals happen first, then additions in the order given; a cap reached on any cart
    aborts the whole transaction and the item's memberships stay as they were. Unknown or
    foreign ids: 400 on ``cart_ids``, before anything is written. Memberships that stay
    keep their added time, quantity, note and price snapshot.
    """
    carts = resolve_carts(owner=item.owner_id, cart_ids=cart_ids)
    target = [cart.pk for cart in carts]
    target_set = set(target)

    orphaned_at = item.orphaned_at

    def work() -> list[Cart]:
        now = timezone.now()
        item.orphaned_at = orphaned_at  # as read, also when an aborted attempt is retried
        rows = list(CartItem.objects.filter(item_id=item.pk).values_list("pk", "cart_id"))
        current = {cart_id for _pk, cart_id in rows}
        removed = [(pk, cart_id) for pk, cart_id in rows if cart_id not in target_set]
        added = [cart_id for cart_id in target if cart_id not in current]
        if removed:
            CartItem.objects.filter(pk__in=[pk for pk, _cart_id in removed]).delete()
        touched = [cart_id for _pk, cart_id in removed] + added
        # One write stamps every cart concerned; for the added ones it is also what makes
        # concurrent adds conflict before their counts (see ``_add_membership``).
        if touched and Cart.objects.filter(pk__in=touched).update(updated_at=now) != len(touched):
            raise NotFound("Cart not found.")  # deleted since it was resolved
        for cart_id in added:
            _add_membership(
                cart_id=cart_id,
                item=item,
                quantity=None,
                note=None,
                now=now,
                in_carts=current,
                cart_written=True,
            )
        if not target:
            _mark_orphans([item.pk], now)
        return carts

    result = run_in_transaction(work, label="item_set_carts")
    logger.info("item_carts_set", item_id=str(item.pk), carts=len(result))
    return result


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
        if cart_ids:
            Cart.objects.filter(pk__in=cart_ids).update(updated_at=now)

    run_in_transaction(work, label="item_delete")
    logger.info("item_deleted", item_id=str(item.pk))


# -------------------------------------------------------------------------------------------
# Sharing by email
# -------------------------------------------------------------------------------------------


def cart_share_by_email(
    *, cart: Cart, sender: Any, emails: Sequence[str], message: str = ""
) -> int:
    """Mail a read-only view of ``cart`` to ``emails`` (at most ``MAX_SHARE_RECIPIENTS``).

    Only a sender whose email address is confirmed may share by mail: mail from the
    service's own address to strangers is what phishing and spam need. An unconfirmed
    sender is refused (403 ``email_unverified``), and the first such refusal mails them a
    confirmation link (accounts that predate confirmation never got one). Every share then
    counts against the daily caps per recipient, per account and in all
    (:mod:`carts.share_caps`, 429).

    The mail carries the cart's public link, created here when the cart has none. Addresses
    are de-duplicated case-insensitively. The mails are written to the outbox in one
    transaction and published to the worker after it commits, so the request answers at
    once; a broker that is down leaves them for the scheduler's flush. Returns the number of
    recipients (an address that unsubscribed is counted too, so the sender never learns who
    did). The hourly rate limit is the caller's (per user, ``RATE_SHARE_USER``).
    """
    if not getattr(sender, "email_verified", False):
        email_confirmation_on_refused_share(user=sender)
        logger.info("share_refused_email_unverified", user_id=str(sender.pk))
        raise EmailUnverified(
            "Confirm your email address before sharing by email: we sent you a link. "
            "The share link works without it."
        )
    recipients = list(dict.fromkeys(address.strip().lower() for address in emails if address))
    if not recipients:
        raise ValidationFailed("Give at least one address.", fields={"emails": ["Required."]})
    if len(recipients) > settings.MAX_SHARE_RECIPIENTS:
        text = f"Ensure there are no more than {settings.MAX_SHARE_RECIPIENTS} addresses."
        raise ValidationFailed(text, fields={"emails": [text]})
    message = _clean_field(
        lambda v: clean_input_text(v, max_length=m.NOTE_MAX, multiline=True), message, "message"
    )
    share_mail_caps_take(sender_id=sender.pk, recipients=recipients)
    token, _created = cart_share_link_create(cart=cart)
    rows = membership_rows(user=sender, cart=cart)
    summary = cart_summaries(user=sender, carts=[cart])[cart.pk]
    # The sender's id names the outbox rows, so deleting the account finds them
    # (buyhive.mail.user_data); the rest makes each share's mails its own.
    share_key = f"{sender.pk}.{uuid.uuid4().hex}"

    def work() -> int:
        return share_emails.queue_share_mails(
            cart=cart,
            rows=rows,
            totals=summary.totals_list(),
            sender_name=getattr(sender, "name", "") or "",
            sender_email=getattr(sender, "email", "") or "",
            sender_verified=bool(getattr(sender, "email_verified", False)),
            recipients=recipients,
            message=message,
            link=share_url(token),
            share_key=share_key,
        )

    run_in_transaction(work, label="cart_share_by_email")
    logger.info("cart_shared_by_email", cart_id=str(cart.pk), recipients=len(recipients))
    return len(recipients)


# -------------------------------------------------------------------------------------------
# Maintenance
# -------------------------------------------------------------------------------------------


def items_delete_orphans(
    *,
    item_ids: Sequence[Any] | None = None,
    orphaned_before: Any = None,
    dry_run: bool = False,
    batch_size: int = 500,
) -> tuple[int, int]:
    """Delete items that are in no cart: ``(deleted, kept)``.

    Candidates are ``item_ids`` (the admin action), or the items orphaned before
    ``orphaned_before`` (``purge_orphan_items``, on the ``carts_item_orphaned`` index). Each
    batch re-checks the memberships inside its transaction, so an item put back in a cart
    meanwhile is kept. ``dry_run`` counts without deleting.
    """
    if item_ids is not None:
        candidates = list(dict.fromkeys(item_ids))
    elif orphaned_before is not None:
        candidates = list(
            Item.objects.filter(orphaned_at__lt=orphaned_before)
            .order_by("orphaned_at")
            .values_list("pk", flat=True)
        )
    else:
        raise ValueError("Give item_ids or orphaned_before.")
    deleted = kept = 0
    for start in range(0, len(candidates), batch_size):
        batch = candidates[start : start + batch_size]

        def work(batch: list[Any] = batch) -> tuple[int, int]:
            in_a_cart = set(
                CartItem.objects.filter(item_id__in=batch).values_list("item_id", flat=True)
            )
            orphans = [pk for pk in batch if pk not in in_a_cart]
            if orphans and not dry_run:
                Item.objects.filter(pk__in=orphans).delete()
            return len(orphans), len(batch) - len(orphans)

        batch_deleted, batch_kept = run_in_transaction(work, label="items_delete_orphans")
        deleted += batch_deleted
        kept += batch_kept
    if not dry_run:
        logger.info("orphan_items_deleted", deleted=deleted, kept=kept)
    return deleted, kept
