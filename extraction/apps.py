from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig


def _llm_readiness() -> dict[str, Any]:
    """What ``/ready`` reports about the LLM (optional: never makes the service unready)."""
    try:
        # Imported when /ready asks: the LLM SDKs are not needed to start the process.
        from extraction.llm import llm_readiness
    except Exception as exc:  # noqa: BLE001 - optional component
        return {"status": "unavailable", "reason": f"LLM clients not importable: {exc}"[:200]}
    report = llm_readiness()
    return {"status": "configured" if report.get("configured") else "not_configured", **report}


def _dashboard_figures() -> Sequence[Any]:
    """The admin dashboard's extraction panel: one Redis round trip (``extraction.stats``)."""
    from buyhive.registries import DashboardFigure
    from extraction.stats import extraction_counts

    counts = extraction_counts(hours=24)
    total = counts["total"]
    share = f"{counts['llm']} ({round(100 * counts['llm'] / total)}%)" if total else "0"
    return [
        DashboardFigure("extractions", total),
        DashboardFigure("ok (a title and a price)", counts["ok"]),
        DashboardFigure("partial", counts["partial"]),
        DashboardFigure("failed (nothing found)", counts["failed"]),
        DashboardFigure("with fields from the LLM", share),
        DashboardFigure("answered from the cache", counts["cached"]),
    ]


class ExtractionConfig(AppConfig):
    name = "extraction"
    default_auto_field = "django_mongodb_backend.fields.ObjectIdAutoField"

    def ready(self) -> None:
        from buyhive.registries import (
            register_dashboard_panel,
            register_readiness_check,
            register_user_data,
        )
        from carts.signals import item_corrected
        from extraction.learning.receivers import on_item_corrected
        from extraction.learning.services import (
            learning_user_data_delete,
            learning_user_data_export,
        )

        register_readiness_check("llm", _llm_readiness, order=20)
        register_dashboard_panel(
            name="extraction",
            title="Extractions in the last 24 hours",
            figures=_dashboard_figures,
            order=30,
        )
        # Learning from corrections (extraction.learning): an owner's edit of a saved item
        # teaches where the truth was on that shop's pages; an account's deletion takes its
        # records and votes back.
        item_corrected.connect(on_item_corrected, dispatch_uid="extraction-learning")
        register_user_data(
            name="extraction_learning",
            export=learning_user_data_export,
            delete=learning_user_data_delete,
        )
