"""The page classifier model: the sentence encoder plus the trained head."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mlverify.inference import ModelUnavailable
from mlverify.page_check.config import ClassifierConfig
from mlverify.page_check.encoder import AnyTextEncoder, embed_pages, load_serving_encoder
from mlverify.page_check.head import LinearHead, find_head_file, load_head
from mlverify.page_check.url_text import PageInput


class PageClassifier:
    """Encoder + head; :meth:`score` gives ``P(product page)`` for each page input."""

    def __init__(self, *, encoder: AnyTextEncoder, head: LinearHead, threshold: float) -> None:
        self.encoder = encoder
        self.head = head
        self.threshold = threshold
        self._w = np.asarray(head.weights, dtype=np.float32)
        self._b = float(head.bias)
        self.version = f"{encoder.name}@{encoder.version}+head.{head.digest}"

    def score_embeddings(self, embeddings: np.ndarray) -> list[float]:
        """Sigmoid of the head's logit, in numpy (no torch on the ONNX path)."""
        logits = np.asarray(embeddings, dtype=np.float64) @ self._w.astype(np.float64) + self._b
        return [float(x) for x in 1.0 / (1.0 + np.exp(-logits))]

    def score(self, inputs: Sequence[PageInput]) -> list[float]:
        if not inputs:
            return []
        return self.score_embeddings(embed_pages(self.encoder, inputs))

    def score_texts(self, texts: Sequence[str]) -> list[float]:
        """Score normalised texts as made by :func:`page_text` (uncached; bench, tools)."""
        return self.score([PageInput.from_key(t) for t in texts])


def load_page_classifier(
    config: ClassifierConfig, *, encoder: AnyTextEncoder | None = None
) -> PageClassifier:
    """Load the head from ``config.classifier_dir`` and pair it with ``encoder`` (loaded from
    ``config.encoder_dir`` when not given). The head's width must match the encoder's."""
    classifier_dir = Path(config.classifier_dir)
    if not classifier_dir.is_dir():
        raise ModelUnavailable(f"page classifier head missing: {classifier_dir} does not exist")
    head_path = find_head_file(classifier_dir)
    if head_path is None:
        raise ModelUnavailable(f"page classifier head missing: no head.json in {classifier_dir}")
    head = load_head(head_path)  # validate the small file before loading the big one
    if encoder is None:
        encoder = load_serving_encoder(
            config.encoder_dir,
            runtime=config.runtime,
            model_dir=config.model_dir,
            num_threads=config.num_threads,
            max_length=config.max_length,
        )
    if head.dim != encoder.dim:
        raise ModelUnavailable(
            f"page classifier head does not match the encoder: head dimension {head.dim}, "
            f"encoder dimension {encoder.dim}"
        )
    if head.encoder_fingerprint and head.encoder_fingerprint != encoder.fingerprint:
        raise ModelUnavailable(
            "page classifier head does not match the encoder: it was trained on another encoder "
            f"(fingerprint {head.encoder_fingerprint}, loaded {encoder.fingerprint})"
        )
    threshold = config.threshold if config.threshold is not None else head.threshold
    return PageClassifier(encoder=encoder, head=head, threshold=float(threshold))
