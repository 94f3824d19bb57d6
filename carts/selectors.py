"""Reads of carts and items, always scoped to a user.

Every hot read here is index-backed and bounded by the size of its answer, never by how much
the database holds: no ``select_related``, no many-to-many, no ``$lookup``. A cart's items
are read in two steps, the membership rows first (``cart_id`` equality, on the
``carts_ci_cart_added`` index), then the items by ``_id $in``.

Each of those reads filters on **one** indexed field (``_id``, ``cart_id``, ``item_id``), and
ownership is checked on the documents that come back (``owner_id == user.pk``) instead of
being added to the filter. The answer is the same, the ids always come from the user's own
cart, and a single-field equality or ``$in`` on an indexed field is planned on that index by
every MongoDB server, whatever its planner makes of compound filters: the cost is bounded by
the answer on Atlas and on the development server alike (``buyhive/devdb/`` says why that
matters for SecantusDB). ``carts/tests/test_queries.py`` watches the commands and asks the
server to explain them.

Another user's cart or item is :class:`buyhive.exceptions.NotFound`, exactly like an
unknown one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet

from buyhive.exceptions import NotFound, ValidationFailed
from buyhive.object_ids import parse_object_id
from buyhive.product.money import amount_to_api
from carts.models import Cart, CartItem, Item
from carts.validation import MAX_SEARCH_LENGTH

__all__ = [
    "ITEM_ORDERINGS",
    "CartSummary",
    "cart_counts_by_owner",
    "cart_get",
    "cart_list",
    "cart_memberships",
    "cart_summaries",
    "item_cart_ids",
    "item_get",
    "item_list",
    "items_by_id",
    "membership_rows",
    "parse_object_id",
    "shared_cart_get",
    "summaries_by_cart_id",
]

#: ``?ordering=`` values of ``GET items/``: added time (default newest first), price, title.
ITEM_ORDERINGS: tuple[str, ...] = ("-added_at", "added_at", "price", "-price", "title", "-title")
_SHARE_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def _user_pk(user: Any) -> Any:
    """A user's pk from a user or a pk (the public shared view passes the owner's pk)."""
    return getattr(user, "pk", user)


# -------------------------------------------------------------------------------------------
# Carts
# -------------------------------------------------------------------------------------------


def cart_list(*, user: Any) -> QuerySet[Cart]:
    """The user's carts, oldest first (index ``carts_cart_owner_created``)."""
    return Cart.objects.filter(owner_id=_user_pk(user)).order_by("created_at", "pk")


def cart_get(*, user: Any, cart_id: Any) -> Cart:
    """The user's cart ``cart_id``; NotFound when unknown, malformed or someone else's."""
    oid = parse_object_id(cart_id)
    cart = Cart.objects.filter(pk=oid).order_by().first() if oid else None
    if cart is None or cart.owner_id != _user_pk(user):
        raise NotFound("Cart not found.")
    return cart


def shared_cart_get(*, token: str) -> Cart:
    """The cart whose public read-only link carries ``token`` (unique index on the token)."""
    if not isinstance(token, str) or not _SHARE_TOKEN_RE.match(token):
        raise NotFound("This shared cart does not exist or is no longer shared.")
    cart = Cart.objects.filter(share_token=token).order_by().first()
    if cart is None:
        raise NotFound("This shared cart does not exist or is no longer shared.")
    return cart


@dataclass(slots=True)
class CartSummary:
    """A cart's item count and totals: ``quantity x the item's current price`` per currency.

    Items without a price count as items but add nothing to a total; an item priced without a
    currency is totalled under ``currency: None``. Each amount is written with its currency's
    decimals (``"4500"`` JPY, ``"24.690"`` KWD, ``"59.97"`` USD).
    """

    item_count: int = 0
    totals: dict[str | None, Decimal] = field(default_factory=dict)

    def totals_list(self) -> list[dict[str, str | None]]:
        def sort_key(entry: tuple[str | None, Decimal]) -> tuple[bool, str]:
            return (entry[0] is None, entry[0] or "")

        return [
            {"currency": currency, "amount": amount_to_api(amount, currency=currency)}
            for currency, amount in sorted(self.totals.items(), key=sort_key)
        ]


def cart_summaries(*, user: Any, carts: Sequence[Cart]) -> dict[Any, CartSummary]:
    """Item counts and totals for ``carts`` (one page of them, model instances): the user's
    carts among them, by pk, through :func:`summaries_by_cart_id`."""
    owner = _user_pk(user)
    return summaries_by_cart_id(owner=owner, cart_ids=[c.pk for c in carts if c.owner_id == owner])


