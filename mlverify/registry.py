"""Every process-wide model holder, and their states for ``/ready`` and ``check_models``.

One registry for every model: CLIP, the MiniLM sentence encoder (the page classifier's and
CLIP's text fallback) and the page classifier (encoder + head). Nothing loads at import:
each :class:`~mlverify.inference.LazyModel` reads its files when first used.
:func:`reset_models` forgets loaded models so that changed settings (tests,
``check_models --reload``) take effect; :func:`configure_page_classifier` points the page
classifier at explicit folders (tests, tools).

The services (:mod:`mlverify.clip.service`, :mod:`mlverify.page_check.services`) ask this
module for holders; the loaders they hold know nothing of it, so imports only go one way.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from mlverify.clip.calibration import clear_calibration_cache
from mlverify.clip.config import ClipConfig
from mlverify.clip.loading import ClipBundle, load_serving_clip
from mlverify.clip.score_cache import local_scores
from mlverify.inference import LazyModel
from mlverify.page_check.classifier import PageClassifier, load_page_classifier
from mlverify.page_check.config import ENCODER_PACKAGE, ClassifierConfig, encoder_package_version
from mlverify.page_check.encoder import AnyTextEncoder, load_serving_encoder


def _load_clip_from_settings() -> ClipBundle:
    return load_serving_clip(ClipConfig.from_settings())


_clip_model: LazyModel[ClipBundle] = LazyModel("clip", _load_clip_from_settings)


@dataclass(frozen=True)
class _PageModels:
    """The page classifier's holders and the configuration they were built from."""

    config: ClassifierConfig
    encoder: LazyModel[AnyTextEncoder]
    classifier: LazyModel[PageClassifier]


_page_lock = threading.Lock()
_page_models: _PageModels | None = None


def _build_page_models(config: ClassifierConfig) -> _PageModels:
    package = f"{ENCODER_PACKAGE}=={encoder_package_version() or 'missing'}"
    encoder: LazyModel[AnyTextEncoder] = LazyModel(
        "page_encoder",
        lambda: load_serving_encoder(
            config.encoder_dir,
            runtime=config.runtime,
            model_dir=config.model_dir,
            num_threads=config.num_threads,
            max_length=config.max_length,
        ),
        version=package,
    )
    classifier: LazyModel[PageClassifier] = LazyModel(
        "page_classifier",
        lambda: load_page_classifier(config, encoder=encoder.get()),
        version=f"{package}+head",
    )
    return _PageModels(config=config, encoder=encoder, classifier=classifier)


def configure_page_classifier(config: ClassifierConfig | None = None) -> None:
    """(Re)build the page classifier's holders from ``config`` (from settings when None).

    Nothing loads until first use. Tests, tools and :func:`reset_models` call it.
    """
    global _page_models
    built = _build_page_models(config or ClassifierConfig.from_settings())
    with _page_lock:
        _page_models = built


def _page() -> _PageModels:
    if _page_models is None:
        configure_page_classifier()
    assert _page_models is not None
    return _page_models


def get_clip_model() -> LazyModel[ClipBundle]:
    """The CLIP holder (loads on first :meth:`~mlverify.inference.LazyModel.get`)."""
    return _clip_model


def get_text_encoder() -> LazyModel[AnyTextEncoder]:
    """The MiniLM sentence encoder alone (CLIP's text fallback uses it without the head)."""
    return _page().encoder


def get_page_classifier() -> LazyModel[PageClassifier]:
    """The page classifier (the encoder above + the committed head)."""
    return _page().classifier


def get_page_classifier_config() -> ClassifierConfig:
    """The configuration the page classifier's holders were built from."""
    return _page().config


def model_holders() -> dict[str, LazyModel[Any]]:
    """Every model an operator checks, by name ("clip", "page_classifier")."""
    return {"clip": _clip_model, "page_classifier": get_page_classifier()}


def model_states() -> dict[str, dict[str, Any]]:
    """``{name: {"state", "reason", "load_seconds", "version"}}`` without loading anything.

    ``state`` is ``not_loaded``, ``loaded`` or ``unavailable``; models are optional, so
    ``/ready`` reports them but never fails because of them. This is the one public report
    of every model's state (``/ready`` and ``check_models`` read it).
    """
    states: dict[str, dict[str, Any]] = {}
    for name, holder in model_holders().items():
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
    """Forget every loaded model (and the cached calibration and scores); the next use reloads
    from the current settings."""
    _clip_model.reset()
    clear_calibration_cache()
    local_scores.clear()
    configure_page_classifier()
