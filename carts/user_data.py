"""What the carts app holds about a user, for the data export and the account deletion.

Registered in :mod:`buyhive.registries` by :class:`carts.apps.CartsConfig` (accounts, below
carts, cannot import it): ``GET auth/me/export/`` includes :func:`carts_export`, and
``DELETE auth/me/`` runs :func:`carts_delete` inside the deletion's transaction.

A cart's rows also export one cart at a time as CSV (:func:`cart_csv_rows`), for people who
want their list in a spreadsheet.

The price watch keeps two kinds of rows per saved product:

* pooled ones (``WatchedProduct``, and ``Observation`` rows under an observer hash): they hold
  no user data, the hash being an HMAC of the user id and the product under a server key
  (:func:`carts.watch.matching.observer_hash`). Once the user row is gone, nothing links a
  hash to anybody, so they stay, as the issue asks: other savers' histories are built on them;
* the user's own daily series (``DailyPoint`` rows whose series *is* that hash), read only by
  that user's history: they go with the account.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from buyhive.product.money import amount_to_api
from buyhive.registries import export_date
from carts.models import Cart, CartItem, CartOwner, Item
from carts.watch.matching import observer_hash
from carts.watch.models import DailyPoint

#: The CSV's columns, in order (``GET carts/{id}/export.csv``).
CSV_COLUMNS: tuple[str, ...] = (
    "title",
    "url",
    "price",
    "currency",
    "availability",
    "quantity",
    "note",
    "price_at_add",
    "currency_at_add",
    "added_at",
    "brand",
    "sku",
    "gtin",
    "mpn",
    "store_domain",
    "image_url",
    "item_id",
)

#: A spreadsheet runs a cell that starts with one of these as a formula (CSV injection):
#: such a cell is written with a leading apostrophe, which spreadsheets show as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _amount(value: Any, currency: str | None) -> str | None:
    """A price as the API writes it: a plain decimal string at the currency's exponent."""
    if value is None:
        return None
    return amount_to_api(Decimal(str(value)), currency=currency)


def spreadsheet_safe(value: str) -> str:
    """``value`` as a CSV cell no spreadsheet will evaluate (OWASP's CSV-injection advice)."""
    if value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def cart_csv_rows(*, memberships: list[tuple[CartItem, Item]]) -> Iterator[list[str]]:
    """The header, then one row per membership in added order, every cell spreadsheet-safe."""
    yield list(CSV_COLUMNS)
    for membership, item in memberships:
        values: dict[str, Any] = {
            "title": item.title,
            "url": item.url,
            "price": _amount(item.price, item.currency),
            "currency": item.currency,
            "availability": item.availability,
            "quantity": membership.quantity,
            "note": membership.note,
            "price_at_add": _amount(membership.price_at_add, membership.currency_at_add),
            "currency_at_add": membership.currency_at_add,
            "added_at": membership.added_at,
            "brand": item.brand,
            "sku": item.sku,
            "gtin": item.gtin,
            "mpn": item.mpn,
            "store_domain": item.store_domain,
            "image_url": item.image_url,
            "item_id": item.pk,
        }
        yield [spreadsheet_safe(_text(values[column])) for column in CSV_COLUMNS]


def _cart(cart: Cart) -> dict[str, Any]:
    return {
        "id": str(cart.pk),
        "name": cart.name,
        "description": cart.description,
        "shared": cart.share_token is not None,
        "shared_at": export_date(cart.shared_at),
        "created_at": export_date(cart.created_at),
        "updated_at": export_date(cart.updated_at),
    }


def _item(item: Item) -> dict[str, Any]:
    return {
        "id": str(item.pk),
        "url": item.url,
        "title": item.title,
        "brand": item.brand,
        "description": item.description,
        "price": _amount(item.price, item.currency),
        "currency": item.currency,
        "price_raw": item.price_raw,
        "image_url": item.image_url,
        "availability": item.availability,
        "sku": item.sku,
        "gtin": item.gtin,
        "mpn": item.mpn,
        "variant": item.variant,
        "store_domain": item.store_domain,
        "extraction": item.extraction,
        "created_at": export_date(item.created_at),
        "updated_at": export_date(item.updated_at),
    }


def _membership(membership: CartItem) -> dict[str, Any]:
    return {
        "cart_id": str(membership.cart_id),  # type: ignore[attr-defined]
        "item_id": str(membership.item_id),  # type: ignore[attr-defined]
        "quantity": membership.quantity,
        "note": membership.note,
        "price_at_add": _amount(membership.price_at_add, membership.currency_at_add),
        "currency_at_add": membership.currency_at_add,
        "added_at": export_date(membership.added_at),
    }


def carts_export(user: Any) -> dict[str, Any]:
    """Every cart, item and membership of ``user``: three reads on the owner indexes."""
    carts = Cart.objects.filter(owner_id=user.pk).order_by("created_at", "pk")
    items = Item.objects.filter(owner_id=user.pk).order_by("created_at", "pk")
    memberships = CartItem.objects.filter(owner_id=user.pk).order_by("added_at", "pk")
    return {
        "carts": [_cart(cart) for cart in carts],
        "items": [_item(item) for item in items],
        "memberships": [_membership(membership) for membership in memberships],
    }


def carts_delete(user: Any) -> int:
    """Delete the user's memberships, items, carts and own watch series; the rows deleted.

    Share links die with their carts (the public page looks the token up and finds nothing:
    404). Runs inside the caller's transaction (``accounts.user_data.user_delete``).
    """
    own_series = [
        observer_hash(user_id=user.pk, product_key=key)
        for key in Item.objects.filter(owner_id=user.pk, watch_key__isnull=False)
        .order_by()
        .values_list("watch_key", flat=True)
        if key
    ]
    deleted = 0
    if own_series:
        deleted += DailyPoint.objects.filter(series__in=own_series).delete()[0]
    # Children first, each a plain delete on the owner index (nothing left for the
    # collector's cascades to find).
    for model in (CartItem, Item, Cart, CartOwner):
        deleted += model.objects.filter(owner_id=user.pk).delete()[0]
    return deleted
