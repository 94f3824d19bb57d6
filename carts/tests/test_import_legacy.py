"""``import_legacy`` on prototype-shaped documents in a separate database of the test server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from bson import ObjectId
from django.core.management import call_command
from django.db import connection
from pymongo import MongoClient

from accounts.models import User
from carts.legacy import parse_legacy_datetime, parse_legacy_price
from carts.models import Cart, CartItem, Item

pytestmark = pytest.mark.django_db

GIFTS, LATER, DUP1, DUP2 = (str(uuid.uuid4()) for _ in range(4))
KETTLE, MUG, POSTER, SHADY, SAME_A, SAME_B = (str(uuid.uuid4()) for _ in range(6))


def _item(item_id: str, name: str, price: Any, url: Any, **extra: Any) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "name": name,
        "price": price,
        "image": extra.pop("image", "https://cdn.example.com/x.jpg"),
        "url": url,
        "notes": extra.pop("notes", None),
        "added_at": extra.pop("added_at", "2024-03-01T10:00:00Z"),
        "selected_cart_ids": extra.pop("selected_cart_ids", []),
        **extra,
    }


def _documents() -> list[dict[str, Any]]:
    ann = {
        "_id": ObjectId(),
        "email": "Ann@Example.com",
        "name": "Ann",
        "cart_count": 2,
        "carts": [
            {
                "cart_id": GIFTS,
                "cart_name": "Gifts",
                "item_count": 4,
                "created_at": "2024-01-02T03:04:05",
                "items": [
                    _item(
                        KETTLE,
                        "Kettle",
                        "$19.99",
                        "https://shop.example.com/kettle?utm_source=x",
                        notes="for mum",
                        added_at="2024-02-01T09:00:00+00:00",
                        selected_cart_ids=[GIFTS, LATER],
                    ),
                    _item(MUG, "Mug", "19,99 €", "https://shop.example.com/mug", image=None),
                    _item(POSTER, "Poster", "call for price", None, added_at="yesterday"),
                    _item(SHADY, "Shady", "12", "javascript:alert(1)", image="data:image/png,x"),
                    {"name": "no id", "price": "1"},
                    "not an object",
                ],
            },
            {
                "cart_id": LATER,
                "cart_name": "Later",
                "item_count": 1,
                "created_at": "2024-01-05T00:00:00Z",
                "items": [
                    _item(
                        KETTLE,
                        "Kettle",
                        "$21.00",
                        "https://shop.example.com/kettle",
                        notes="maybe",
                        added_at="2024-02-10T09:00:00Z",
                        selected_cart_ids=[GIFTS, LATER],
                    )
                ],
            },
            {"cart_name": "No id", "items": []},
        ],
    }
    bob = {
        "_id": ObjectId(),
        "email": "Bob@Example.com",
        "name": "Bob",
        "carts": [
            {
                "cart_id": DUP1,
                "cart_name": "Wishlist",
                "items": [_item(SAME_A, "Shoe", "USD 50", "https://s.example.com/shoe?size=9")],
            },
            {
                "cart_id": DUP2,
                "cart_name": "wishlist",
                "items": [
                    _item(
                        SAME_B,
                        "Shoe again",
                        "50",
                        "https://s.example.com/shoe?size=9&gclid=1",
                        selected_cart_ids=[DUP1, DUP2],
                    )
                ],
            },
        ],
    }
    no_email = {"_id": ObjectId(), "name": "Nobody", "carts": []}
    bad_carts = {"_id": ObjectId(), "email": "carol@example.com", "carts": "oops"}
    return [ann, bob, no_email, bad_carts]


@pytest.fixture
def legacy_db() -> Iterator[tuple[str, str]]:
    uri = connection.settings_dict["HOST"]
    name = f"legacy_test_{uuid.uuid4().hex[:12]}"
    client: MongoClient[dict[str, Any]] = MongoClient(uri)
    client[name]["cartItems"].insert_many(_documents())
    try:
        yield uri, name
    finally:
        client.drop_database(name)
        client.close()


def _run(uri: str, name: str, *extra: str) -> str:
    out = StringIO()
    call_command("import_legacy", "--uri", uri, "--db", name, *extra, stdout=out)
    return out.getvalue()


def _count(output: str, key: str) -> int:
    for line in output.splitlines():
        if line.strip().startswith(f"{key}:"):
            return int(line.split(":")[1])
    raise AssertionError(f"{key} not in output:\n{output}")


def _state() -> tuple[int, int, int, int]:
    return (
        User.objects.count(),
        Cart.objects.count(),
        Item.objects.count(),
        CartItem.objects.count(),
    )


def test_import_maps_users_carts_items_and_memberships(
    legacy_db: tuple[str, str], other_user: User
) -> None:
    output = _run(*legacy_db)

    assert _count(output, "documents") == 4
    assert _count(output, "documents_imported") == 2
    assert _count(output, "documents_failed") == 2
    assert _count(output, "users_created") == 1  # Bob already had an account
    assert _count(output, "users_existing") == 1
    assert _count(output, "carts_created") == 4
    assert _count(output, "prices_unparsed") == 1
    assert "no valid email" in output
    assert "'carts' is not a list" in output
    assert "the cart has no usable cart_id" in output
    assert "the item has no usable item_id" in output
    assert "the item is not an object" in output
    assert "is not ISO 8601" in output  # a warning, the item is still imported

    ann = User.objects.get(email="ann@example.com")
    assert ann.name == "Ann"
    assert not ann.has_usable_password()
    gifts = Cart.objects.get(owner=ann, legacy_id=GIFTS)
    later = Cart.objects.get(owner=ann, legacy_id=LATER)
    assert gifts.name == "Gifts"
    assert gifts.created_at.isoformat().startswith("2024-01-02T03:04:05")

    # The kettle is one item in two carts, with each copy's note, time and price snapshot.
    kettle = Item.objects.get(owner=ann, legacy_id=KETTLE)
    assert kettle.canonical_url == "https://shop.example.com/kettle"
    assert (kettle.price, kettle.currency) == (Decimal("21.00"), "USD")  # latest copy
    in_gifts = CartItem.objects.get(cart=gifts, item=kettle)
    in_later = CartItem.objects.get(cart=later, item=kettle)
    assert (in_gifts.note, in_gifts.price_at_add) == ("for mum", Decimal("19.99"))
    assert (in_later.note, in_later.price_at_add) == ("maybe", Decimal("21.00"))
    assert in_gifts.added_at.isoformat().startswith("2024-02-01T09:00:00")
    assert kettle.orphaned_at is None

    mug = Item.objects.get(owner=ann, legacy_id=MUG)
    assert (mug.price, mug.currency, mug.image_url) == (Decimal("19.99"), "EUR", "")
    poster = Item.objects.get(owner=ann, legacy_id=POSTER)
    assert (poster.price, poster.price_raw, poster.url) == (None, "call for price", "")
    assert poster.extraction["legacy"]["added_at"] == "yesterday"
    shady = Item.objects.get(owner=ann, legacy_id=SHADY)
    assert (shady.url, shady.image_url) == ("", "")  # refused, but kept:
    assert shady.extraction["legacy"]["url"] == "javascript:alert(1)"
    assert CartItem.objects.filter(cart=gifts).count() == 4

    # Bob: linked by email; the second "wishlist" renamed; the same shoe merged into one item.
    bob_carts = Cart.objects.filter(owner=other_user).order_by("created_at", "pk")
    assert sorted(cart.name for cart in bob_carts) == ["Wishlist", "wishlist (2)"]
    shoes = Item.objects.filter(owner=other_user)
    assert shoes.count() == 1
    assert CartItem.objects.filter(item=shoes.get()).count() == 2
    assert set(CartItem.objects.filter(owner=other_user).values_list("legacy_id", flat=True)) == {
        SAME_A,
        SAME_B,
    }


def test_import_is_idempotent(legacy_db: tuple[str, str], other_user: User) -> None:
    _run(*legacy_db)
    after_first = _state()
    output = _run(*legacy_db)
    assert _state() == after_first
    for key in ("users_created", "carts_created", "items_created", "memberships_created"):
        assert _count(output, key) == 0, key
    assert _count(output, "carts_existing") == 4
    assert _count(output, "memberships_existing") == 7


def test_dry_run_writes_nothing_but_reports(legacy_db: tuple[str, str]) -> None:
    before = _state()
    output = _run(*legacy_db, "--dry-run")
    assert "Would import" in output
    assert _count(output, "carts_created") == 4
    assert _count(output, "memberships_created") == 7
    assert _state() == before


class Terminal(StringIO):
    """A stderr that says it is a terminal, as an operator's shell is."""

    def isatty(self) -> bool:
        return True


