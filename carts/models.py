"""Carts, items and the membership between them, laid out for MongoDB.

Three collections, no many-to-many field:

* ``carts_cart``: a user's named cart. The name is unique per owner, case-insensitively,
  through the derived ``name_lower`` column and a unique index on ``(owner, name_lower)``.
* ``carts_item``: a product as the user saved it, unique per ``(owner, canonical_url)``.
* ``carts_cartitem``: which carts an item is in (the membership), unique per ``(cart, item)``,
  with the quantity, a note and the price and currency the item had when it was added.

Why no ``ManyToManyField``: django-mongodb-backend turns every relation into a ``$lookup``
that starts from the whole left-hand collection, so a join grows with everything stored, not
with the answer (measured: 257 ms per cart read with 1,000 items stored, 443 ms with 2,000).
Every hot read therefore goes in two index-backed steps: the membership rows first (equality
on ``cart_id``, ordered by ``added_at``: index ``carts_ci_cart_added``), then
``Item.objects.filter(pk__in=ids)`` on the ``_id`` index, the owner checked on the items that
come back. See ``selectors.py``. Each item also carries the ids of its carts (``Item.cart_ids``),
a read model of its memberships kept in the same transaction as every membership write, so
that a cart read does not need a third read for them (issue 16).

Each cart's document also keeps, in raw fields no model field declares, its answer to
``GET carts/{id}/items/`` rendered (``items_view``), so that the hot read is one find by
``_id``, and its count and totals for ``GET carts/`` (``items_summary``); both are current
while they match the cart's raw ``items_view_gen`` counter, which every write that changes
the answer moves in its own transaction (``carts/read_model.py``). An ORM read of a cart
fetches the whole document, the view with it (``docs/scaling.md``, "One command").

Owner foreign keys carry ``db_index=False``: each collection has compound indexes that start
with ``owner_id`` and serve the same queries, so a single-field index would only cost writes.
``carts/tests/test_models.py`` reads the indexes back from MongoDB.
"""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_mongodb_backend.fields import ArrayField, ObjectIdField

from buyhive.product.availability import AVAILABILITY_CHOICES
from buyhive.product.money import MAX_EXPONENT
from buyhive.product.urls import CanonicalUrl, canonicalize_url
from carts.watch.matching import match_key

# Bounded text, shared by the models, the serializers and the legacy importer.
CART_NAME_MAX = 100
CART_DESCRIPTION_MAX = 1000
URL_MAX = 2048
TITLE_MAX = 500
BRAND_MAX = 200
DESCRIPTION_MAX = 5000
IDENTIFIER_MAX = 100
NOTE_MAX = 1000
PRICE_RAW_MAX = 200
STORE_DOMAIN_MAX = 253
LEGACY_ID_MAX = 100
QUANTITY_MAX = 999

#: Prices are stored as Decimal128 at exactly their currency's exponent (``1500`` JPY,
#: ``12.345`` KWD, ``19.99`` USD; ``buyhive.product.money``), which MongoDB keeps as written.
#: The field allows the most decimals any currency has and the services enforce each
#: currency's own; below ``MAX_PRICE`` (10^9) that is at most 9 integer digits.
PRICE_DECIMAL_PLACES = MAX_EXPONENT
PRICE_MAX_DIGITS = 9 + MAX_EXPONENT


def normalize_cart_name(name: str) -> str:
    """The key two cart names are compared on: NFKC, trimmed, inner spaces collapsed, casefolded.

    ``"Gifts"``, ``" gifts "`` and ``"GIFTS"`` are one name; so are ``"Straße"`` and
    ``"STRASSE"`` (casefold, not lower).
    """
    text = unicodedata.normalize("NFKC", name or "")
    return " ".join(text.split()).casefold()


def store_domain_of(url: str) -> str:
    """The shop's host without a leading ``www.`` (``""`` when the URL has none)."""
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return ""
    if host.startswith("www."):
        host = host[4:]
    return host[:STORE_DOMAIN_MAX]


