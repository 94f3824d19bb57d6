"""Multinomial logistic regression (softmax) by Newton's method: numpy only, exact and
deterministic, for the 3-class page-type head.

Minimises ``sum_i w_i * crossentropy_i / sum(w) + lam / 2 * |W|^2`` (the biases are not
penalised). With ~400 features and 3 classes the full Hessian is ~1,250 square: a Newton step
is a fraction of a second and about ten steps converge, so the L2 strength can be chosen by an
inner cross-validation without scipy or scikit-learn.
"""

from __future__ import annotations

import numpy as np


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def fit_softmax(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    lam: float,
    *,
    n_classes: int,
    max_iter: int = 30,
) -> tuple[np.ndarray, np.ndarray]:
    """``(weights (k, d), biases (k,))`` of weighted L2 softmax regression.

    ``y`` holds class indices; ``w`` per-example weights. Newton steps with a backtracking
    line search, so every step lowers the objective.
    """
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    k = n_classes
    xb = np.hstack([x, np.ones((n, 1))])
    sw = np.asarray(w, dtype=np.float64) / float(np.sum(w))
    onehot = np.zeros((n, k))
    onehot[np.arange(n), np.asarray(y, dtype=int)] = 1.0
    reg = np.full(d + 1, lam)
    reg[-1] = 1e-8  # the bias is (almost) free; a tiny ridge keeps the Hessian definite
    beta = np.zeros((k, d + 1))

    def objective(b: np.ndarray) -> float:
        z = xb @ b.T
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-(sw * (onehot * logp).sum(axis=1)).sum() + 0.5 * (reg * b * b).sum())

    current = objective(beta)
    for _ in range(max_iter):
        p = softmax(xb @ beta.T)
        grad = ((p - onehot) * sw[:, None]).T @ xb + reg * beta  # (k, d+1)
        hess = np.zeros((k * (d + 1), k * (d + 1)))
        for a in range(k):
            for c in range(a, k):
                s = sw * p[:, a] * ((1.0 if a == c else 0.0) - p[:, c])
                block = (xb * s[:, None]).T @ xb
                if a == c:
                    block += np.diag(reg)
                hess[a * (d + 1) : (a + 1) * (d + 1), c * (d + 1) : (c + 1) * (d + 1)] = block
                if a != c:
                    hess[c * (d + 1) : (c + 1) * (d + 1), a * (d + 1) : (a + 1) * (d + 1)] = block
        hess += 1e-9 * np.eye(k * (d + 1))
        step = np.linalg.solve(hess, grad.reshape(-1)).reshape(k, d + 1)
        t = 1.0
        while t > 1e-4:
            candidate = beta - t * step
            value = objective(candidate)
            if value <= current:
                break
            t *= 0.5
        else:
            break
        beta, previous, current = candidate, current, value
        if previous - current < 1e-10 or np.max(np.abs(t * step)) < 1e-8:
            break
    return beta[:, :-1], beta[:, -1]


def predict_proba(x: np.ndarray, weights: np.ndarray, biases: np.ndarray) -> np.ndarray:
    """``(n, k)`` class probabilities."""
    return softmax(np.asarray(x, dtype=np.float64) @ weights.T + biases)
