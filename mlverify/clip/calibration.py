"""The CLIP match threshold: from settings, or from the file ``calibrate_clip`` writes.

:func:`resolve_threshold` applies a calibration only to the weights it was made for.
:func:`score_pairs` and :func:`choose_threshold` are what ``calibrate_clip`` computes it with.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import structlog

from mlverify.clip.config import ClipConfig
from mlverify.clip.encoding import (
    encode_images,
    match_probability,
    normalise_name,
    product_embedding,
)

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from mlverify.clip.loading import ClipBundle

logger = structlog.get_logger(__name__)

_calibration_lock = threading.Lock()
_calibration_cache: dict[str, tuple[float, dict[str, Any] | None]] = {}


def read_calibration(path: Path | None) -> dict[str, Any] | None:
    """The calibration JSON written by ``calibrate_clip`` (re-read when its mtime changes)."""
    if path is None:
        return None
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    key = str(path)
    with _calibration_lock:
        cached = _calibration_cache.get(key)
        if cached and cached[0] == mtime:
            return cached[1]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("threshold"), int | float):
            raise ValueError("no numeric threshold")
    except (OSError, ValueError) as exc:
        logger.warning("clip_calibration_unreadable", path=key, error=str(exc))
        data = None
    with _calibration_lock:
        _calibration_cache[key] = (mtime, data)
    return data


def clear_calibration_cache() -> None:
    with _calibration_lock:
        _calibration_cache.clear()


def resolve_threshold(
    config: ClipConfig, model_version: str, *, weights_version: str | None = None
) -> tuple[float, bool]:
    """(threshold, calibrated): the calibration file's, when it was made for this model.

    ``weights_version``: an int8 export of the same weights (its own version, so its own
    cached embeddings) also takes the weights' calibration: ``export_onnx`` served it only
    because no decision at that threshold flipped (:func:`mlverify.onnx_gate.clip_gate`).
    """
    data = read_calibration(config.calibration_file)
    if data is not None:
        if data.get("model_version") in {model_version, weights_version or model_version}:
            return float(data["threshold"]), True
        logger.warning(
            "clip_calibration_for_other_model",
            path=str(config.calibration_file),
            calibrated_for=data.get("model_version"),
            loaded=model_version,
        )
    return float(config.threshold), False


def score_pairs(
    bundle: ClipBundle, pairs: Sequence[tuple[PILImage.Image, str]], *, batch: int = 16
) -> list[float]:
    """Scores of local (image, product name) pairs, uncached (calibrate_clip, bench)."""
    scores: list[float] = []
    text_cache: dict[str, np.ndarray] = {}
    for start in range(0, len(pairs), batch):
        chunk = pairs[start : start + batch]
        image_embs = encode_images(bundle, [img for img, _ in chunk])
        for (_, product), emb in zip(chunk, image_embs, strict=True):
            key = normalise_name(product)
            if key not in text_cache:
                text_cache[key] = product_embedding(bundle, key)
            scores.append(match_probability(bundle, emb, text_cache[key]))
    return scores


def choose_threshold(
    scores: Sequence[float], labels: Sequence[bool], *, metric: str = "f1"
) -> dict[str, Any]:
    """The threshold that maximises F1 (or Youden's J) on labelled scores.

    Candidates are the observed scores (predict "match" when score >= t). The returned
    threshold is the midpoint between the chosen score and the next lower one, which keeps
    the same decisions on this data but does not sit exactly on a training example. Ties on
    the metric are broken by the other metric, then by the higher threshold.
    """
    if len(scores) != len(labels) or not scores:
        raise ValueError("scores and labels must be non-empty and of equal length")
    if metric not in ("f1", "youden"):
        raise ValueError("metric must be 'f1' or 'youden'")
    positives = sum(1 for y in labels if y)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("calibration needs at least one matching and one non-matching pair")
    distinct = sorted(set(scores), reverse=True)
    best: tuple[tuple[float, float, float], dict[str, Any]] | None = None
    for index, cut in enumerate(distinct):
        tp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= cut and y)
        fp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= cut and not y)
        fn, tn = positives - tp, negatives - fp
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / positives
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        youden = recall - fp / negatives
        key = (f1, youden, cut) if metric == "f1" else (youden, f1, cut)
        if best is None or key > best[0]:
            lower = distinct[index + 1] if index + 1 < len(distinct) else None
            threshold = (cut + lower) / 2 if lower is not None else cut
            best = (
                key,
                {
                    "threshold": round(float(threshold), 6),
                    "metric": metric,
                    "precision": round(precision, 4),
                    "recall": round(recall, 4),
                    "f1": round(f1, 4),
                    "youden_j": round(youden, 4),
                    "accuracy": round((tp + tn) / len(labels), 4),
                    "tp": tp,
                    "fp": fp,
                    "fn": fn,
                    "tn": tn,
                },
            )
    assert best is not None
    return best[1]
