"""One ``is_product`` score from the model's probability and the page signals."""

from __future__ import annotations

import math
from collections.abc import Mapping

from mlverify.page_check.signals import PageSignals

# Logit-space weights, fixed a priori from how reliable each signal is (not fitted to the data
# set): structured Product data is deliberate markup for shopping engines; og:type product and
# an add-to-cart control are strong; a price alone also appears on articles that mention deals;
# Article markup is the strongest sign of editorial content.
SIGNAL_WEIGHTS: Mapping[str, float] = {
    "product_structured": 3.0,
    "og_product": 2.0,
    "offers": 1.0,
    "add_to_cart": 2.0,
    "article_structured": -3.0,
}
PAGE_ONLY_BIAS = -1.0  # with no model, a page without signals is not a product page
COMBINED_THRESHOLD = 0.5


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def combine_scores(
    model_score: float | None, model_threshold: float, signals: PageSignals
) -> float:
    """One ``is_product`` score in [0, 1], compared with :data:`COMBINED_THRESHOLD`.

    ``z = logit(model) - logit(model_threshold) + sum(weight for each signal present)``: the
    model's own threshold maps to 0, so with no signals the decision is the model's.
    Without a model (``model_score`` None) ``z = PAGE_ONLY_BIAS + signals``.
    """
    z = PAGE_ONLY_BIAS if model_score is None else _logit(model_score) - _logit(model_threshold)
    z += sum(w for name, w in SIGNAL_WEIGHTS.items() if getattr(signals, name))
    return _sigmoid(z)
