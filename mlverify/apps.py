from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig


def _models_readiness() -> dict[str, Any]:
    """What ``/ready`` reports about the models (optional: never makes the service unready)."""
    try:
        # Imported when /ready asks, not at start-up: the model runtime is heavy to import.
        from mlverify import warmup
        from mlverify.registry import model_states
    except Exception as exc:  # noqa: BLE001 - optional component
        return {"status": "unavailable", "reason": f"model runtime not importable: {exc}"[:200]}
    # "warming" while the worker's start-up warm-up runs (mlverify.warmup): /ready is then 503,
    # so nothing routed by readiness makes a request pay for a load. Afterwards models are
    # only reported again, loaded or unavailable with the reason.
    warming = warmup.warming_models()
    models = model_states()
    for name in warming & models.keys():
        if models[name]["state"] == "not_loaded":
            models[name]["state"] = "warming"
    return {"status": "warming" if warming else "reported", "models": models}


def _dashboard_figures() -> Sequence[Any]:
    """The admin dashboard's page check panel: the labelling queue, one aggregate."""
    from django.urls import reverse

    from buyhive.registries import DashboardFigure
    from mlverify.selectors import page_sample_counts

    counts = page_sample_counts()
    samples = reverse("admin:mlverify_pagesample_changelist")
    return [
        DashboardFigure("pages to label", counts["waiting"], f"{samples}?labelled=no"),
        DashboardFigure("labelled", counts["labelled"], f"{samples}?labelled=yes"),
    ]


class MlverifyConfig(AppConfig):
    name = "mlverify"
    default_auto_field = "django_mongodb_backend.fields.ObjectIdAutoField"

    def ready(self) -> None:
        from buyhive.registries import (
            register_dashboard_panel,
            register_readiness_check,
            register_user_data,
        )
        from mlverify.user_data import page_samples_delete, page_samples_export

        register_readiness_check("models", _models_readiness, order=10)
        # The page check's labelling queue: pages users shared for review (mlverify.services).
        register_dashboard_panel(
            name="page_check", title="Page check", figures=_dashboard_figures, order=50
        )
        # GET auth/me/export/ and DELETE auth/me/: the pages the user shared for labelling.
        register_user_data(
            name="shared_pages", export=page_samples_export, delete=page_samples_delete
        )