def test_progress_counts_documents_on_a_terminal_stderr(legacy_db: tuple[str, str]) -> None:
    uri, name = legacy_db
    out, err = StringIO(), Terminal()
    call_command("import_legacy", "--uri", uri, "--db", name, stdout=out, stderr=err)
    bar = err.getvalue()
    assert "import" in bar
    assert "4/4" in bar  # every document read, out of the collection's estimate
    assert "doc" in bar
    assert "\r" in bar  # redrawn in place
    assert "4/4" not in out.getvalue()  # the report on stdout has no bar in it


def test_no_progress_when_stderr_is_not_a_terminal(legacy_db: tuple[str, str]) -> None:
    uri, name = legacy_db
    out, err = StringIO(), StringIO()
    call_command("import_legacy", "--uri", uri, "--db", name, stdout=out, stderr=err)
    assert err.getvalue() == ""
    assert _count(out.getvalue(), "documents") == 4


def test_unreachable_source_is_a_command_error() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command(
            "import_legacy",
            "--uri",
            "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200&directConnection=true",
            stdout=StringIO(),
        )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("$19.99", (Decimal("19.99"), "USD")),
        ("19,99 €", (Decimal("19.99"), "EUR")),
        ("19.99", (Decimal("19.99"), None)),
        ("£1,299.00", (Decimal("1299.00"), "GBP")),
        ("12 kr", (Decimal("12.00"), None)),  # ambiguous symbol: not guessed
        (19.5, (Decimal("19.50"), None)),
        ("call for price", (None, None)),
        ("", (None, None)),
        (None, (None, None)),
        (True, (None, None)),
        (["19"], (None, None)),
        ("$2,000,000,000", (None, None)),  # out of range: kept as raw text by the importer
    ],
)
def test_parse_legacy_price(raw: Any, expected: tuple[Decimal | None, str | None]) -> None:
    assert parse_legacy_price(raw) == expected


