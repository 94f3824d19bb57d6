"""The price and stock watch, on the carts side: product identity, observations, history,
exchange rates (architecture.md, "Price and stock watch (v1)").

Alerts and notifications live above extraction (``alerts/``); carts tells them that what a
user sees has changed through :data:`carts.watch.signals.item_view_changed`, and never
imports them. The models are re-exported by ``carts.models`` so migrations find them.
"""