class Cart(models.Model):
    # Foreign-key ids, declared for type checkers only (django-stubs does not synthesise them
    # for ObjectId keys); no runtime effect.
    owner_id: Any

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="carts", db_index=False
    )
    name = models.CharField(max_length=CART_NAME_MAX)
    #: ``normalize_cart_name(name)``, kept by ``save()``; unique per owner.
    name_lower = models.CharField(max_length=CART_NAME_MAX * 3, editable=False)
    description = models.TextField(blank=True, max_length=CART_DESCRIPTION_MAX)
    #: The read-only public link's token (``secrets.token_urlsafe(32)``), null when not shared.
    #: A nullable unique field: django-mongodb-backend indexes it with a partial filter on the
    #: string type, so any number of carts can be unshared.
    share_token = models.CharField(max_length=64, null=True, blank=True, unique=True)
    shared_at = models.DateTimeField(null=True, blank=True)
    #: The prototype's ``cart_id`` (a uuid4 string) for carts moved by ``import_legacy``.
    legacy_id = models.CharField(max_length=LEGACY_ID_MAX, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name_lower"], name="carts_cart_owner_name"),
            # Both fields are typed in the index's partial filter: null legacy ids are not indexed.
            models.UniqueConstraint(fields=["owner", "legacy_id"], name="carts_cart_owner_legacy"),
        ]
        indexes = [
            models.Index(fields=["owner", "created_at"], name="carts_cart_owner_created"),
            models.Index(fields=["created_at"], name="carts_cart_created"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.name_lower = normalize_cart_name(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "name_lower"}
        super().save(*args, **kwargs)


class Item(models.Model):
    owner_id: Any  # for type checkers, see Cart

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="items", db_index=False
    )
    #: Blank only for legacy items the prototype saved without an address.
    url = models.URLField(max_length=URL_MAX, blank=True)
    #: ``buyhive.product.urls.canonicalize_url(url)``, kept by ``save()``; unique per owner. Null
    #: when there is no URL (the partial unique index skips nulls).
    canonical_url = models.CharField(max_length=URL_MAX, null=True, blank=True, editable=False)
    title = models.CharField(max_length=TITLE_MAX, blank=True)
    brand = models.CharField(max_length=BRAND_MAX, blank=True)
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX)
    price = models.DecimalField(
        max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMAL_PLACES, null=True, blank=True
    )
    #: ISO 4217 code (``buyhive.product.money``), null when the page showed none.
    currency = models.CharField(max_length=3, null=True, blank=True)
    #: The price as text when it could not be parsed (legacy data); never dropped.
    price_raw = models.CharField(max_length=PRICE_RAW_MAX, blank=True)
    image_url = models.URLField(max_length=URL_MAX, blank=True)
    availability = models.CharField(max_length=32, blank=True, choices=AVAILABILITY_CHOICES)
    sku = models.CharField(max_length=IDENTIFIER_MAX, blank=True)
    gtin = models.CharField(max_length=IDENTIFIER_MAX, blank=True)
    mpn = models.CharField(max_length=IDENTIFIER_MAX, blank=True)
    #: Variant attributes: ``{"size": "M", "colour": "blue"}``.
    variant = models.JSONField(default=dict, blank=True)
    #: The price watch's ``match`` string (``carts.watch.matching``), kept by ``save()``.
    watch_key = models.CharField(max_length=URL_MAX, null=True, blank=True, editable=False)
    #: The shop's host, derived from ``url`` by ``save()``.
    store_domain = models.CharField(max_length=STORE_DOMAIN_MAX, blank=True, editable=False)
    #: Where each field came from and the page/image checks with their scores.
    extraction = models.JSONField(default=dict, blank=True)
    #: The ids of the carts the item is in, in the order it was added to them: a read model
    #: of its ``CartItem`` rows, so that a cart read answers every item's ``cart_ids`` without
    #: a second read of the memberships (issue 16). Never written on its own: every write of
    #: a membership writes it in the same transaction (``carts.services.memberships``), and
    #: that write of the item is also what makes concurrent membership changes of one item
    #: conflict. Migration 0005 filled it from the memberships.
    cart_ids = ArrayField(ObjectIdField(), default=list, blank=True, editable=False)
    #: When the item last left its last cart; null while it is in at least one cart.
    #: ``purge_orphan_items`` deletes items orphaned for longer than asked.
    orphaned_at = models.DateTimeField(null=True, blank=True)
    #: The prototype's ``item_id`` (a uuid4 string) for items moved by ``import_legacy``.
    legacy_id = models.CharField(max_length=LEGACY_ID_MAX, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "canonical_url"], name="carts_item_owner_url"),
            models.UniqueConstraint(fields=["owner", "legacy_id"], name="carts_item_owner_legacy"),
        ]
        indexes = [
            models.Index(fields=["owner", "created_at"], name="carts_item_owner_created"),
            models.Index(fields=["owner", "store_domain"], name="carts_item_owner_store"),
            models.Index(fields=["owner", "availability"], name="carts_item_owner_avail"),
            models.Index(fields=["owner", "price"], name="carts_item_owner_price"),
            models.Index(fields=["orphaned_at"], name="carts_item_orphaned"),
            models.Index(fields=["watch_key"], name="carts_item_watch_key"),
            models.Index(fields=["created_at"], name="carts_item_created"),
        ]

    def __str__(self) -> str:
        return self.title or self.canonical_url or f"item {self.pk}"

    #: The ``url`` that ``canonical_url`` was last computed from (not a field): ``save()``
    #: canonicalises again only when ``url`` changed since.
    _canonical_of: str | None = None

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.url:
            self.canonical_url = None
        elif self._canonical_of != self.url:
            self.canonical_url = canonicalize_url(self.url)[:URL_MAX]
        self._canonical_of = self.url or None
        self.store_domain = store_domain_of(self.canonical_url or "")
        self.watch_key = match_key(self.url) or None if self.url else None
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "url" in update_fields:
            kwargs["update_fields"] = {*update_fields, "canonical_url", "store_domain", "watch_key"}
        super().save(*args, **kwargs)

    def use_canonical(self, address: CanonicalUrl) -> None:
        """Take ``address.canonical`` as this item's canonical URL when ``address`` is this
        item's ``url`` (a request canonicalises its address once and passes it down)."""
        if self.url and address.url == self.url:
            self.canonical_url = address.canonical[:URL_MAX]
            self._canonical_of = self.url


