"""The per-cart read model of ``GET carts/{id}/items/`` (issue 16): the read is one find by
``_id`` (the cart's document, which holds its kept view) instead of a read of every
membership and item.

* ``items_view`` on the cart document, a raw field no model field declares (like the
  counter and ``items_summary``), keeps the cart's items' answer rendered: one entry per
  membership in added order (``added_at``, ``_id``), each the bytes DRF's ``JSONRenderer``
  makes of :func:`carts.serializers.cart_item_to_api`, with the generation it was built at
  (``gen``) and the rendering (``version``). It goes with the cart's document: a deleted
  cart or account leaves no view behind.
* ``items_view_gen`` on the cart document, a raw counter no model field declares (so no ORM
  save of a cart can set it back), is incremented by every write that changes what the
  cart's answer shows. A view is current while its ``gen`` equals its cart's counter.

**Invalidated in the writer's transaction, built by the next read.** A write that changes a
membership, or an item shown in carts, increments the counter of every cart whose answer it
changes, in the same transaction as the change (:func:`stamp_carts`, :func:`drop_views`).
An item's entry shows its ``cart_ids``, so a change of an item's carts or fields concerns
every cart the item is in, before and after. The membership writes already wrote each cart
they change (its ``updated_at``, the write that serialises concurrent adds), so the
increments ride in that same ``update`` command: an add and a move send no more commands
than before (issue 16's budgets), and the views are not written by them.

A read whose view is missing or out of date builds it from the memberships and the items
(two finds, ``carts.cart_view``) and keeps it on the cart with one conditional ``update``
(:func:`store_entries`): stored only if the cart's counter still holds the value the read
saw before reading them. The writes that counter covers were committed before the read, so
the view holds them all; a write committed since moved the counter, and the view is not
stored (it may predate that write). Storing is best effort: when it fails the next read
builds again.

Bounded by ``MAX_ITEMS_PER_CART`` (500 entries of ~1-2 KB: well under the 16 MB document
limit). The one other raw read of carts, the cart list (``carts.cart_list``), excludes the
field with a projection (:data:`WITHOUT_VIEW`). ORM reads of a cart (the add, the move, the
detail) fetch the whole document, the view with it: ~0.25 ms of app CPU per read for a
50-entry view, within the noise of an add (``bench/cart_view_weight.py``, ``docs/
scaling.md``, "One command").

**The cart list's summaries ride on the same counter.** ``GET carts/`` shows each cart's item
count and totals, which depend on exactly what the cart's items answer shows (its
memberships, their quantities, the items' prices and currencies). A read that computes a
cart's summary keeps it on the cart's own document (``items_summary``, raw like the counter:
no model field declares it) with the counter it read (:func:`store_summaries`): stored only
if the counter has not moved since, so a summary is current exactly when a view at that
counter would be (:func:`current_summary`). The list then reads one command, the user's
carts (``carts.cart_list``).

A migration or a script that rewrites items or memberships outside the services must call
:func:`drop_views` for the owners concerned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog
from bson import Binary
from django_mongodb_backend.query import wrap_database_errors
from pymongo import UpdateMany, UpdateOne
from pymongo.errors import PyMongoError

from buyhive.transactions import raw_collection
from carts.models import Cart

logger = structlog.get_logger(__name__)

#: The cart document's raw counter (see the module's docstring).
GEN_FIELD = "items_view_gen"

#: The cart document's raw kept view of its items' answer (``carts.cart_view``).
VIEW_FIELD = "items_view"

#: The projection of a raw read of carts that does not answer the items: the view left out.
WITHOUT_VIEW: dict[str, Any] = {VIEW_FIELD: 0}

#: The cart document's raw kept summary (count and totals) for ``GET carts/``.
SUMMARY_FIELD = "items_summary"
#: The update that makes a cart's kept view (and summary) out of date.
_DROP: dict[str, Any] = {"$inc": {GEN_FIELD: 1}}


@wrap_database_errors  # as the ORM's commands: a PyMongoError becomes a DatabaseError
def stamp_carts(*, stamped: Sequence[Any], dropped: Iterable[Any] = (), now: Any) -> bool:
    """Set ``updated_at`` on the ``stamped`` carts and make their views and those of
    ``dropped`` out of date, in one ``update`` command (two statements), inside the
    caller's transaction. True when every stamped cart exists.

    ``stamped`` are the carts whose memberships the caller changes; ``dropped`` the other
    carts whose answer changes (those holding an item whose ``cart_ids`` or fields change).
    The matched count answers for both statements; when it falls short (a stamped cart
    deleted since it was resolved, or a ``dropped`` id naming no cart), the stamped carts
    are counted to tell which.
    """
    stamped = list(dict.fromkeys(stamped))
    stamped_set = set(stamped)
    rest = [cart_id for cart_id in dict.fromkeys(dropped) if cart_id not in stamped_set]
    operations = []
    if stamped:
        operations.append(
            UpdateMany({"_id": {"$in": stamped}}, {**_DROP, "$set": {"updated_at": now}})
        )
    if rest:
        operations.append(UpdateMany({"_id": {"$in": rest}}, _DROP))
    if not operations:
        return True
    collection, session = raw_collection(Cart)
    matched = collection.bulk_write(operations, ordered=True, session=session).matched_count
    if matched == len(stamped) + len(rest):
        return True
    return Cart.objects.filter(pk__in=stamped).count() == len(stamped)


@wrap_database_errors
def drop_views(*, cart_ids: Iterable[Any] = (), owner_ids: Iterable[Any] = ()) -> None:
    """Make the views of ``cart_ids``, or of every cart of ``owner_ids``, out of date (one
    command on the carts), inside the caller's transaction when there is one.

    By owner for writers that do not know every cart a change concerns as the database sees
    it: a write outside a transaction (an item's edit, the price watch) drops all of its
    owners' carts after its write, so that a view built before the write is dropped and one
    built after it already shows it.
    """
    ids, owners = list(dict.fromkeys(cart_ids)), list(dict.fromkeys(owner_ids))
    if ids and owners:
        raise ValueError("drop_views: cart_ids or owner_ids, not both")
    if not ids and not owners:
        return
    query = {"_id": {"$in": ids}} if ids else {"owner_id": {"$in": owners}}
    collection, session = raw_collection(Cart)
    collection.update_many(query, _DROP, session=session)


def current_entries(cart: Mapping[str, Any], *, version: str) -> list[bytes] | None:
    """The entries of the view kept on ``cart`` (its raw document) when it is current (built
    at the cart's counter) and rendered by ``version`` (``carts.cart_view.RENDER_VERSION``);
    None otherwise."""
    view = cart.get(VIEW_FIELD)
    if not isinstance(view, dict) or view.get("version") != version:
        return None
    if "gen" not in view or view.get("gen") != cart.get(GEN_FIELD):
        return None
    entries = view.get("entries")
    return entries if isinstance(entries, list) else None


def store_entries(*, cart: Mapping[str, Any], entries: Sequence[bytes], version: str) -> bool:
    """Keep ``entries``, built after ``cart`` (its document) was read, on the cart as its view
    at the counter that document holds: one conditional ``update``, applied only if the
    counter has not moved since (a write committed in between may be missing from
    ``entries``). Best effort: a failure is logged and the next read builds the view again.
    True when stored.
    """
    gen = cart.get(GEN_FIELD)
    view = {"gen": gen, "version": version, "entries": [Binary(entry) for entry in entries]}
    collection, session = raw_collection(Cart)
    try:
        result = collection.update_one(
            {"_id": cart["_id"], GEN_FIELD: gen}, {"$set": {VIEW_FIELD: view}}, session=session
        )
    except PyMongoError as exc:  # a write conflict with a writer's transaction, a timeout
        logger.warning("cart_view_not_stored", cart_id=str(cart["_id"]), error=type(exc).__name__)
        return False
    return result.matched_count == 1


def current_summary(
    cart: Mapping[str, Any], *, version: str
) -> tuple[int, dict[str | None, Decimal]] | None:
    """``(item count, {currency: total})`` kept on ``cart`` (its raw document) when it was
    computed at the cart's current counter by the rendering ``version``; None otherwise."""
    kept = cart.get(SUMMARY_FIELD)
    if not isinstance(kept, dict) or kept.get("version") != version:
        return None
    if kept.get("gen") != cart.get(GEN_FIELD) or "gen" not in kept:
        return None
    count, totals = kept.get("count"), kept.get("totals")
    if not isinstance(count, int) or not isinstance(totals, list):
        return None
    try:
        return count, {currency: Decimal(amount) for currency, amount in totals}
    except (TypeError, ValueError, InvalidOperation):
        return None


def store_summaries(
    summaries: Sequence[tuple[Mapping[str, Any], int, Mapping[str | None, Decimal]]],
    *,
    version: str,
) -> bool:
    """Keep each ``(cart document, item count, totals)`` computed after that document was
    read, on the cart, at the counter the document holds: one ``update`` command, best
    effort (a failure is logged; the next list computes again). A cart whose counter moved
    since it was read is left as it is: its summary may predate the write. True when sent.
    """
    if not summaries:
        return True
    operations = [
        UpdateOne(
            {"_id": cart["_id"], GEN_FIELD: cart.get(GEN_FIELD)},
            {
                "$set": {
                    SUMMARY_FIELD: {
                        "gen": cart.get(GEN_FIELD),
                        "version": version,
                        "count": count,
                        # Exact decimal strings: a total is a sum of Decimal prices.
                        "totals": [[currency, str(amount)] for currency, amount in totals.items()],
                    }
                }
            },
        )
        for cart, count, totals in summaries
    ]
    collection, session = raw_collection(Cart)
    try:
        collection.bulk_write(operations, ordered=False, session=session)
    except PyMongoError as exc:  # a write conflict with a writer's transaction, a timeout
        logger.warning("cart_summaries_not_stored", carts=len(operations), error=type(exc).__name__)
        return False
    return True
