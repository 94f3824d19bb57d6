"""Helpers every write module shares: field cleaning, the owner's pk, the 400s on
``name`` and ``cart_ids``, and :func:`resolve_carts` (ids from a body, scoped to the owner)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings

from buyhive.exceptions import ValidationFailed
from carts import models as m
from carts.models import Cart
from carts.selectors import parse_object_id


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
