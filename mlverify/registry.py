"""The process-wide model holders, and their states for ``/ready`` and ``check_models``.

Nothing loads at import: each :class:`~mlverify.loading.LazyModel` reads Django settings when
its model is first used. :func:`reset_models` forgets loaded models so that changed settings
(tests, ``check_models --reload``) take effect.
"""

from __future__ import annotations

from typing import Any

import structlog

from mlverify.clip import ClipBundle, ClipConfig, clear_calibration_cache, load_clip, local_scores
from mlverify.loading import LazyModel

logger = structlog.get_logger(__name__)


def _load_clip_from_settings() -> ClipBundle:
    return load_clip(ClipConfig.from_settings())


_clip_model: LazyModel[ClipBundle] = LazyModel("clip", _load_clip_from_settings)


def get_clip_model() -> LazyModel[ClipBundle]:
    """The CLIP holder (loads on first :meth:`~mlverify.loading.LazyModel.get`)."""
    return _clip_model


def _page_classifier() -> LazyModel[Any] | None:
    """The classifier engineer's holder; None if that module cannot be imported."""
    try:
        from mlverify.classifier import get_page_classifier
    except ImportError:
        logger.warning("page_classifier_module_missing", exc_info=True)
        return None
    return get_page_classifier()


def model_holders() -> dict[str, LazyModel[Any] | None]:
    """Every configured model by name ("clip", "page_classifier")."""
    return {"clip": _clip_model, "page_classifier": _page_classifier()}


def model_states() -> dict[str, dict[str, Any]]:
    """``{name: {"state", "reason", "load_seconds", "version"}}`` without loading anything.

    ``state`` is ``not_loaded``, ``loaded`` or ``unavailable``; models are optional, so
    ``/ready`` reports them but never fails because of them.
    """
    states: dict[str, dict[str, Any]] = {}
    for name, holder in model_holders().items():
        if holder is None:
            states[name] = {
                "state": "unavailable",
                "reason": "the module is not installed",
                "load_seconds": None,
                "version": None,
            }
            continue
        status = holder.describe()
        info = status.as_dict()
        if status.state == "loaded":
            value = holder.get()  # already loaded: returns at once
            label = getattr(value, "label", None) or getattr(value, "version", None)
            if isinstance(label, str) and label:
                info["version"] = label
        states[name] = info
    return states


def reset_models() -> None:
    """Forget every loaded model (and the cached calibration); the next use reloads."""
    _clip_model.reset()
    clear_calibration_cache()
    local_scores.clear()
    try:
        from mlverify import classifier
    except ImportError:
        return
    configure = getattr(classifier, "configure", None)
    if callable(configure):
        configure()  # rebuilds the page classifier's holders from current settings
