"""The prototype's cart list, computed from its one document per user (``docs/migration.md``):
shared by ``bench/prototype_app.py`` and ``bench/floor_app.py`` so both answer ``GET carts``
alike."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


def cart_summaries(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Each cart's id, name, item count and totals per currency: the items' ``price`` is the
    prototype's ``"19.99 EUR"`` string."""
    summaries = []
    for cart in document.get("carts", []):
        totals: dict[str, Decimal] = {}
        for item in cart.get("items", []):
            amount, _, currency = str(item.get("price") or "").partition(" ")
            try:
                totals[currency] = totals.get(currency, Decimal(0)) + Decimal(amount)
            except InvalidOperation:
                continue
        summaries.append(
            {
                "cart_id": cart.get("cart_id"),
                "name": cart.get("cart_name"),
                "item_count": len(cart.get("items", [])),
                "totals": [
                    {"currency": currency, "amount": str(amount)}
                    for currency, amount in sorted(totals.items())
                ],
            }
        )
    return summaries
