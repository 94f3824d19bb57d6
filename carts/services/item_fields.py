"""The item fields a client may set, and their validation (``clean_item_data``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from buyhive.exceptions import ValidationFailed
from buyhive.product.money import parse_amount, validate_amount
from carts import models as m
from carts.models import Item
from carts.validation import (
    clean_availability,
    clean_currency,
    clean_http_url,
    clean_input_text,
    clean_variant,
)

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
