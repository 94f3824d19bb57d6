"""Receivers of the signals carts defines: what users see changed -> evaluate their alerts."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from carts.watch.signals import item_view_changed


@receiver(item_view_changed, dispatch_uid="alerts.evaluate_on_view_change")
def on_item_view_changed(sender: Any, changes: list[dict[str, Any]], **_: Any) -> None:
    from alerts.dispatch import evaluate_later

    evaluate_later(changes)
