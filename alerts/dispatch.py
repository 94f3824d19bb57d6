"""Hands alert evaluation to the worker (until the queue lands: inline)."""

from __future__ import annotations

from typing import Any

from alerts import services


def evaluate_later(changes: list[dict[str, Any]]) -> None:
    for change in changes:
        services.alert_evaluate(change=change)
