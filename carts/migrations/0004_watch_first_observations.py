"""Each existing item gets its ``watch_key`` and its saved price as its first observation.

Written against the historical models (``Item.save()`` does not run here), with the pure
helpers of ``carts.watch.matching``. Idempotent: an item whose observer already has an
observation is skipped, so running it again (or after ``import_legacy``) adds nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import migrations

from carts.watch.matching import match_key, observer_hash


def forwards(apps: Any, schema_editor: Any) -> None:
    Item = apps.get_model("carts", "Item")
    WatchedProduct = apps.get_model("carts", "WatchedProduct")
    Observation = apps.get_model("carts", "Observation")
    products: dict[str, Any] = {}
    for item in Item.objects.all().order_by("created_at").iterator():
        key = match_key(item.url) if item.url else ""
        if (item.watch_key or None) != (key or None):
            Item.objects.filter(pk=item.pk).update(watch_key=key or None)
        if not key or (item.price is None and not item.availability):
            continue
        product = products.get(key)
        if product is None:
            product = WatchedProduct.objects.filter(key=key).first()
            if product is None:
                product = WatchedProduct.objects.create(key=key, created_at=item.created_at)
            products[key] = product
        observer = observer_hash(user_id=item.owner_id, product_key=key)
        if Observation.objects.filter(observer=observer).exists():
            continue
        Observation.objects.create(
            product=product,
            observer=observer,
            kind="save",
            observed_at=item.created_at,
            price=None if item.price is None else Decimal(str(item.price)),
            currency=item.currency or None,
            availability=item.availability or "",
        )


class Migration(migrations.Migration):
    dependencies = [("carts", "0003_watch")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False)]
