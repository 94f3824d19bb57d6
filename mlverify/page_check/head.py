"""The trained head file: a logistic-regression layer on the sentence embedding."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlverify.inference import ModelUnavailable
from mlverify.page_check.config import HEAD_FILENAMES, HEAD_FORMAT


@dataclass(frozen=True)
class LinearHead:
    """Logistic regression on the sentence embedding: ``p = sigmoid(w . x + b)``."""

    weights: tuple[float, ...]
    bias: float
    threshold: float
    encoder_fingerprint: str | None
    metadata: Mapping[str, Any]

    @property
    def dim(self) -> int:
        return len(self.weights)

    @property
    def digest(self) -> str:
        return head_digest(self.weights, self.bias)


def head_digest(weights: Sequence[float], bias: float) -> str:
    payload = json.dumps({"w": [float(x) for x in weights], "b": float(bias)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def find_head_file(classifier_dir: Path) -> Path | None:
    for name in HEAD_FILENAMES:
        if (classifier_dir / name).is_file():
            return classifier_dir / name
    return None


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
    weights, bias, threshold = data.get("weights"), data.get("bias"), data.get("threshold")
    numbers_ok = (
        isinstance(weights, list)
        and len(weights) > 0
        and all(isinstance(x, int | float) and math.isfinite(x) for x in weights)
        and isinstance(bias, int | float)
        and math.isfinite(bias)
        and isinstance(threshold, int | float)
        and 0.0 < threshold < 1.0
    )
    if not numbers_ok:
        raise ModelUnavailable(
            f"page classifier head corrupt: bad weights, bias or threshold in {path.name}"
        )
    assert isinstance(weights, list)
    assert isinstance(bias, int | float)
    assert isinstance(threshold, int | float)
    stored_digest = data.get("digest")
    if stored_digest is not None and stored_digest != head_digest(weights, float(bias)):
        raise ModelUnavailable(f"page classifier head corrupt: checksum mismatch in {path.name}")
    encoder = data["encoder"] if isinstance(data.get("encoder"), dict) else {}
    return LinearHead(
        weights=tuple(float(x) for x in weights),
        bias=float(bias),
        threshold=float(threshold),
        encoder_fingerprint=encoder.get("fingerprint"),
        metadata={k: v for k, v in data.items() if k not in {"weights", "bias"}},
    )
