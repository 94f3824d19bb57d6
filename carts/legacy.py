"""Moving the prototype's data (``buyHive.cartItems``) into users, carts, items and memberships.

The prototype keeps one document per user::

    {"_id": ObjectId, "email": str, "name": str, "cart_count": int,
     "carts": [{"cart_id": "<uuid4>", "cart_name": str, "item_count": int,
                "created_at": "<ISO 8601>",
                "items": [{"item_id": "<uuid4>", "name": str, "price": str, "image": str|null,
                           "url": str|null, "notes": str|null, "added_at": "<ISO 8601>",
                           "selected_cart_ids": ["<cart_id>", ...]}]}]}

The same item is copied into every cart it is in, under the same ``item_id``. Mapping:

* the user is found or created by email (normalised), with no usable password: they sign in
  with Google;
* a cart becomes a ``Cart`` with ``legacy_id = cart_id``; its name, made unique per user
  case-insensitively (``"Gifts (2)"``) when the prototype had two carts the new rule forbids;
* an item becomes one ``Item`` per (user, ``item_id``), ``legacy_id = item_id``; two
  prototype items with the same canonical URL become one item (the uniqueness rule), both
  memberships kept; the item takes its fields from its most recently added copy;
* each copy becomes a ``CartItem`` with its notes, ``added_at`` and price snapshot;
* ``price`` is parsed to a Decimal (``price-parser``) and a currency (the sign table of
  ``buyhive.product.currency_signs``; an ambiguous symbol such as ``kr`` stays unknown rather than
  guessed). A price that cannot be parsed is kept in ``Item.price_raw``. Every original field
  of the item is kept under ``Item.extraction["legacy"]``, so nothing is lost even when a URL
  or an image is not a valid http(s) address (those are then left blank on the item);
* memberships follow the copies, which hold the data; ``selected_cart_ids`` that disagree
  with the copies are reported as warnings, not acted on.

Idempotent: carts and items are found again by their legacy ids and memberships by
``(cart, item)``, so a second run creates nothing. Each user document is imported in one
transaction: all of it or, on an error, none of it (reported, and retried by the next run).
``--dry-run`` runs the same transactions and aborts them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import structlog
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from price_parser import Price

from accounts.models import User, normalize_email
from buyhive.product.currency_signs import resolve_currency
from buyhive.product.money import validate_amount
from buyhive.product.urls import canonicalize_url
from buyhive.transactions import run_in_transaction
from carts import models as m
from carts.models import Cart, CartItem, Item, normalize_cart_name
from carts.services.memberships import items_refresh_cart_ids
from carts.validation import clean_http_url

logger = structlog.get_logger(__name__)

COUNTERS = (
    "documents",
    "documents_imported",
    "documents_failed",
    "users_created",
    "users_existing",
    "carts_created",
    "carts_existing",
    "items_created",
    "items_existing",
    "memberships_created",
    "memberships_existing",
    "prices_unparsed",
    "entries_skipped",
)


@dataclass
class Problem:
    """A document (or a part of one) that could not be imported, or a warning about it."""

    document: str
    path: str
    reason: str
    severity: str = "error"  # "error": not imported; "warning": imported, worth a look

    def __str__(self) -> str:
        where = f"{self.document} {self.path}".strip()
        return f"[{self.severity}] {where}: {self.reason}"


@dataclass
class ImportReport:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    problems: list[Problem] = field(default_factory=list)

    def add(self, other: Mapping[str, int]) -> None:
        for key, value in other.items():
            self.counts[key] = self.counts.get(key, 0) + value

    def skip(self, label: str, path: str, reason: str) -> None:
        """An entry (a cart or an item) left out of the import, and why."""
        self.problems.append(Problem(label, path, reason))
        self.counts["entries_skipped"] += 1

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


class _DryRunRollback(Exception):
    """Raised at the end of a dry-run transaction so that it is aborted."""

    def __init__(self, counts: dict[str, int]) -> None:
        super().__init__("dry run")
        self.counts = counts


# ------------------------------------------------------------------------------- parsing


def parse_legacy_price(raw: Any) -> tuple[Decimal | None, str | None]:
    """``"$19.99"`` -> ``(19.99, "USD")``, ``"19,99 €"`` -> ``(19.99, "EUR")``,
    ``"19.99"`` -> ``(19.99, None)``; ``(None, None)`` when there is no valid amount."""
    if raw is None or isinstance(raw, bool):
        return None, None
    if isinstance(raw, (int, float, Decimal)):
        text = str(raw)
    elif isinstance(raw, str):
        text = raw.strip()[:200]
    else:
        return None, None
    if not text:
        return None, None
    parsed = Price.fromstring(text)
    if parsed.amount is None:
        return None, None
    currency = resolve_currency(parsed.currency) if parsed.currency else None
    try:
        amount = validate_amount(parsed.amount, currency=currency)
    except ValueError:
        return None, None
    return amount, currency


def parse_legacy_datetime(raw: Any) -> datetime | None:
    """An aware datetime from an ISO 8601 string (naive ones are UTC), else None."""
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, str) and raw.strip():
        try:
            value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _text(value: Any, limit: int) -> str:
    """A one-line text: NFC, whitespace runs collapsed, cut at ``limit``."""
    if not isinstance(value, str):
        return ""
    return " ".join(unicodedata.normalize("NFC", value).split())[:limit]


def _url_or_blank(value: Any) -> str:
    try:
        return clean_http_url(value)
    except ValueError:
        return ""


def _legacy_id(value: Any) -> str | None:
    if isinstance(value, str) and value.strip() and len(value.strip()) <= m.LEGACY_ID_MAX:
        return value.strip()
    return None


# ------------------------------------------------------------------------------- planning


@dataclass
class _Copy:
    """One copy of a legacy item, in one legacy cart."""

    legacy_item_id: str
    raw: dict[str, Any]
    path: str
    added_at: datetime | None


@dataclass
class _CartPlan:
    legacy_id: str
    name: str
    created_at: datetime | None
    copies: list[_Copy]
    path: str


def _plan_document(doc: Mapping[str, Any], label: str, report: ImportReport) -> list[_CartPlan]:
    carts_raw = doc.get("carts")
    if carts_raw is None:
        carts_raw = []
    if not isinstance(carts_raw, list):
        raise _DocumentRefused("'carts' is not a list")
    plans: list[_CartPlan] = []
    for index, cart_raw in enumerate(carts_raw):
        path = f"carts[{index}]"
        if not isinstance(cart_raw, Mapping):
            report.skip(label, path, "the cart is not an object")
            continue
        legacy_id = _legacy_id(cart_raw.get("cart_id"))
        if legacy_id is None:
            report.skip(label, path, "the cart has no usable cart_id")
            continue
        items_raw = cart_raw.get("items") or []
        if not isinstance(items_raw, list):
            report.skip(label, path, "'items' is not a list")
            continue
        copies: list[_Copy] = []
        for item_index, item_raw in enumerate(items_raw):
            item_path = f"{path}.items[{item_index}]"
            if not isinstance(item_raw, Mapping):
                report.skip(label, item_path, "the item is not an object")
                continue
            item_id = _legacy_id(item_raw.get("item_id"))
            if item_id is None:
                report.skip(label, item_path, "the item has no usable item_id")
                continue
            added_at = parse_legacy_datetime(item_raw.get("added_at"))
            if added_at is None:
                report.problems.append(
                    Problem(
                        label,
                        item_path,
                        f"added_at {item_raw.get('added_at')!r} is not ISO 8601; the cart's "
                        "creation time is used (the original is kept in extraction.legacy)",
                        "warning",
                    )
                )
            copies.append(_Copy(item_id, dict(item_raw), item_path, added_at))
        name = _text(cart_raw.get("cart_name"), m.CART_NAME_MAX)
        if not name:
            name = f"Imported cart {legacy_id[:8]}"
            report.problems.append(
                Problem(label, path, f"the cart had no name; named {name!r}", "warning")
            )
        created_at = parse_legacy_datetime(cart_raw.get("created_at"))
        item_count = cart_raw.get("item_count")
        if isinstance(item_count, int) and item_count != len(items_raw):
            report.problems.append(
                Problem(
                    label,
                    path,
                    f"item_count says {item_count} but the cart holds {len(items_raw)} items",
                    "warning",
                )
            )
        plans.append(_CartPlan(legacy_id, name, created_at, copies, path))

    # selected_cart_ids vs the copies: the copies are the data; report disagreements.
    carts_of_item: dict[str, set[str]] = {}
    selected_of_item: dict[str, set[str]] = {}
    for plan in plans:
        for copy in plan.copies:
            carts_of_item.setdefault(copy.legacy_item_id, set()).add(plan.legacy_id)
            selected = copy.raw.get("selected_cart_ids")
            if isinstance(selected, list):
                selected_of_item.setdefault(copy.legacy_item_id, set()).update(
                    s for s in selected if isinstance(s, str)
                )
    for item_id, selected in selected_of_item.items():
        missing = selected - carts_of_item.get(item_id, set())
        if missing:
            report.problems.append(
                Problem(
                    label,
                    f"item {item_id}",
                    f"selected_cart_ids names {len(missing)} cart(s) holding no copy of the "
                    "item; memberships follow the copies",
                    "warning",
                )
            )
    return plans


class _DocumentRefused(Exception):
    pass


# ------------------------------------------------------------------------------- writing


def _unique_cart_name(wanted: str, taken: set[str]) -> str:
    name = wanted
    suffix = 2
    while normalize_cart_name(name) in taken:
        tail = f" ({suffix})"
        name = wanted[: m.CART_NAME_MAX - len(tail)] + tail
        suffix += 1
    return name


def _item_fields(copy: _Copy, now: datetime) -> tuple[dict[str, Any], bool]:
    raw = copy.raw
    amount, currency = parse_legacy_price(raw.get("price"))
    raw_price = raw.get("price")
    unparsed = amount is None and raw_price not in (None, "")
    fields = {
        "url": _url_or_blank(raw.get("url")),
        "title": _text(raw.get("name"), m.TITLE_MAX),
        "price": amount,
        "currency": currency,
        "price_raw": _text(str(raw_price), m.PRICE_RAW_MAX) if unparsed else "",
        "image_url": _url_or_blank(raw.get("image")),
        "extraction": {
            "source": "import_legacy",
            "imported_at": now.isoformat(),
            "legacy": {
                key: raw.get(key)
                for key in ("item_id", "name", "price", "image", "url", "added_at")
                if key in raw
            },
        },
    }
    return fields, unparsed


def _import_document(
    doc: Mapping[str, Any], label: str, report: ImportReport, *, dry_run: bool
) -> dict[str, int]:
    """Import one user document in one transaction; returns its counts."""
    email_raw = doc.get("email")
    email = normalize_email(email_raw) if isinstance(email_raw, str) else ""
    try:
        validate_email(email)
    except ValidationError as exc:
        raise _DocumentRefused(f"no valid email ({email_raw!r})") from exc
    plans = _plan_document(doc, label, report)
    name = _text(doc.get("name"), 150)

    def work() -> dict[str, int]:
        counts = dict.fromkeys(COUNTERS, 0)
        now = timezone.now()
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=None, name=name)
            counts["users_created"] += 1
        else:
            counts["users_existing"] += 1

        taken = set(Cart.objects.filter(owner=user).values_list("name_lower", flat=True))
        items_by_legacy: dict[str, Item] = {}
        # The most recently added copy of each item gives the item its fields.
        latest: dict[str, _Copy] = {}
        for plan in plans:
            for copy in plan.copies:
                best = latest.get(copy.legacy_item_id)
                if best is None or (copy.added_at or now) >= (best.added_at or now):
                    latest[copy.legacy_item_id] = copy

        for plan in plans:
            cart = Cart.objects.filter(owner=user, legacy_id=plan.legacy_id).first()
            if cart is None:
                cart_name = _unique_cart_name(plan.name, taken)
                cart = Cart.objects.create(
                    owner=user,
                    name=cart_name,
                    legacy_id=plan.legacy_id,
                    created_at=plan.created_at or now,
                    updated_at=now,
                )
                taken.add(cart.name_lower)
                counts["carts_created"] += 1
            else:
                counts["carts_existing"] += 1
            existing_members = set(
                CartItem.objects.filter(cart_id=cart.pk).values_list("item_id", flat=True)
            )
            new_memberships: list[CartItem] = []
            for copy in plan.copies:
                item = items_by_legacy.get(copy.legacy_item_id)
                if item is None:
                    item, created, unparsed = _find_or_create_item(
                        user, latest[copy.legacy_item_id], plan, now
                    )
                    items_by_legacy[copy.legacy_item_id] = item
                    counts["items_created" if created else "items_existing"] += 1
                    counts["prices_unparsed"] += int(unparsed and created)
                if item.pk in existing_members:
                    counts["memberships_existing"] += 1
                    continue
                amount, currency = parse_legacy_price(copy.raw.get("price"))
                notes = copy.raw.get("notes")
                new_memberships.append(
                    CartItem(
                        cart_id=cart.pk,
                        item_id=item.pk,
                        owner_id=user.pk,
                        added_at=copy.added_at or plan.created_at or now,
                        quantity=1,
                        note=notes.strip() if isinstance(notes, str) else "",
                        price_at_add=amount,
                        currency_at_add=currency,
                        legacy_id=copy.legacy_item_id,
                    )
                )
                existing_members.add(item.pk)
            if new_memberships:
                CartItem.objects.bulk_create(new_memberships)
                counts["memberships_created"] += len(new_memberships)
        if items_by_legacy:
            items_refresh_cart_ids(item_ids=[item.pk for item in items_by_legacy.values()])
            Item.objects.filter(
                pk__in=[item.pk for item in items_by_legacy.values()], orphaned_at__isnull=False
            ).update(orphaned_at=None)
        if dry_run:
            raise _DryRunRollback(counts)
        return counts

    try:
        return run_in_transaction(work, label="import_legacy")
    except _DryRunRollback as rollback:
        return rollback.counts


def _find_or_create_item(
    user: User, copy: _Copy, plan: _CartPlan, now: datetime
) -> tuple[Item, bool, bool]:
    item = Item.objects.filter(owner=user, legacy_id=copy.legacy_item_id).first()
    if item is not None:
        return item, False, False
    fields, unparsed = _item_fields(copy, now)
    if fields["url"]:
        canonical = canonicalize_url(fields["url"])[: m.URL_MAX]
        same_product = Item.objects.filter(owner=user, canonical_url=canonical).first()
        if same_product is not None:
            return same_product, False, False
    created_at = copy.added_at or plan.created_at or now
    item = Item.objects.create(
        owner=user,
        legacy_id=copy.legacy_item_id,
        created_at=created_at,
        updated_at=now,
        **fields,
    )
    return item, True, unparsed


def import_documents(
    documents: Iterable[Mapping[str, Any]], *, dry_run: bool = False
) -> ImportReport:
    """Import prototype documents (see the module docstring); never raises for bad data."""
    report = ImportReport()
    for doc in documents:
        report.counts["documents"] += 1
        label = f"document {doc.get('_id', '?')}" if isinstance(doc, Mapping) else "document ?"
        if not isinstance(doc, Mapping):
            report.problems.append(Problem(label, "", "not an object"))
            report.counts["documents_failed"] += 1
            continue
        problems_before = len(report.problems)
        try:
            counts = _import_document(doc, label, report, dry_run=dry_run)
        except _DocumentRefused as exc:
            del report.problems[problems_before:]
            report.problems.append(Problem(label, "", str(exc)))
            report.counts["documents_failed"] += 1
            continue
        except Exception as exc:
            logger.exception("legacy_document_failed", document=label)
            report.problems.append(
                Problem(label, "", f"not imported ({type(exc).__name__}: {str(exc)[:200]})")
            )
            report.counts["documents_failed"] += 1
            continue
        report.add(counts)
        report.counts["documents_imported"] += 1
    return report
