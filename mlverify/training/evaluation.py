"""Held-out evaluation: folds grouped by site, cross-validation, precision/recall/F1 of "is a
product page" and the confusion of the seven person-labelled kinds with the three classes."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from buyhive.resampling import f1_interval
from mlverify.page_check.config import DEFAULT_THRESHOLD, PAGE_TYPES
from mlverify.page_check.head import decide
from mlverify.training.dataset import PRODUCT, Dataset, Example, LabelledPage, scored
from mlverify.training.defaults import DEFAULT_FOLDS, DEFAULT_SEED
from mlverify.training.fitting import L2, TEXT_SCALE, fit_layer
from mlverify.training.selection import (
    FIXED_GRID,
    INNER_FOLDS,
    MIX,
    PRODUCT_VS_ARTICLES,
    Choice,
    Grid,
    choose_page_settings,
)

# A fixed split of the outer folds: choices made while developing the head (features, texts,
# the threshold) were compared on the tune folds' pages only; the report folds' figures are
# the ones no such choice has seen (MODEL_CARD.md).
TUNE_FOLDS = frozenset({0, 1})
# The URL layer's product threshold (``url_threshold`` in head.json): not chosen, the default.
URL_THRESHOLD = DEFAULT_THRESHOLD
REPORT_FOLDS = frozenset({2, 3, 4})

__all__ = ["MIX", "PRODUCT_VS_ARTICLES", "CrossValidation", "cross_validate", "grouped_folds"]


def grouped_folds(pages: Sequence[LabelledPage], k: int, seed: int) -> dict[str, int]:
    """Assign each site to one of ``k`` folds, balancing the classes.

    Sites are taken largest first (ties in a seeded hash order) and each goes to the fold with
    the fewest pages of its main class so far.
    """
    sizes: Counter[str] = Counter(p.site for p in pages)
    classes: dict[str, Counter[int]] = {}
    for p in pages:
        classes.setdefault(p.site, Counter())[p.label] += 1

    def order(site: str) -> tuple[int, str]:
        return (-sizes[site], hashlib.sha256(f"{seed}:{site}".encode()).hexdigest())

    per_fold = [[0] * len(PAGE_TYPES) for _ in range(k)]
    assignment: dict[str, int] = {}
    for site in sorted(sizes, key=order):
        label = classes[site].most_common(1)[0][0]
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
    """Binary counts; ``labels`` are 1 for a positive."""
    tp = sum(1 for y, p in zip(labels, predictions, strict=True) if y == 1 and p)
    fp = sum(1 for y, p in zip(labels, predictions, strict=True) if y == 0 and p)
    fn = sum(1 for y, p in zip(labels, predictions, strict=True) if y == 1 and not p)
    tn = sum(1 for y, p in zip(labels, predictions, strict=True) if y == 0 and not p)
    return Metrics(tp, fp, fn, tn)


def site_interval(
    labels: Sequence[int],
    predictions: Sequence[bool],
    sites: Sequence[str],
    *,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float]:
    """The 95 % interval of "is a product page" F1 over redraws of whole sites (as the
    held-out folds hold sites out): :func:`buyhive.resampling.f1_interval`."""
    counts = [
        (int(y == 1 and p), int(y == 0 and p), int(y == 1 and not p))
        for y, p in zip(labels, predictions, strict=True)
    ]
    return f1_interval(counts, sites, seed=seed)


@dataclass
class CrossValidation:
    folds: int
    site_fold: dict[str, int]
    # per person-labelled page: out-of-fold class probabilities of each input
    url_probs: np.ndarray  # URL + title (URL layer)
    page_probs: np.ndarray  # URL + title + page (page layer); the URL layer's without HTML
    # per page: the product threshold its outer fold's inner cross-validation chose
    thresholds: np.ndarray | None = None
    choices: list[Choice] = field(default_factory=list)  # per outer fold
    nested: bool = False  # the choices come from an inner cross-validation (a wide grid)

    def predictions(self, name: str) -> list[int]:
        """The URL layer decides at its fixed :data:`URL_THRESHOLD`, the page layer at the
        threshold chosen for its fold."""
        probs = self.url_probs if name == "url+title" else self.page_probs
        thresholds = (
            self.thresholds
            if self.thresholds is not None and name != "url+title"
            else np.full(len(probs), URL_THRESHOLD if name == "url+title" else DEFAULT_THRESHOLD)
        )
        return [decide(row, float(t)) for row, t in zip(probs, thresholds, strict=True)]

    def report(self, pages: Sequence[LabelledPage]) -> dict[str, Any]:
        """``{input: {measure: metrics}}`` plus per-kind confusion and run facts under ``_``."""
        result: dict[str, Any] = {}
        for name in ("url+title", "url+title+page"):
            pred = self.predictions(name)
            block: dict[str, Any] = {}
            for measure, sources in (("mix", (MIX,)), ("product_vs_articles", PRODUCT_VS_ARTICLES)):
                rows = [i for i, p in enumerate(pages) if p.source in sources]
                for part, folds in (("tune", TUNE_FOLDS), ("report", REPORT_FOLDS)):
                    picked = [i for i in rows if self.site_fold.get(pages[i].site) in folds]
                    if picked and self.folds == DEFAULT_FOLDS:
                        block[f"{measure}_{part}"] = metrics(
                            [int(pages[i].is_product) for i in picked],
                            [pred[i] == PRODUCT for i in picked],
                        ).as_dict()
                if rows:
                    labels = [int(pages[i].is_product) for i in rows]
                    decided = [pred[i] == PRODUCT for i in rows]
                    block[measure] = metrics(labels, decided).as_dict()
                    low, high = site_interval(labels, decided, [pages[i].site for i in rows])
                    block[measure]["f1_interval"] = [round(low, 4), round(high, 4)]
            mix_rows = [i for i, p in enumerate(pages) if p.source == MIX]
            if mix_rows:
                block["mix_accuracy_3class"] = round(
                    sum(pred[i] == pages[i].label for i in mix_rows) / len(mix_rows), 4
                )
            confusion: dict[str, dict[str, int]] = {}
            for i, page in enumerate(pages):
                row_name = page.kind if page.source == MIX else f"{page.kind} ({page.source})"
                row = confusion.setdefault(row_name, dict.fromkeys(PAGE_TYPES, 0))
                row[PAGE_TYPES[pred[i]]] += 1
            block["confusion"] = dict(sorted(confusion.items()))
            result[name] = block
        result["_"] = {
            "folds": self.folds,
            "n_sites": len(self.site_fold),
            "n_pages": len(pages),
            "url_layer": {"l2": L2, "text_scale": TEXT_SCALE},
            "nested": self.nested,
            "page_layer_choices": [
                {"l2": c.l2, "text_scale": c.text_scale, "threshold": c.threshold}
                for c in self.choices
            ],
        }
        return result

    def errors(self, pages: Sequence[LabelledPage]) -> list[dict[str, Any]]:
        """Pages the full check (URL + title + page) gets wrong, for the operator's eyes."""
        pred = self.predictions("url+title+page")
        return [
            {
                "url": page.url,
                "kind": page.kind,
                "source": page.source,
                "predicted": PAGE_TYPES[pred[i]],
                "p": [round(float(x), 3) for x in self.page_probs[i]],
            }
            for i, page in enumerate(pages)
            if pred[i] != page.label
        ]


