"""After the run, straight from the database: every acknowledged write is there, once."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from loadtest.shoppers import User


def check_consistency(uri: str, db_name: str, users: list[User]) -> dict[str, Any]:
    from bson import ObjectId
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=5000)
    db = client[db_name]
    try:
        items = list(db["carts_item"].find({}, {"_id": 1, "owner_id": 1, "canonical_url": 1}))
        carts = {row["_id"]: row["owner_id"] for row in db["carts_cart"].find({}, {"owner_id": 1})}
        memberships = list(
            db["carts_cartitem"].find({}, {"item_id": 1, "cart_id": 1, "owner_id": 1})
        )
    finally:
        client.close()
    item_owner = {row["_id"]: row["owner_id"] for row in items}
    duplicate_items = sum(
        n - 1 for n in Counter((r["owner_id"], r["canonical_url"]) for r in items).values() if n > 1
    )
    pairs = Counter((row["item_id"], row["cart_id"]) for row in memberships)
    duplicate_memberships = sum(n - 1 for n in pairs.values() if n > 1)
    orphans = sum(
        1
        for row in memberships
        if row["item_id"] not in item_owner
        or row["cart_id"] not in carts
        or not (row["owner_id"] == item_owner.get(row["item_id"]) == carts.get(row["cart_id"]))
    )
    in_carts: dict[Any, set[str]] = defaultdict(set)
    for row in memberships:
        in_carts[row["item_id"]].add(str(row["cart_id"]))
    lost_items = lost_memberships = wrong_sets = checked = 0
    for user in users:
        for item_id, expected in user.expected.items():
            oid = ObjectId(item_id)
            checked += 1
            if oid not in item_owner:
                lost_items += 1
                continue
            if item_id in user.uncertain_items:
                continue  # a move that failed: the old or the new set, both fine
            actual = in_carts.get(oid, set())
            if not expected <= actual:
                lost_memberships += len(expected - actual)
            if actual != expected:
                wrong_sets += 1
    return {
        "acknowledged_items_checked": checked,
        "items_in_db": len(items),
        "memberships_in_db": len(memberships),
        "lost_items": lost_items,
        "lost_memberships": lost_memberships,
        "items_with_wrong_cart_set": wrong_sets,
        "duplicate_items": duplicate_items,
        "duplicate_memberships": duplicate_memberships,
        "orphan_memberships": orphans,
        "unacknowledged_adds": sum(u.failed_adds for u in users),
    }
