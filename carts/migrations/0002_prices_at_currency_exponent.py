"""Prices at their currency's exponent: ``1500`` JPY, ``12.345`` KWD, ``19.99`` USD.

Until now every price was validated and stored with two decimals (``Decimal128("1500.00")``
for a yen price) and a Kuwaiti ``12.345`` could not be saved at all. The fields now allow the
most decimals any ISO 4217 currency has (``buyhive.product.money.MAX_EXPONENT``; a schema
no-op on MongoDB), and :func:`rewrite_prices` rewrites every stored ``Item.price`` and
``CartItem.price_at_add`` to exactly its currency's exponent, rounding half-up where an old
price had more decimals than its currency has (``1500.50`` JPY becomes ``1501``). A price
without a currency keeps two decimals. Idempotent: a document already at its exponent is not
written again, so running it twice, or on a database partly written by the new code, is safe.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bson import Decimal128
from django.db import migrations, models
from pymongo import UpdateOne

from buyhive.product.money import round_amount

BATCH = 1000

# (model, amount field, currency field)
_FIELDS = (("item", "price", "currency"), ("cartitem", "price_at_add", "currency_at_add"))


def rewrite_prices(apps: Any, schema_editor: Any) -> None:
    """Rewrite each stored amount at its currency's exponent (see the module docstring)."""
    for model_name, amount_field, currency_field in _FIELDS:
        model = apps.get_model("carts", model_name)
        collection = schema_editor.connection.get_collection(model._meta.db_table)
        updates: list[UpdateOne] = []
        cursor = collection.find(
            {amount_field: {"$type": "decimal"}}, {amount_field: 1, currency_field: 1}
        )
        for doc in cursor:
            stored = doc[amount_field].to_decimal()
            fitted = round_amount(stored, currency=doc.get(currency_field))
            if fitted.as_tuple() == Decimal(stored).as_tuple():
                continue
            updates.append(
                UpdateOne(
                    {"_id": doc["_id"], amount_field: doc[amount_field]},
                    {"$set": {amount_field: Decimal128(fitted)}},
                )
            )
            if len(updates) >= BATCH:
                collection.bulk_write(updates, ordered=False)
                updates = []
        if updates:
            collection.bulk_write(updates, ordered=False)


class Migration(migrations.Migration):
    dependencies = [
        ("carts", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="item",
            name="price",
            field=models.DecimalField(blank=True, decimal_places=4, max_digits=13, null=True),
        ),
        migrations.AlterField(
            model_name="cartitem",
            name="price_at_add",
            field=models.DecimalField(blank=True, decimal_places=4, max_digits=13, null=True),
        ),
        # Backwards is a no-op: the previous code reads an amount at any exponent.
        migrations.RunPython(rewrite_prices, migrations.RunPython.noop),
    ]
