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

The package has one module per concern (``carts.services.<module>``): ``lifecycle`` (carts),
``items`` (saving and editing items), ``memberships`` (items in and out of carts, moves),
``sharing`` (links and mail), ``item_fields`` (what a client may set on an item),
``maintenance`` (orphan purge) and ``_common`` (helpers). Every public name is re-exported
here: import them from ``carts.services``.
"""

from __future__ import annotations

from carts.services._common import resolve_carts
from carts.services.item_fields import ITEM_FIELDS, clean_item_data
from carts.services.items import cart_add_item, item_delete, item_update, item_upsert
from carts.services.lifecycle import (
    cart_create,
    cart_delete,
    cart_update,
    carts_close_after_takeover,
    on_account_taken_over,
)
from carts.services.maintenance import items_delete_orphans
from carts.services.memberships import item_add_to_cart, item_remove_from_cart, item_set_carts
from carts.services.sharing import (
    cart_share_by_email,
    cart_share_link_create,
    cart_share_link_revoke,
    cart_share_links_revoke_all,
    on_account_deactivated,
    share_url,
)

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
    "on_account_deactivated",
    "on_account_taken_over",
    "resolve_carts",
    "share_url",
]
