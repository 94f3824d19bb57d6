"""``GET carts/`` from the cart documents alone: one ``find`` when every cart's kept summary
is current (``carts.read_model``, "The cart list's summaries").

The user's carts are read raw, oldest first, on the ``carts_cart_owner_created`` index (at
most ``MAX_CARTS_PER_USER``, one batch, paged in memory as before), without the kept views
of their items (``read_model.WITHOUT_VIEW``). A cart whose kept
summary is missing or out of date (a write moved its counter since) has it computed from
its memberships and items (:func:`carts.selectors.summaries_by_cart_id`: two reads for all
such carts of the page) and kept (one ``update``): four commands on the first list after a
write, one after that. Each cart is rendered from its document by :func:`cart_to_api`, the
``CartOutputSerializer`` shape without model instances; ``carts/tests/test_cart_list.py``
checks that both give the same answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings

from buyhive.transactions import raw_collection
from carts import read_model
from carts.models import Cart
from carts.selectors import CartSummary, summaries_by_cart_id
from carts.serializers import CartOutputSerializer, utc_iso
from carts.services.sharing import share_url

#: Bump when the summaries' computation changes (``selectors.summaries_by_cart_id``): the
#: kept ones are then computed again on their next list. The serializer's fields are hashed
#: in, so a new field of the answer cannot be served from an older rendering either.
SUMMARY_REVISION = 1

SUMMARY_VERSION = hashlib.sha256(
    repr((SUMMARY_REVISION, tuple(CartOutputSerializer().fields))).encode()
).hexdigest()[:16]


def cart_documents(*, user: Any) -> list[dict[str, Any]]:
    """The user's carts as raw documents, oldest first (one ``find``, one batch), without
    their kept views of the items' answer (``read_model.WITHOUT_VIEW``): a list ships no
    entries."""
    collection, session = raw_collection(Cart)
    return collection.find(
        {"owner_id": getattr(user, "pk", user)},
        projection=read_model.WITHOUT_VIEW,
        sort=[("created_at", 1), ("_id", 1)],
        batch_size=int(settings.MAX_CARTS_PER_USER) + 1,
        session=session,
    ).to_list()


def summaries(*, user: Any, carts: Sequence[Mapping[str, Any]]) -> list[CartSummary]:
    """Each cart's count and totals, in order: kept ones when current, the others computed
    in two reads and kept (one write, best effort)."""
    owner = getattr(user, "pk", user)
    found: dict[Any, CartSummary] = {}
    stale: list[Mapping[str, Any]] = []
    for cart in carts:
        if cart.get("owner_id") != owner:  # the find is by owner: a guard
            raise ValueError("cart_list.summaries: a cart of another owner")
        kept = read_model.current_summary(cart, version=SUMMARY_VERSION)
        if kept is None:
            stale.append(cart)
        else:
            found[cart["_id"]] = CartSummary(item_count=kept[0], totals=kept[1])
    if stale:
        computed = summaries_by_cart_id(owner=owner, cart_ids=[cart["_id"] for cart in stale])
        found.update(computed)
        read_model.store_summaries(
            [
                (cart, computed[cart["_id"]].item_count, computed[cart["_id"]].totals)
                for cart in stale
            ],
            version=SUMMARY_VERSION,
        )
    return [found[cart["_id"]] for cart in carts]


def cart_to_api(
    cart: Mapping[str, Any],
    summary: CartSummary,
    converted: Callable[[Mapping[str | None, Decimal]], dict[str, Any] | None],
) -> dict[str, Any]:
    """The ``Cart`` answer (:class:`carts.serializers.CartOutputSerializer`'s shape and values)
    from the cart's raw document and its summary; ``converted`` makes ``total_converted``
    (``carts.watch.rates.totals_converted_param``)."""
    token = cart.get("share_token")
    return {
        "id": str(cart["_id"]),
        "name": cart.get("name"),
        "description": cart.get("description"),
        "item_count": summary.item_count,
        "totals": summary.totals_list(),
        "share_url": share_url(token) if token else None,
        "total_converted": converted(summary.totals),
        "created_at": utc_iso(cart.get("created_at")),
        "updated_at": utc_iso(cart.get("updated_at")),
    }