class CartItem(models.Model):
    """An item's membership in one cart.

    ``owner`` repeats ``cart.owner`` (always equal to ``item.owner``) so that scoping and
    admin lists filter on the membership's own indexed field instead of joining.
    """

    cart_id: Any  # for type checkers, see Cart
    item_id: Any
    owner_id: Any

    cart = models.ForeignKey(
        Cart, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="memberships")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="cart_memberships",
        db_index=False,
    )
    added_at = models.DateTimeField(default=timezone.now)
    quantity = models.PositiveIntegerField(default=1)
    note = models.TextField(blank=True, max_length=NOTE_MAX)
    #: The item's price and currency when it was added, to show a price change later.
    price_at_add = models.DecimalField(
        max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMAL_PLACES, null=True, blank=True
    )
    currency_at_add = models.CharField(max_length=3, null=True, blank=True)
    #: The prototype's ``item_id`` for memberships moved by ``import_legacy``.
    legacy_id = models.CharField(max_length=LEGACY_ID_MAX, null=True, blank=True)

    class Meta:
        ordering = ["added_at"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "item"], name="carts_ci_cart_item"),
        ]
        indexes = [
            models.Index(fields=["cart", "added_at"], name="carts_ci_cart_added"),
            models.Index(fields=["owner", "added_at"], name="carts_ci_owner_added"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} in {self.cart_id}"


class CartOwner(models.Model):
    """One row per user who has carts: the serialisation point for the carts-per-user cap.

    Creating a cart first writes this row inside the transaction, so two concurrent creations
    for one user conflict (MongoDB answers ``WriteConflict``, a ``TransientTransactionError``),
    the loser retries, and its fresh snapshot counts the winner's cart: the cap is exact under
    concurrency. It holds no count of its own (nothing to drift); the count is always read
    from the ``carts_cart_owner_created`` index.
    """

    owner_id: Any  # for type checkers, see Cart

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cart_owner"
    )
    touched_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"cart owner {self.owner_id}"


# The price watch's models (carts/watch/models.py), here so that migrations find them.
from carts.watch.models import (  # noqa: E402, F401
    DailyPoint,
    ExchangeRates,
    Observation,
    WatchedProduct,
)
