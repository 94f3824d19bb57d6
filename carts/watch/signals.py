"""What carts tells the apps above it about the price watch (they connect; carts never
imports them).

``item_view_changed``: what one or more users see of an item (its price, currency or
availability) has changed, by their own report or edit, or because another user's report
was confirmed. Sent after the write, with ``changes``: a list of JSON-ready dicts
``{"item_id", "owner_id", "new": {"price", "currency", "availability"}, "observed_at",
"event"}`` (``event`` names the observation; with ``observed_at`` it orders the changes of
one item, so a receiver can drop a stale or replayed one).
"""

from __future__ import annotations

from django.dispatch import Signal

item_view_changed = Signal()