def fold_indices(
    examples: Sequence[Example], site_fold: dict[str, int], k: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) example indices per fold: every example of a held-out site, its
    rule-labelled links included, is on the test side. Links of a site without labelled pages
    always train."""
    fold_of = np.array([site_fold.get(e.site, -1) for e in examples])
    return [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(k)]


def cross_validate(
    dataset: Dataset,
    x: np.ndarray,
    *,
    k: int = DEFAULT_FOLDS,
    seed: int = DEFAULT_SEED,
    progress: Callable[[str], None] | None = None,
    grid: Grid = FIXED_GRID,
    train_on_site: Callable[[str], bool] | None = None,
) -> CrossValidation:
    """Grouped k-fold by site: every labelled page is scored by layers that never saw its site
    (its rule-labelled links are held out with it). In each outer fold an inner grouped
    cross-validation on the training sites alone chooses the page layer's L2, text scale and
    the product threshold (:func:`~mlverify.training.selection.choose_page_settings`).

    ``train_on_site``, when given, keeps only the training sites it answers True for (the
    folds and the scored pages stay the same): the learning curve of
    ``bench/page_check_data.py``.
    """
    examples = dataset.examples
    site_fold = grouped_folds(dataset.pages, k, seed)
    n = len(dataset.pages)
    thresholds = np.full(n, DEFAULT_THRESHOLD)
    choices: list[Choice] = []
    url_probs = np.full((n, len(PAGE_TYPES)), np.nan)
    page_probs = np.full((n, len(PAGE_TYPES)), np.nan)
    url_only = np.full((n, len(PAGE_TYPES)), np.nan)
    for fold, (train_idx, test_idx) in enumerate(fold_indices(examples, site_fold, k)):
        if train_on_site is not None:
            train_idx = np.array(
                [i for i in train_idx if train_on_site(examples[i].site)], dtype=int
            )
        choice = choose_settings(
            dataset, x, train_idx, seed, exclude_fold=(site_fold, fold), grid=grid
        )
        choices.append(choice)
        for layer in ("url", "page"):
            tr = np.array([i for i in train_idx if examples[i].layer == layer], dtype=int)
            te = [
                i
                for i in scored(examples, test_idx)
                if examples[i].layer == layer and examples[i].page is not None
            ]
            if len(tr) == 0 or not te:
                continue
            if layer == "page":
                fitted = fit_layer(
                    x, examples, tr, layer, l2=choice.l2, text_scale=choice.text_scale
                )
            else:
                fitted = fit_layer(x, examples, tr, layer)
            probs = fitted.probabilities(x[te], [examples[i].features for i in te])
            for j, i in enumerate(te):
                ex = examples[i]
                assert ex.page is not None
                thresholds[ex.page] = choice.threshold
                target = {"url": url_only, "url+title": url_probs, "page": page_probs}[ex.variant]
                target[ex.page] = probs[j]
        if progress:
            progress(f"fold {fold + 1}/{k} done")
    # A page without a title is scored by its URL; one without HTML by its URL and title.
    url_probs = np.where(np.isnan(url_probs), url_only, url_probs)
    page_probs = np.where(np.isnan(page_probs), url_probs, page_probs)
    return CrossValidation(
        k, site_fold, url_probs, page_probs, thresholds, choices, nested=not grid.single
    )


def choose_settings(
    dataset: Dataset,
    x: np.ndarray,
    train_idx: np.ndarray,
    seed: int,
    *,
    exclude_fold: tuple[dict[str, int], int] | None = None,
    grid: Grid = FIXED_GRID,
) -> Choice:
    """The page layer's settings chosen on the examples ``train_idx`` alone: their sites are
    split into :data:`INNER_FOLDS` grouped folds (the held-out outer fold's sites, given by
    ``exclude_fold``, take no part)."""
    if exclude_fold is not None:
        outer, held_out = exclude_fold
        pages = [p for p in dataset.pages if outer.get(p.site) != held_out]
    else:
        pages = list(dataset.pages)
    inner = grouped_folds(pages, INNER_FOLDS, seed)
    return choose_page_settings(dataset, x, train_idx, inner, grid)