def summaries_by_cart_id(*, owner: Any, cart_ids: Sequence[Any]) -> dict[Any, CartSummary]:
    """Item counts and totals for the carts ``cart_ids`` of ``owner`` (their pk), in two
    queries.

    Computed from the memberships and the items, because a total depends on each item's
    *current* price, which changes with every item update: one read of the carts'
    memberships (``cart_id $in``, on the ``carts_ci_cart_item`` index) and one ``_id $in``
    read of the prices of the items involved. The work is bounded by the answer (at most
    ``page size x MAX_ITEMS_PER_CART`` memberships), and the figures are exact at any moment,
    concurrent adds included, with nothing that can drift. ``GET carts/`` keeps them on the
    cart documents between writes (``carts.cart_list``, ``carts.read_model``).
    """
    summaries: dict[Any, CartSummary] = {cart_id: CartSummary() for cart_id in cart_ids}
    if not summaries:
        return summaries
    rows = [
        (cart_id, item_id, quantity)
        for cart_id, item_id, quantity, row_owner in CartItem.objects.filter(
            cart_id__in=list(summaries)
        )
        .order_by()
        .values_list("cart_id", "item_id", "quantity", "owner_id")
        if row_owner == owner
    ]
    item_ids = list({item_id for _cart_id, item_id, _quantity in rows})
    prices: dict[Any, tuple[Decimal | None, str | None]] = {}
    if item_ids:
        prices = {
            pk: (price, currency)
            for pk, price, currency, item_owner in Item.objects.filter(pk__in=item_ids)
            .order_by()
            .values_list("pk", "price", "currency", "owner_id")
            if item_owner == owner
        }
    for cart_id, item_id, quantity in rows:
        summary = summaries[cart_id]
        if item_id not in prices:  # an item deleted under our feet: not in the cart any more
            continue
        summary.item_count += 1
        price, currency = prices[item_id]
        if price is not None:
            summary.totals[currency] = summary.totals.get(currency, Decimal("0")) + (
                Decimal(price) * quantity
            )
    return summaries


def cart_memberships(*, user: Any, cart: Cart) -> QuerySet[CartItem]:
    """The cart's memberships in the order the items were added (``carts_ci_cart_added``)."""
    if cart.owner_id != _user_pk(user):
        raise NotFound("Cart not found.")
    return CartItem.objects.filter(cart_id=cart.pk).order_by("added_at", "pk")


# -------------------------------------------------------------------------------------------
# Items
# -------------------------------------------------------------------------------------------


def item_get(*, user: Any, item_id: Any) -> Item:
    """The user's item ``item_id``; NotFound when unknown, malformed or someone else's."""
    oid = parse_object_id(item_id)
    item = Item.objects.filter(pk=oid).order_by().first() if oid else None
    if item is None or item.owner_id != _user_pk(user):
        raise NotFound("Item not found.")
    return item


def items_by_id(*, user: Any, item_ids: Iterable[Any]) -> dict[Any, Item]:
    """The user's items among ``item_ids``, by pk, in one ``_id $in`` read."""
    ids = list(dict.fromkeys(item_ids))
    if not ids:
        return {}
    owner = _user_pk(user)
    return {
        item.pk: item
        for item in Item.objects.filter(pk__in=ids).order_by()
        if item.owner_id == owner
    }


def item_cart_ids(*, user: Any, items: Iterable[Item]) -> dict[Any, list[str]]:
    """For each item, the ids of the carts it is in, in added order: the item's own
    ``cart_ids`` (the read model of its memberships the services keep, see
    ``carts.models.Item``), so no command. The user's items only: another's has none here."""
    owner = _user_pk(user)
    return {
        item.pk: [str(cart_id) for cart_id in item.cart_ids or []] if item.owner_id == owner else []
        for item in items
    }


def _search_pattern(search: str) -> str:
    """The search text as a literal, case-insensitive regex (``re.escape``).

    ``a.b`` does not match ``axb`` and ``(`` is not a regex error. (``icontains`` escapes too
    on this backend, but only implicitly; ``iregex`` with an explicit escape keeps the
    guarantee in our code, and the same pattern serves the in-memory filter below.)
    """
    return re.escape(search)


def _clean_search(search: str | None) -> str | None:
    if not search:
        return None
    search = search.strip()
    if len(search) > MAX_SEARCH_LENGTH:
        raise ValidationFailed(
            "Search text is too long.",
            fields={"search": [f"Ensure this field has at most {MAX_SEARCH_LENGTH} characters."]},
        )
    return search or None


