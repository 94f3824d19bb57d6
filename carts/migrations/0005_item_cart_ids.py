"""Each item carries the ids of the carts it is in (``Item.cart_ids``), filled from the
memberships.

The read model of issue 16: a cart read answers every item's ``cart_ids`` from the item
documents it reads anyway, instead of a second read of the memberships. The services keep it
in the same transaction as every membership write from now on; this fills it for the items
saved before. The order is the memberships' (``added_at``, then ``_id``), as the API always
listed them. Idempotent (it recomputes every item's list), batched, and written with raw
collection commands so that a large collection is one pass over the memberships and one
bulk write per batch, not a query per item.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import migrations
from django_mongodb_backend.fields import ArrayField, ObjectIdField
from pymongo import UpdateOne

BATCH = 1000
EPOCH = datetime(1970, 1, 1)  # noqa: DTZ001 - compared with the naive UTC times pymongo returns


def fill_cart_ids(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    items = connection.get_collection(apps.get_model("carts", "Item")._meta.db_table)
    memberships = connection.get_collection(apps.get_model("carts", "CartItem")._meta.db_table)
    # One unsorted pass (no server-side sort of the whole collection), ordered per item here.
    rows_of: dict[Any, list[tuple[Any, Any, Any]]] = {}
    for row in memberships.find({}, {"item_id": 1, "cart_id": 1, "added_at": 1}):
        rows_of.setdefault(row["item_id"], []).append(
            (row.get("added_at") or EPOCH, row["_id"], row["cart_id"])
        )
    items.update_many({"cart_ids": {"$exists": False}}, {"$set": {"cart_ids": []}})
    writes = [
        UpdateOne(
            {"_id": item_id},
            {"$set": {"cart_ids": list(dict.fromkeys(cart for _a, _i, cart in sorted(rows)))}},
        )
        for item_id, rows in rows_of.items()
    ]
    for start in range(0, len(writes), BATCH):
        items.bulk_write(writes[start : start + BATCH], ordered=False)


class Migration(migrations.Migration):
    dependencies = [("carts", "0004_watch_first_observations")]

    operations = [
        migrations.AddField(
            model_name="item",
            name="cart_ids",
            field=ArrayField(
                base_field=ObjectIdField(), blank=True, default=list, editable=False, size=None
            ),
        ),
        migrations.RunPython(fill_cart_ids, migrations.RunPython.noop, elidable=False),
    ]
