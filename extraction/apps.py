from __future__ import annotations

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


class ExtractionConfig(AppConfig):
    name = "extraction"
    default_auto_field = "django_mongodb_backend.fields.ObjectIdAutoField"

    def ready(self) -> None:
        from buyhive.registries import register_readiness_check, register_user_data
        from carts.signals import item_corrected
        from extraction.learning.receivers import on_item_corrected
        from extraction.learning.services import (
            learning_user_data_delete,
            learning_user_data_export,
        )

        register_readiness_check("llm", _llm_readiness, order=20)
        # Learning from corrections (extraction.learning): an owner's edit of a saved item
        # teaches where the truth was on that shop's pages; an account's deletion takes its
        # records and votes back.
        item_corrected.connect(on_item_corrected, dispatch_uid="extraction-learning")
        register_user_data(
            name="extraction_learning",
            export=learning_user_data_export,
            delete=learning_user_data_delete,
        )
