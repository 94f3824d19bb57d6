"""Fitting the head: L2-regularised logistic regression by Newton's method (numpy, exact and
deterministic), the L2 strength chosen by inner grouped cross-validation, and the final head."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlverify.page_check.config import DEFAULT_THRESHOLD
from mlverify.training.dataset import Dataset, Example
from mlverify.training.defaults import DEFAULT_SEED

LAMBDA_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)


def fit_logistic(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, lam: float, *, max_iter: int = 50
) -> tuple[np.ndarray, float]:
    """Weighted L2 logistic regression by Newton's method (bias not penalised).

    Minimises ``sum(w_i * logloss_i) / sum(w) + lam / 2 * |beta|^2``. Exact and deterministic.
    """
    x = x.astype(np.float64)
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    sw = w / w.sum()
    beta = np.zeros(d + 1)
    reg = np.full(d + 1, lam)
    reg[-1] = 0.0
    for _ in range(max_iter):
        z = xb @ beta
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))
        grad = xb.T @ (sw * (p - y)) + reg * beta
        hess = (xb * (sw * p * (1 - p))[:, None]).T @ xb + np.diag(reg) + 1e-10 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta[:-1], float(beta[-1])


def predict(x: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    z = x.astype(np.float64) @ weights + bias
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))


def _person_logloss(examples: Sequence[Example], idx: np.ndarray, probs: np.ndarray) -> float:
    total = 0.0
    count = 0
    for j, i in enumerate(idx):
        ex = examples[i]
        if ex.origin == "rule":
            continue
        p = min(max(float(probs[j]), 1e-7), 1 - 1e-7)
        total += -math.log(p) if ex.label == 1 else -math.log(1 - p)
        count += 1
    return total / max(count, 1)


def choose_lambda(
    x: np.ndarray, examples: Sequence[Example], train_idx: np.ndarray, seed: int
) -> float:
    """Pick the L2 strength by inner grouped CV on the training part only (person-labelled
    log-loss), so the outer held-out folds never influence it."""
    train_sites = sorted({examples[i].site for i in train_idx})
    inner_k = min(4, len(train_sites))
    if inner_k < 2:
        return LAMBDA_GRID[len(LAMBDA_GRID) // 2]
    inner_fold = {
        s: int(hashlib.sha256(f"{seed}:inner:{s}".encode()).hexdigest(), 16) % inner_k
        for s in train_sites
    }
    y = np.array([e.label for e in examples], dtype=np.float64)
    w = np.array([e.weight for e in examples], dtype=np.float64)
    best = (math.inf, LAMBDA_GRID[0])
    for lam in LAMBDA_GRID:
        losses = []
        for f in range(inner_k):
            tr = np.array([i for i in train_idx if inner_fold[examples[i].site] != f], dtype=int)
            te = np.array([i for i in train_idx if inner_fold[examples[i].site] == f], dtype=int)
            if len(te) == 0 or len(set(y[tr])) < 2:
                continue
            weights, bias = fit_logistic(x[tr], y[tr], w[tr], lam)
            losses.append(_person_logloss(examples, te, predict(x[te], weights, bias)))
        loss = float(np.mean(losses)) if losses else math.inf
        if loss < best[0]:
            best = (loss, lam)
    return best[1]


@dataclass(frozen=True)
class TrainedHead:
    weights: list[float]
    bias: float
    lam: float
    threshold: float = DEFAULT_THRESHOLD


def train_final_head(dataset: Dataset, x: np.ndarray, *, seed: int = DEFAULT_SEED) -> TrainedHead:
    """The head that ships: trained on every example, L2 strength by grouped CV on all sites."""
    examples = dataset.examples
    y = np.array([e.label for e in examples], dtype=np.float64)
    w = np.array([e.weight for e in examples], dtype=np.float64)
    all_idx = np.arange(len(examples))
    lam = choose_lambda(x, examples, all_idx, seed)
    weights, bias = fit_logistic(x, y, w, lam)
    # 8 significant digits: float32 precision, stable JSON across runs.
    return TrainedHead([float(f"{v:.8g}") for v in weights], float(f"{bias:.8g}"), lam)
