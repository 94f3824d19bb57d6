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
        from buyhive.registries import register_readiness_check

        register_readiness_check("llm", _llm_readiness, order=20)
