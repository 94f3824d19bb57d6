"""The trained head file: softmax layers over the sentence embedding and the page features.

``head.json`` holds two layers that answer the same three classes
(:data:`~mlverify.page_check.config.PAGE_TYPES`): ``url`` reads the embedding of the URL and
title plus the URL-shape features (the page check without HTML), ``page`` reads the embedding
of URL, title, heading and description plus every structural feature
(:mod:`mlverify.page_check.features`). Each layer stores how its features are standardised,
so serving computes exactly what training fitted.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlverify.inference import ModelUnavailable
from mlverify.page_check.config import HEAD_FILENAMES, HEAD_FORMAT, PAGE_TYPES
from mlverify.page_check.features import FEATURE_NAMES, FEATURES_VERSION

LAYERS = ("url", "page")
MAX_TEXT_PARTS = 3  # the summed vector, the lead, the button labels


@dataclass(frozen=True)
class SoftmaxLayer:
    """``p = softmax(W [text_scale * e, (f - mean) / scale] + b)`` over :data:`PAGE_TYPES`.

    ``e`` is ``text_parts`` embeddings side by side
    (:func:`~mlverify.page_check.encoder.embed_page_parts`): the summed page vector, then the
    lead and the button labels for a layer that reads them."""

    weights: np.ndarray  # (classes, text_parts * dim + len(features))
    biases: np.ndarray  # (classes,)
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    text_scale: float
    text_parts: int = 1

    @property
    def text_width(self) -> int:
        return int(self.weights.shape[1]) - len(self.features)

    def design(self, embeddings: np.ndarray, features: Sequence[Mapping[str, float]]) -> np.ndarray:
        """The layer's input rows: scaled embeddings, then standardised features. Wider
        embeddings (more parts than the layer reads) are cut to the layer's first parts."""
        embeddings = np.asarray(embeddings, dtype=np.float64)[:, : self.text_width]
        f = np.array(
            [[float(row.get(n, 0.0)) for n in self.features] for row in features],
            dtype=np.float64,
        ).reshape(len(features), len(self.features))
        f = (f - self.mean) / self.scale
        return np.hstack([embeddings * self.text_scale, f])

    def probabilities(
        self, embeddings: np.ndarray, features: Sequence[Mapping[str, float]]
    ) -> np.ndarray:
        z = self.design(embeddings, features) @ self.weights.T + self.biases
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return np.asarray(e / e.sum(axis=1, keepdims=True))

    def as_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": [float(f"{v:.8g}") for v in self.mean],
            "scale": [float(f"{v:.8g}") for v in self.scale],
            "text_scale": self.text_scale,
            "text_parts": self.text_parts,
            "biases": [float(f"{v:.8g}") for v in self.biases],
            "weights": [[float(f"{v:.8g}") for v in row] for row in self.weights],
        }


@dataclass(frozen=True)
class LinearHead:
    """The two layers of ``head.json`` and what they were trained on."""

    layers: Mapping[str, SoftmaxLayer]
    classes: tuple[str, ...]
    threshold: float  # the page layer's product threshold
    encoder_fingerprint: str | None
    metadata: Mapping[str, Any]
    dim: int
    url_threshold: float | None = None  # the URL layer's (None: ``threshold``)

    @property
    def digest(self) -> str:
        return head_digest({k: v.as_json() for k, v in self.layers.items()})


def decide(probs: Sequence[float], threshold: float) -> int:
    """The page type's index: ``product`` when ``P(product) >= threshold``, otherwise the more
    likely of ``collection`` and ``other``. One rule for serving and for the evaluation."""
    if probs[0] >= threshold:
        return 0
    return 1 if probs[1] >= probs[2] else 2


def head_digest(layers: Mapping[str, Any]) -> str:
    payload = json.dumps(layers, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def find_head_file(classifier_dir: Path) -> Path | None:
    for name in HEAD_FILENAMES:
        if (classifier_dir / name).is_file():
            return classifier_dir / name
    return None


def _finite(values: Any, length: int | None = None) -> bool:
    return (
        isinstance(values, list)
        and (length is None or len(values) == length)
        and all(isinstance(x, int | float) and math.isfinite(x) for x in values)
    )


def _layer(data: Any, dim: int, n_classes: int) -> SoftmaxLayer | None:
    if not isinstance(data, dict):
        return None
    names = data.get("features")
    if not isinstance(names, list) or not all(n in FEATURE_NAMES for n in names):
        return None
    parts = data.get("text_parts", 1)
    if not isinstance(parts, int) or not 1 <= parts <= MAX_TEXT_PARTS:
        return None
    width = parts * dim + len(names)
    weights = data.get("weights")
    ok = (
        isinstance(weights, list)
        and len(weights) == n_classes
        and all(_finite(row, width) for row in weights)
        and _finite(data.get("biases"), n_classes)
        and _finite(data.get("mean"), len(names))
        and _finite(data.get("scale"), len(names))
        and all(x > 0 for x in data["scale"])
        and isinstance(data.get("text_scale"), int | float)
        and data["text_scale"] > 0
    )
    if not ok:
        return None
    return SoftmaxLayer(
        weights=np.array(weights, dtype=np.float64),
        biases=np.array(data["biases"], dtype=np.float64),
        features=tuple(names),
        mean=np.array(data["mean"], dtype=np.float64),
        scale=np.array(data["scale"], dtype=np.float64),
        text_scale=float(data["text_scale"]),
        text_parts=parts,
    )


def load_head(path: Path) -> LinearHead:
    """Read and validate a head file; :class:`ModelUnavailable` ("corrupt") when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelUnavailable(
            f"page classifier head corrupt: {path.name} is not valid JSON"
        ) from exc
    if not isinstance(data, dict) or data.get("format") != HEAD_FORMAT:
        raise ModelUnavailable(
            f"page classifier head corrupt: {path.name} is not a {HEAD_FORMAT} file"
        )
    if data.get("features_version") != FEATURES_VERSION or tuple(
        data.get("classes") or ()
    ) != tuple(PAGE_TYPES):
        raise ModelUnavailable(
            f"page classifier head corrupt: {path.name} was trained on other features or classes"
        )
    dim, threshold = data.get("dim"), data.get("threshold")
    url_threshold = data.get("url_threshold", threshold)
    raw = data.get("layers")
    raw_layers: dict[str, Any] = raw if isinstance(raw, dict) else {}
    layers = {}
    if isinstance(dim, int) and dim > 0:
        for name in LAYERS:
            layer = _layer(raw_layers.get(name), dim, len(PAGE_TYPES))
            if layer is not None:
                layers[name] = layer
    if len(layers) != len(LAYERS) or not all(
        isinstance(t, int | float) and 0.0 < t < 1.0 for t in (threshold, url_threshold)
    ):
        raise ModelUnavailable(
            f"page classifier head corrupt: bad layers or threshold in {path.name}"
        )
    assert isinstance(dim, int)
    assert isinstance(threshold, int | float) and isinstance(url_threshold, int | float)
    stored_digest = data.get("digest")
    if stored_digest is not None and stored_digest != head_digest(raw_layers):
        raise ModelUnavailable(f"page classifier head corrupt: checksum mismatch in {path.name}")
    encoder = data["encoder"] if isinstance(data.get("encoder"), dict) else {}
    return LinearHead(
        layers=layers,
        classes=tuple(PAGE_TYPES),
        threshold=float(threshold),
        url_threshold=float(url_threshold),
        encoder_fingerprint=encoder.get("fingerprint"),
        metadata={k: v for k, v in data.items() if k != "layers"},
        dim=dim,
    )