@pytest.mark.parametrize(
    ("raw", "amount", "currency"),
    [("JPY 1500", "1500", "JPY"), ("BHD 1.5", "1.500", "BHD"), ("$5", "5.00", "USD")],
)
def test_parse_legacy_price_uses_the_currencys_decimals(
    raw: str, amount: str, currency: str
) -> None:
    parsed, code = parse_legacy_price(raw)
    assert parsed is not None
    assert (format(parsed, "f"), code) == (amount, currency)


def test_parse_legacy_datetime() -> None:
    assert parse_legacy_datetime("2024-01-02T03:04:05Z").isoformat() == "2024-01-02T03:04:05+00:00"
    assert parse_legacy_datetime("2024-01-02").tzinfo is not None
    assert parse_legacy_datetime("soon") is None
    assert parse_legacy_datetime(None) is None


def test_import_fills_the_items_read_model(legacy_db: tuple[str, str]) -> None:
    """Imported memberships are bulk-written: the items' ``cart_ids`` follow them."""
    from carts.tests.test_read_model import _assert_read_model

    uri, name = legacy_db
    _run(uri, name)
    _run(uri, name)  # again: nothing new, nothing drifts
    assert CartItem.objects.exists()
    for owner in User.objects.all():
        _assert_read_model(owner)
    assert any(len(item.cart_ids) == 2 for item in Item.objects.all())
