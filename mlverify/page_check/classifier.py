"""The page classifier model: the sentence encoder plus the trained head."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from mlverify.inference import ModelUnavailable
from mlverify.page_check.config import ClassifierConfig
from mlverify.page_check.encoder import AnyTextEncoder, embed_page_parts, load_serving_encoder
from mlverify.page_check.features import url_features
from mlverify.page_check.head import LinearHead, find_head_file, load_head
from mlverify.page_check.url_text import PageInput


class PageClassifier:
    """Encoder + head. :meth:`predict` gives the three page-type probabilities of each page;
    :meth:`score` gives ``P(product page)`` from the URL and title alone."""

    def __init__(
        self,
        *,
        encoder: AnyTextEncoder,
        head: LinearHead,
        threshold: float,
        url_threshold: float | None = None,
    ) -> None:
        self.encoder = encoder
        self.head = head
        self.threshold = threshold  # the page layer's
        self.url_threshold = threshold if url_threshold is None else url_threshold
        self.classes = head.classes
        self.version = f"{encoder.name}@{encoder.version}+head.{head.digest}"

    def threshold_for(self, features: Mapping[str, float]) -> float:
        """The product threshold of the layer that answers for a page with ``features``."""
        return self.threshold if features.get("has_html") else self.url_threshold

    def predict(
        self, inputs: Sequence[PageInput], features: Sequence[Mapping[str, float]]
    ) -> np.ndarray:
        """``(n, 3)`` probabilities; a row whose features say ``has_html`` uses the page layer,
        the others the URL layer, each reading the texts it was trained on. numpy only (no
        torch on the ONNX path)."""
        out = np.zeros((len(features), len(self.classes)))
        with_page = np.array([bool(f.get("has_html")) for f in features], dtype=bool)
        for layer_name, rows in (("page", with_page), ("url", ~with_page)):
            if rows.any():
                layer = self.head.layers[layer_name]
                picked = [i for i, r in enumerate(rows) if r]
                embeddings = embed_page_parts(
                    self.encoder, [inputs[i] for i in picked], layer.text_parts
                )
                out[rows] = layer.probabilities(embeddings, [features[i] for i in picked])
        return out

    def score(self, inputs: Sequence[PageInput]) -> list[float]:
        """``P(product page)`` of each input from its URL and title (the URL layer)."""
        features = [url_features(item.url or "") for item in inputs]
        probs = self.predict(inputs, features)
        return [float(p[0]) for p in probs]

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
    if head.dim != encoder.dim:  # the width of each text part of each layer
        raise ModelUnavailable(
            f"page classifier head does not match the encoder: head dimension {head.dim}, "
            f"encoder dimension {encoder.dim}"
        )
    if head.encoder_fingerprint and head.encoder_fingerprint != encoder.fingerprint:
        raise ModelUnavailable(
            "page classifier head does not match the encoder: it was trained on another encoder "
            f"(fingerprint {head.encoder_fingerprint}, loaded {encoder.fingerprint})"
        )
    if config.threshold is not None:  # a configured threshold applies to both layers
        return PageClassifier(encoder=encoder, head=head, threshold=float(config.threshold))
    return PageClassifier(
        encoder=encoder, head=head, threshold=head.threshold, url_threshold=head.url_threshold
    )