_ORDER_FIELDS: dict[str, tuple[str, ...]] = {
    "-added_at": ("-created_at", "-pk"),
    "added_at": ("created_at", "pk"),
    "price": ("price", "-created_at", "-pk"),
    "-price": ("-price", "-created_at", "-pk"),
    "title": ("title", "-created_at", "-pk"),
    "-title": ("-title", "-created_at", "-pk"),
}


def item_list(
    *,
    user: Any,
    cart_id: str | None = None,
    store: str | None = None,
    availability: str | None = None,
    search: str | None = None,
    ordering: str = "-added_at",
) -> QuerySet[Item] | list[Item]:
    """All the user's items, filtered and ordered (``ITEM_ORDERINGS``).

    Without ``cart_id``: a query on the owner's indexes (``(owner, created_at)``,
    ``(owner, store_domain)``, ``(owner, availability)``, ``(owner, price)``), "added"
    meaning when the item was first saved. With ``cart_id``: the cart's membership ids first
    (at most ``MAX_ITEMS_PER_CART``), its items by ``_id``, then the filters and the order
    applied to that bounded set in memory, "added" meaning when it was added to that cart.
    An unknown or foreign cart is a validation error on ``cart``, like any bad filter.
    """
    if ordering not in ITEM_ORDERINGS:
        raise ValidationFailed(
            "Unknown ordering.", fields={"ordering": [f"Use one of: {', '.join(ITEM_ORDERINGS)}."]}
        )
    search = _clean_search(search)
    store = store.strip().lower().removeprefix("www.") if store else None
    owner = _user_pk(user)

    if cart_id is None:
        queryset = Item.objects.filter(owner_id=owner)
        if store:
            queryset = queryset.filter(store_domain=store)
        if availability:
            queryset = queryset.filter(availability=availability)
        if search:
            pattern = _search_pattern(search)
            queryset = queryset.filter(Q(title__iregex=pattern) | Q(brand__iregex=pattern))
        return queryset.order_by(*_ORDER_FIELDS[ordering])

    oid = parse_object_id(cart_id)
    cart = Cart.objects.filter(pk=oid).order_by().first() if oid else None
    if cart is None or cart.owner_id != owner:
        raise ValidationFailed("Unknown cart.", fields={"cart": ["Unknown cart."]})
    members = sorted(
        CartItem.objects.filter(cart_id=cart.pk).order_by().values_list("added_at", "pk", "item_id")
    )
    position = {item_id: index for index, (_added, _pk, item_id) in enumerate(members)}
    items = list(items_by_id(user=owner, item_ids=position).values())
    matcher = re.compile(_search_pattern(search), re.IGNORECASE) if search else None
    items = [
        item
        for item in items
        if (not store or item.store_domain == store)
        and (not availability or item.availability == availability)
        and (matcher is None or matcher.search(item.title) or matcher.search(item.brand))
    ]
    if ordering in ("added_at", "-added_at"):
        items.sort(key=lambda item: position[item.pk], reverse=ordering == "-added_at")
        return items
    newest_first = sorted(items, key=lambda item: (item.created_at, item.pk), reverse=True)
    field_name = ordering.lstrip("-")
    if field_name == "price":
        # As MongoDB orders them: no price before any price.
        def key(item: Item) -> tuple[bool, Any]:
            return (item.price is not None, item.price or Decimal(0))

    else:

        def key(item: Item) -> tuple[bool, Any]:
            return (True, item.title)

    return sorted(newest_first, key=key, reverse=ordering.startswith("-"))


def membership_rows(*, user: Any, cart: Cart) -> list[tuple[CartItem, Item]]:
    """All of a cart's memberships with their items, in added order (for emails and sharing)."""
    memberships = list(cart_memberships(user=user, cart=cart))
    items = items_by_id(user=user, item_ids=[membership.item_id for membership in memberships])
    return [(ms, items[ms.item_id]) for ms in memberships if ms.item_id in items]


def cart_counts_by_owner(*, owner_ids: Sequence[Any]) -> dict[Any, int]:
    """Number of carts of each owner in ``owner_ids``: one grouped read on the owner index.

    For staff pages (the user admin's "carts" column), which list many owners at once.
    """
    if not owner_ids:
        return {}
    rows = (
        Cart.objects.filter(owner_id__in=list(owner_ids))
        .values("owner_id")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {row["owner_id"]: row["count"] for row in rows}


def carts_counts() -> dict[str, int]:
    """Staff-wide (the admin dashboard): ``{"carts", "shared", "items"}``, two queries."""
    found = Cart.objects.aggregate(
        carts=Count("pk"), shared=Count("pk", filter=Q(share_token__isnull=False))
    )
    return {
        "carts": int(found["carts"] or 0),
        "shared": int(found["shared"] or 0),
        "items": Item.objects.count(),
    }
