"""Held-out evaluation: folds grouped by site, cross-validation and precision/recall/F1."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlverify.page_check.config import DEFAULT_THRESHOLD
from mlverify.page_check.scoring import COMBINED_THRESHOLD, combine_scores
from mlverify.training.dataset import Dataset, Example, LabelledPage
from mlverify.training.defaults import DEFAULT_FOLDS, DEFAULT_SEED
from mlverify.training.fitting import choose_lambda, fit_logistic, predict


def grouped_folds(pages: Sequence[LabelledPage], k: int, seed: int) -> dict[str, int]:
    """Assign each site to one of ``k`` folds, balancing product and article pages.

    Sites are taken largest first (ties in a seeded hash order) and each goes to the fold with
    the fewest pages of its class so far.
    """
    sizes: Counter[str] = Counter(p.site for p in pages)
    label_of = {p.site: p.label for p in pages}

    def order(site: str) -> tuple[int, str]:
        return (-sizes[site], hashlib.sha256(f"{seed}:{site}".encode()).hexdigest())

    per_fold = [[0, 0] for _ in range(k)]
    assignment: dict[str, int] = {}
    for site in sorted(sizes, key=order):
        label = label_of[site]
        fold = min(range(k), key=lambda f: (per_fold[f][label], sum(per_fold[f]), f))
        assignment[site] = fold
        per_fold[fold][label] += sizes[site]
    return assignment


@dataclass(frozen=True)
class Metrics:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "n_positive": self.tp + self.fn,
            "n_negative": self.fp + self.tn,
        }


def metrics(labels: Sequence[int], predictions: Sequence[bool]) -> Metrics:
    tp = sum(1 for y, p in zip(labels, predictions, strict=True) if y == 1 and p)
    fp = sum(1 for y, p in zip(labels, predictions, strict=True) if y == 0 and p)
    fn = sum(1 for y, p in zip(labels, predictions, strict=True) if y == 1 and not p)
    tn = sum(1 for y, p in zip(labels, predictions, strict=True) if y == 0 and not p)
    return Metrics(tp, fp, fn, tn)


@dataclass
class CrossValidation:
    folds: int
    site_fold: dict[str, int]
    lambdas: list[float]
    # per person-labelled page: out-of-fold model probability for each text variant
    url_scores: list[float]
    title_scores: list[float]
    threshold: float = DEFAULT_THRESHOLD

    def report(self, pages: Sequence[LabelledPage]) -> dict[str, Any]:
        labels = [p.label for p in pages]
        t = self.threshold
        rows = {
            "url": [s >= t for s in self.url_scores],
            "url+title": [s >= t for s in self.title_scores],
            "url+page": [
                combine_scores(s, t, p.signals) >= COMBINED_THRESHOLD
                for s, p in zip(self.url_scores, pages, strict=True)
            ],
            "url+title+page": [
                combine_scores(s, t, p.signals) >= COMBINED_THRESHOLD
                for s, p in zip(self.title_scores, pages, strict=True)
            ],
        }
        result: dict[str, Any] = {k: metrics(labels, v).as_dict() for k, v in rows.items()}
        result["_"] = {
            "folds": self.folds,
            "n_sites": len(self.site_fold),
            "n_positive_sites": len({p.site for p in pages if p.label == 1}),
            "n_negative_sites": len({p.site for p in pages if p.label == 0}),
            "lambdas": self.lambdas,
            "threshold": t,
        }
        return result

    def errors(self, pages: Sequence[LabelledPage]) -> list[dict[str, Any]]:
        """Misclassified labelled pages (URL only), for the operator's eyes."""
        out = []
        for page, s in zip(pages, self.url_scores, strict=True):
            if (s >= self.threshold) != (page.label == 1):
                out.append({"url": page.url, "label": page.label, "url_score": round(s, 3)})
        return out


def fold_indices(
    examples: Sequence[Example], site_fold: dict[str, int], k: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) example indices per fold: every example of a held-out site, its
    rule-labelled links included, is on the test side. Links of a site without labelled pages
    (none, with harvested links) always train."""
    fold_of = np.array([site_fold.get(e.site, -1) for e in examples])
    return [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(k)]


def cross_validate(
    dataset: Dataset, x: np.ndarray, *, k: int = DEFAULT_FOLDS, seed: int = DEFAULT_SEED
) -> CrossValidation:
    """Grouped k-fold by site: every labelled page is scored by a head that never saw its
    site (its rule-labelled links are held out with it)."""
    examples = dataset.examples
    site_fold = grouped_folds(dataset.pages, k, seed)
    y = np.array([e.label for e in examples], dtype=np.float64)
    w = np.array([e.weight for e in examples], dtype=np.float64)
    n_pages = len(dataset.pages)
    url_scores = [math.nan] * n_pages
    title_scores = [math.nan] * n_pages
    lambdas = []
    for train_idx, test_idx in fold_indices(examples, site_fold, k):
        lam = choose_lambda(x, examples, train_idx, seed)
        lambdas.append(lam)
        weights, bias = fit_logistic(x[train_idx], y[train_idx], w[train_idx], lam)
        probs = predict(x[test_idx], weights, bias)
        for j, i in enumerate(test_idx):
            ex = examples[i]
            if ex.page is None:
                continue
            if ex.variant == "url":
                url_scores[ex.page] = float(probs[j])
            else:
                title_scores[ex.page] = float(probs[j])
    # A page without a title is scored by its URL in the "url+title" rows.
    title_scores = [
        t if not math.isnan(t) else u for t, u in zip(title_scores, url_scores, strict=True)
    ]
    return CrossValidation(k, site_fold, lambdas, url_scores, title_scores)
