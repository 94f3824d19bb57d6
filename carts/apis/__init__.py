"""The carts API: thin DRF views over ``carts.selectors`` (reads) and ``carts.services`` (writes).

Every view finds the user's objects through a selector scoped to ``request.user``: another
user's cart or item is a 404 on every verb, exactly like an unknown id. Input serializers list
the fields a client may send; nothing else (``owner``...) is read. Writes count against
``RATE_WRITE_USER`` per user (failing open: a counter outage must not stop users saving);
sharing by email counts against ``RATE_SHARE_USER`` and fails closed (it sends mail).

One module per group of endpoints (``carts``, ``cart_items``, ``items``, ``sharing``,
``export``), with
what they share in ``common``. Every view is re-exported here (``carts/urls.py`` routes
``apis.<View>``).
"""

from __future__ import annotations

from carts.apis.cart_items import CartItemAddInputSerializer, CartItemDetailApi, CartItemsApi
from carts.apis.carts import (
    CartDetailApi,
    CartInputSerializer,
    CartListCreateApi,
    CartUpdateInputSerializer,
)
from carts.apis.export import CartExportCsvApi
from carts.apis.items import (
    ItemCartsApi,
    ItemCartsInputSerializer,
    ItemCartsOutputSerializer,
    ItemCreateInputSerializer,
    ItemDetailApi,
    ItemListCreateApi,
    ItemUpdateInputSerializer,
)
from carts.apis.sharing import (
    CartShareApi,
    CartShareInputSerializer,
    CartShareLinkApi,
    CartShareOutputSerializer,
    SharedCartApi,
    ShareLinkOutputSerializer,
)

__all__ = [
    "CartDetailApi",
    "CartExportCsvApi",
    "CartInputSerializer",
    "CartItemAddInputSerializer",
    "CartItemDetailApi",
    "CartItemsApi",
    "CartListCreateApi",
    "CartShareApi",
    "CartShareInputSerializer",
    "CartShareLinkApi",
    "CartShareOutputSerializer",
    "CartUpdateInputSerializer",
    "ItemCartsApi",
    "ItemCartsInputSerializer",
    "ItemCartsOutputSerializer",
    "ItemCreateInputSerializer",
    "ItemDetailApi",
    "ItemListCreateApi",
    "ItemUpdateInputSerializer",
    "ShareLinkOutputSerializer",
    "SharedCartApi",
]
