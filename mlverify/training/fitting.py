"""Fitting the head: one softmax layer per input (URL only, URL + page) by
:func:`~mlverify.training.softmax.fit_softmax`, and the head that ships.

The URL layer's L2 strength and the embedding's scale against the standardised features are
fixed (:data:`L2`, :data:`TEXT_SCALE`). The page layer's, and the product threshold, are
chosen by an inner grouped cross-validation (:mod:`~mlverify.training.selection`): per outer
fold for the held-out figures, on every site for the head that ships.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlverify.page_check.config import DEFAULT_THRESHOLD, PAGE_TYPES
from mlverify.page_check.features import FEATURE_NAMES, URL_FEATURE_NAMES
from mlverify.page_check.head import SoftmaxLayer
from mlverify.training.dataset import LAYER_TEXT_PARTS, Dataset, Example
from mlverify.training.softmax import fit_softmax

L2 = 0.03
TEXT_SCALE = 10.0
LAYER_FEATURES = {"url": URL_FEATURE_NAMES, "page": FEATURE_NAMES}


def fit_layer(
    x: np.ndarray,
    examples: Sequence[Example],
    idx: np.ndarray,
    layer: str,
    *,
    l2: float = L2,
    text_scale: float = TEXT_SCALE,
) -> SoftmaxLayer:
    """Fit one layer on the examples ``idx`` (all of that layer): standardise its features on
    those examples, then weighted L2 softmax regression. ``x`` holds at least the layer's
    :data:`LAYER_TEXT_PARTS` embeddings per row (wider rows are cut)."""
    names = LAYER_FEATURES[layer]
    parts = LAYER_TEXT_PARTS[layer]
    dim = x.shape[1] // max(LAYER_TEXT_PARTS.values())
    f = np.array([[examples[i].features.get(n, 0.0) for n in names] for i in idx])
    mean = f.mean(axis=0)
    scale = f.std(axis=0)
    scale[scale < 1e-6] = 1.0  # a constant feature stays 0 after centring
    template = SoftmaxLayer(
        weights=np.zeros((len(PAGE_TYPES), parts * dim + len(names))),
        biases=np.zeros(len(PAGE_TYPES)),
        features=names,
        mean=mean,
        scale=scale,
        text_scale=text_scale,
        text_parts=parts,
    )
    design = template.design(x[idx], [examples[i].features for i in idx])
    y = np.array([examples[i].label for i in idx])
    w = np.array([examples[i].weight for i in idx])
    weights, biases = fit_softmax(design, y, w, l2, n_classes=len(PAGE_TYPES), max_iter=20)
    # 8 significant digits: float32 precision, stable JSON across runs.
    rounded = SoftmaxLayer(
        weights=np.vectorize(lambda v: float(f"{v:.8g}"))(weights),
        biases=np.array([float(f"{v:.8g}") for v in biases]),
        features=names,
        mean=np.array([float(f"{v:.8g}") for v in mean]),
        scale=np.array([float(f"{v:.8g}") for v in scale]),
        text_scale=text_scale,
        text_parts=parts,
    )
    return rounded


def layer_indices(examples: Sequence[Example], layer: str) -> np.ndarray:
    return np.array([i for i, e in enumerate(examples) if e.layer == layer], dtype=int)


@dataclass(frozen=True)
class TrainedHead:
    layers: dict[str, SoftmaxLayer]
    lam: float = L2
    threshold: float = DEFAULT_THRESHOLD
    text_scale: float = TEXT_SCALE


def train_final_head(
    dataset: Dataset,
    x: np.ndarray,
    *,
    l2: float = L2,
    text_scale: float = TEXT_SCALE,
    threshold: float = DEFAULT_THRESHOLD,
) -> TrainedHead:
    """The head that ships: both layers trained on every example; the page layer with the
    settings (and the head with the threshold) chosen by cross-validation on every site."""
    examples = dataset.examples
    return TrainedHead(
        {
            "url": fit_layer(x, examples, layer_indices(examples, "url"), "url"),
            "page": fit_layer(
                x, examples, layer_indices(examples, "page"), "page", l2=l2, text_scale=text_scale
            ),
        },
        lam=l2,
        threshold=threshold,
        text_scale=text_scale,
    )
