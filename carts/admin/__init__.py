"""Staff moderation of carts and items.

Built for thousands of rows on MongoDB, where every join is a ``$lookup`` over a whole
collection:

* list pages make a fixed number of queries whatever the page holds: the page itself, then
  one read per computed column for the whole page (owners' emails, item counts), attached in
  ``get_changelist_instance``; no ``list_select_related`` (a ``$lookup``), no per-row query;
* searching by owner email first finds the matching users (one query), then filters on the
  indexed ``owner_id``, instead of joining every row to its user;
* an item's carts (and a cart's items) are edited through a ``CartItem`` inline, with the
  related objects' labels read in one query for the whole inline;
* every write goes through ``carts.services`` (``cart_create``, ``cart_update``,
  ``item_upsert``, ``item_update``, ``item_add_to_cart``, ``item_remove_from_cart``,
  ``cart_delete``, ``item_delete``), so staff meet the same name rules, URL uniqueness,
  same-owner rule, caps and price snapshots as the API; this module states none of them;
* a save runs in one MongoDB transaction (``run_in_transaction``, which the services join):
  the form and the inline commit together or not at all. A service that refuses (a
  :class:`~buyhive.exceptions.DomainError`) rolls the whole save back, and the page is shown
  again with the service's message on the field, the inline row or the form it concerns.

One module per concern: ``base`` (links, owner lookups, ``OwnedRowAdmin``: the base of both),
``forms`` (service refusals on forms), ``memberships`` (the CartItem inlines), ``filters``,
``carts`` and ``items`` (the two model admins). Importing this package registers both.
"""

from carts.admin.carts import CartAdmin
from carts.admin.items import ItemAdmin

__all__ = ["CartAdmin", "ItemAdmin"]
