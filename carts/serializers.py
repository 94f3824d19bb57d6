"""Output shapes of the carts API, shared by several views (inputs live in ``carts.apis``).

Ids are strings (ObjectIds): every id field is declared, never inferred by a
``ModelSerializer``, which fails on ObjectId keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from bson import Decimal128
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.fields import get_attribute

from buyhive.product.availability import AVAILABILITY_TERMS
from buyhive.product.money import MAX_PRICE, amount_to_api, normalize_currency
from buyhive.product.urls import canonicalize_url
from buyhive.serializers import HttpUrlStringField
from carts import models as m
from carts.services import share_url
from carts.validation import clean_availability, clean_http_url, clean_variant

#: What a price input accepts before its currency is known: the most decimals any currency
#: has. Whether the decimals fit the item's currency is the services' check (a 400 on
#: ``price``), because a PATCH may send the price without the currency it is in.
PRICE_FIELD_OPTIONS: dict[str, Any] = {
    "max_digits": m.PRICE_MAX_DIGITS,
    "decimal_places": m.PRICE_DECIMAL_PLACES,
    "min_value": Decimal("0"),
    "max_value": MAX_PRICE - Decimal(1).scaleb(-m.PRICE_DECIMAL_PLACES),
}


@extend_schema_field(
    {"type": "string", "nullable": True, "example": "19.99", "pattern": r"^\d+(\.\d+)?$"}
)
class AmountField(serializers.Field):
    """An amount as a plain decimal string with its currency's decimals: ``"1500"`` JPY,
    ``"12.345"`` KWD, ``"19.99"`` USD (``buyhive.product.money.amount_to_api``).

    ``amount`` and ``currency`` are attribute paths on the object (``membership.price_at_add``),
    so the amount is always written with the currency it is in.
    """

    def __init__(self, *, amount: str, currency: str, **kwargs: Any) -> None:
        self.amount_path = amount.split(".")
        self.currency_path = currency.split(".")
        kwargs.update(source="*", read_only=True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str | None:
        return amount_to_api(
            get_attribute(value, self.amount_path),
            currency=get_attribute(value, self.currency_path),
        )


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(required=False)  # type: ignore[assignment]


@extend_schema_serializer(component_name="CartsError")
class ErrorSerializer(serializers.Serializer):
    """The error envelope every refusal answers with."""

    error = ErrorDetailSerializer()
    request_id = serializers.CharField(allow_null=True)


class TotalSerializer(serializers.Serializer):
    currency = serializers.CharField(allow_null=True, help_text="ISO 4217 code")
    amount = serializers.CharField(
        help_text='Decimal string with the currency\'s decimals, e.g. "59.97", "1500" (JPY)'
    )


class ConvertedTotalSerializer(serializers.Serializer):
    currency = serializers.CharField()
    amount = serializers.CharField()
    rates_date = serializers.DateField(allow_null=True, help_text="The ECB publication day used")
    left_out = serializers.ListField(
        child=serializers.CharField(), help_text="Currencies without a rate, not added"
    )


@extend_schema_serializer(component_name="Cart")
class CartOutputSerializer(serializers.Serializer):
    """A cart with its item count and totals (``carts.selectors.CartSummary``).

    The view attaches ``summary`` to each cart before serialising.
    """

    id = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    item_count = serializers.IntegerField(read_only=True, source="summary.item_count")
    totals = serializers.SerializerMethodField(
        help_text="Sum of quantity x each item's current price, one entry per currency."
    )
    share_url = serializers.SerializerMethodField(
        help_text="The public read-only link, or null when the cart is not shared."
    )
    total_converted = serializers.SerializerMethodField(
        help_text="With `?currency=`: the totals in that currency (ECB reference rates); "
        "null without it."
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field(ConvertedTotalSerializer(allow_null=True))
    def get_total_converted(self, cart: m.Cart) -> dict[str, Any] | None:
        return getattr(cart, "total_converted", None)

    @extend_schema_field(TotalSerializer(many=True))
    def get_totals(self, cart: m.Cart) -> list[dict[str, str | None]]:
        return cart.summary.totals_list()  # type: ignore[attr-defined]

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_share_url(self, cart: m.Cart) -> str | None:
        return share_url(cart.share_token) if cart.share_token else None


@extend_schema_serializer(component_name="Item")
class ItemOutputSerializer(serializers.Serializer):
    """An item; ``cart_ids`` lists the carts it is in (the view attaches them)."""

    id = serializers.CharField(read_only=True)
    url = serializers.CharField(read_only=True)
    canonical_url = serializers.CharField(read_only=True, allow_null=True)
    title = serializers.CharField(read_only=True)
    brand = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    price = AmountField(amount="price", currency="currency")
    currency = serializers.CharField(read_only=True, allow_null=True)
    price_raw = serializers.CharField(
        read_only=True, help_text="The price as text when it could not be parsed (legacy)."
    )
    image_url = serializers.CharField(read_only=True)
    availability = serializers.CharField(
        read_only=True, help_text="A schema.org ItemAvailability term, or empty."
    )
    sku = serializers.CharField(read_only=True)
    gtin = serializers.CharField(read_only=True)
    mpn = serializers.CharField(read_only=True)
    variant = serializers.DictField(child=serializers.CharField(), read_only=True)
    store_domain = serializers.CharField(read_only=True)
    extraction = serializers.JSONField(
        read_only=True, help_text="Where each field came from; page and image checks."
    )
    cart_ids = serializers.ListField(child=serializers.CharField(), read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


@extend_schema_serializer(component_name="CartItem")
class CartItemOutputSerializer(ItemOutputSerializer):
    """An item as it sits in one cart: the item plus its membership in that cart."""

    added_at = serializers.DateTimeField(read_only=True, source="membership.added_at")
    quantity = serializers.IntegerField(read_only=True, source="membership.quantity")
    note = serializers.CharField(read_only=True, source="membership.note")
    price_at_add = AmountField(
        amount="membership.price_at_add",
        currency="membership.currency_at_add",
        help_text="The item's price when it was added to this cart.",
    )
    currency_at_add = serializers.CharField(
        read_only=True, allow_null=True, source="membership.currency_at_add"
    )


@lru_cache(maxsize=8192)
def _amount_of_bid(bid: bytes, currency: str | None) -> str | None:
    return amount_to_api(Decimal128.from_bid(bid).to_decimal(), currency=currency)


def _amount(value: Any, currency: str | None) -> str | None:
    """A stored amount (BSON Decimal128) as ``AmountField`` writes it.

    Memoised on the amount's 16 bytes and the currency: ``Decimal128.to_decimal`` and the
    rounding cost about as much as everything else in an item's answer, and a user's cart
    is read again and again with the same prices.
    """
    if value is None:
        return None
    bid = getattr(value, "bid", None)
    if bid is None:
        return amount_to_api(Decimal(value), currency=currency)
    return _amount_of_bid(bid, currency)


@lru_cache(maxsize=8192)
def utc_iso(value: datetime | None) -> str | None:
    """A stored time as ``DateTimeField`` writes it: ISO 8601, ``Z`` for UTC (memoised: the
    same item's times come back on every read of its cart).

    pymongo answers naive UTC times; the API's zone is UTC (``TIME_ZONE``, never activated
    otherwise), so the serializer's ``astimezone`` would change nothing.
    """
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat() + "Z"


def cart_item_to_api(membership: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """The ``CartItem`` answer (:class:`CartItemOutputSerializer`'s shape and values) built
    from the raw documents of a membership and its item.

    The hot read of issue 16 (``GET carts/{id}/items/``, 50 items) skips model instances and
    the serializer, which cost most of its CPU. Text fields are taken as stored (the model's
    ``CharField``/``TextField`` only ever store ``str`` or null). ``carts/tests/
    test_read_model.py`` checks that both give the same answer, key order included, for
    every kind of value (no price, no currency, odd exponents, variants, extraction
    details, several carts).
    """
    get = item.get
    currency = get("currency")
    variant = get("variant")
    cart_ids = get("cart_ids")
    quantity = membership.get("quantity")
    currency_at_add = membership.get("currency_at_add")
    return {
        "id": str(item["_id"]),
        "url": get("url"),
        "canonical_url": get("canonical_url"),
        "title": get("title"),
        "brand": get("brand"),
        "description": get("description"),
        "price": _amount(get("price"), currency),
        "currency": currency,
        "price_raw": get("price_raw"),
        "image_url": get("image_url"),
        "availability": get("availability"),
        "sku": get("sku"),
        "gtin": get("gtin"),
        "mpn": get("mpn"),
        "variant": None
        if variant is None
        else {str(k): None if v is None else str(v) for k, v in variant.items()},
        "store_domain": get("store_domain"),
        "extraction": get("extraction"),
        "cart_ids": None if cart_ids is None else [str(cart_id) for cart_id in cart_ids],
        "created_at": utc_iso(get("created_at")),
        "updated_at": utc_iso(get("updated_at")),
        "added_at": utc_iso(membership.get("added_at")),
        "quantity": None if quantity is None else int(quantity),
        "note": membership.get("note"),
        "price_at_add": _amount(membership.get("price_at_add"), currency_at_add),
        "currency_at_add": currency_at_add,
    }


#: Query parameters that identify a visitor rather than a product (session ids, the address
#: a newsletter link was sent to, sign-in tokens). Compared lower-cased.
PRIVATE_QUERY_PARAMS = frozenset(
    {
        "sessionid", "session", "session_id", "sid", "jsessionid", "phpsessid", "aspsessionid",
        "email", "e-mail", "mail", "token", "access_token", "auth", "key", "customer_id",
        "user_id", "uid",
    }
)  # fmt: skip


def public_item_url(url: str) -> str:
    """The item's address as the public share page shows it.

    The canonical form (tracking parameters such as ``gclid`` and ``utm_*`` dropped, no
    fragment), without a user name or password, and without the parameters that identify
    the visitor who saved it (:data:`PRIVATE_QUERY_PARAMS`): a shared cart must not hand
    the owner's session or address to whoever holds the link.
    """
    canonical = canonicalize_url(url)
    try:
        parts = urlsplit(canonical)
    except ValueError:
        return ""
    netloc = parts.netloc.rpartition("@")[2]
    pairs = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in PRIVATE_QUERY_PARAMS
    ]
    query = urlencode(pairs, quote_via=quote, safe="-._~!$'()*,;:@/")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class SharedItemSerializer(serializers.Serializer):
    """An item as the public sees it: what it is and where to buy it, nothing about its owner.

    ``url`` is :func:`public_item_url`: no tracking, session or personal parameters.
    """

    title = serializers.CharField(read_only=True)
    brand = serializers.CharField(read_only=True)
    price = AmountField(amount="price", currency="currency")
    currency = serializers.CharField(read_only=True, allow_null=True)
    image_url = serializers.CharField(read_only=True)
    url = serializers.SerializerMethodField()
    availability = serializers.CharField(read_only=True)
    variant = serializers.DictField(child=serializers.CharField(), read_only=True)
    store_domain = serializers.CharField(read_only=True)
    quantity = serializers.IntegerField(read_only=True, source="membership.quantity")
    added_at = serializers.DateTimeField(read_only=True, source="membership.added_at")

    def get_url(self, item: Any) -> str:
        return public_item_url(item.url)


@extend_schema_serializer(component_name="SharedCart")
class SharedCartSerializer(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    item_count = serializers.IntegerField(read_only=True)
    totals = TotalSerializer(many=True, read_only=True)
    items = SharedItemSerializer(many=True, read_only=True)


# ------------------------------------------------------------------------------ input fields


class ItemFieldsInputSerializer(serializers.Serializer):
    """The item fields a client may send (allow-list); anything else is ignored.

    The rules are ``carts.validation``'s, applied again by the services.
    """

    url = HttpUrlStringField(max_length=m.URL_MAX, help_text="http(s) only")
    title = serializers.CharField(
        max_length=m.TITLE_MAX, required=False, allow_blank=True, allow_null=True
    )
    brand = serializers.CharField(
        max_length=m.BRAND_MAX, required=False, allow_blank=True, allow_null=True
    )
    description = serializers.CharField(
        max_length=m.DESCRIPTION_MAX, required=False, allow_blank=True, allow_null=True
    )
    price = serializers.DecimalField(
        **PRICE_FIELD_OPTIONS,
        required=False,
        allow_null=True,
        help_text="At least 0, below 10^9, with at most the currency's decimals "
        "(USD 2, JPY 0, KWD 3; 2 without a currency).",
    )
    currency = serializers.CharField(
        max_length=3, required=False, allow_blank=True, allow_null=True, help_text="ISO 4217"
    )
    image_url = HttpUrlStringField(
        max_length=m.URL_MAX, required=False, allow_blank=True, allow_null=True
    )
    availability = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="A schema.org ItemAvailability term: " + ", ".join(sorted(AVAILABILITY_TERMS)),
    )
    sku = serializers.CharField(
        max_length=m.IDENTIFIER_MAX, required=False, allow_blank=True, allow_null=True
    )
    gtin = serializers.CharField(
        max_length=m.IDENTIFIER_MAX, required=False, allow_blank=True, allow_null=True
    )
    mpn = serializers.CharField(
        max_length=m.IDENTIFIER_MAX, required=False, allow_blank=True, allow_null=True
    )
    variant = serializers.DictField(
        child=serializers.CharField(max_length=200, allow_blank=True),
        required=False,
        allow_null=True,
        help_text='Variant attributes, e.g. {"size": "M", "colour": "blue"}.',
    )

    def _apply(self, cleaner: Any, value: Any) -> Any:
        try:
            return cleaner(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def validate_url(self, value: str) -> str:
        return self._apply(clean_http_url, value)

    def validate_image_url(self, value: str | None) -> str:
        if not value:
            return ""
        return self._apply(clean_http_url, value)

    def validate_currency(self, value: str | None) -> str | None:
        if not value:
            return None
        code = normalize_currency(value)
        if code is None:
            raise serializers.ValidationError("Enter a known ISO 4217 currency code (e.g. USD).")
        return code

    def validate_availability(self, value: str | None) -> str:
        return self._apply(clean_availability, value)

    def validate_variant(self, value: dict[str, Any] | None) -> dict[str, str]:
        return self._apply(clean_variant, value)
