"""``GET carts/{id}/items/`` from the per-cart read model (``carts.read_model``): one find
by ``_id`` when the cart's kept view is current: the cart's document holds its owner (404 for
anyone else), its counter and its kept view (the count and every item, rendered).

When the view is missing or out of date (a write moved the cart's counter, or a deploy
changed the rendering), the read builds it: the cart's memberships in added order, then their
items by ``_id $in``, each rendered as ``CartItemOutputSerializer`` would
(:func:`carts.serializers.cart_item_to_api`, the bytes DRF's ``JSONRenderer`` makes), and
keeps it on the cart's document for the next read (four commands instead of one). ``carts/tests/
test_cart_view.py`` checks that the answer equals the serializer's after every kind of
write.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from rest_framework.renderers import JSONRenderer

from buyhive.exceptions import NotFound
from buyhive.transactions import raw_collection
from carts import read_model
from carts.models import Cart, CartItem, Item
from carts.selectors import parse_object_id
from carts.serializers import CartItemOutputSerializer, cart_item_to_api

#: Bump when :func:`cart_item_to_api` changes what it renders without changing the output
#: serializer's fields (hashed in below): views stored by another version are rebuilt on
#: their next read, so a deploy never serves an older shape.
RENDER_REVISION = 1

RENDER_VERSION = hashlib.sha256(
    repr((RENDER_REVISION, tuple(CartItemOutputSerializer().fields))).encode()
).hexdigest()[:16]

_RENDERER = JSONRenderer()


def render_entry(membership: dict[str, Any], item: dict[str, Any]) -> bytes:
    """One item's answer, as the API renders it: the bytes of DRF's ``JSONRenderer``."""
    return bytes(_RENDERER.render(cart_item_to_api(membership, item)))


def cart_entries_page(
    *, user: Any, cart_id: Any, offset: int, limit: int
) -> tuple[int, list[bytes]]:
    """``(count, [rendered item, ...])``: one page of the user's cart in added order.

    Another user's cart is a NotFound, like an unknown or malformed id. The cart document,
    with its kept view; when that is not current, :func:`build_entries` (two finds) and the
    view kept on the cart (one conditional update).
    """
    oid = parse_object_id(cart_id)
    if oid is None:
        raise NotFound("Cart not found.")
    carts, session = raw_collection(Cart)
    cart = carts.find_one({"_id": oid}, session=session)
    if cart is None or cart.get("owner_id") != getattr(user, "pk", None):
        raise NotFound("Cart not found.")
    entries = read_model.current_entries(cart, version=RENDER_VERSION)
    if entries is None:
        entries = build_entries(cart=cart)
        read_model.store_entries(cart=cart, entries=entries, version=RENDER_VERSION)
    return len(entries), entries[offset : offset + limit]


def build_entries(*, cart: dict[str, Any]) -> list[bytes]:
    """The rendered entries of ``cart`` (its raw document) from its memberships and items.

    Both finds are answered in their first batch: the memberships' batch is one more than
    the cap (a cart over it, only by a bulk import, is still read whole, with a
    ``getMore``), the items' is their number. An item of another owner (never the case: a
    membership has its cart's owner) is left out, as is a membership whose item is gone.
    Whole documents, no projections: on SecantusDB a projection costs more server CPU than
    the few small fields it would drop (``docs/scaling.md``, "The 50-item cart read").
    """
    owner = cart.get("owner_id")
    memberships, session = raw_collection(CartItem)
    rows = memberships.find(
        {"cart_id": cart["_id"]},
        sort=[("added_at", 1), ("_id", 1)],
        batch_size=int(settings.MAX_ITEMS_PER_CART) + 1,
        session=session,
    ).to_list()
    item_ids = list(dict.fromkeys(row["item_id"] for row in rows))
    items: dict[Any, dict[str, Any]] = {}
    if item_ids:
        found, _session = raw_collection(Item)
        items = {
            doc["_id"]: doc
            for doc in found.find(
                {"_id": {"$in": item_ids}},
                limit=len(item_ids),
                batch_size=len(item_ids),
                session=session,
            ).to_list()
            if doc.get("owner_id") == owner
        }
    return [render_entry(row, items[row["item_id"]]) for row in rows if row["item_id"] in items]
