"""How much a held-out F1 would move on another draw of sites: a grouped bootstrap.

The page check and the extractor are measured on pages of sites (or shops) they were not
developed on, and both data sets hold few sites. The figure's spread over the *sites* is what
tells whether a gap to a goal is real: :func:`f1_interval` redraws whole groups (a site with
all its pages) with replacement and reads F1 off each redraw, and gives the percentile
interval. Seeded, so the same counts give the same interval on every machine.

Used by ``manage.py eval_page_classifier`` (and the model card) and by
``bench/generalisation.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Redraws per interval and the interval's coverage.
ROUNDS = 2000
COVERAGE = 0.95
SEED = 20240601


def f1_interval(
    counts: Sequence[tuple[int, int, int]],
    groups: Sequence[str],
    *,
    seed: int = SEED,
    rounds: int = ROUNDS,
    coverage: float = COVERAGE,
) -> tuple[float, float]:
    """The ``coverage`` percentile interval of F1 over ``rounds`` redraws of the groups.

    ``counts`` holds one ``(tp, fp, fn)`` per item (a page, or a page and field) and
    ``groups`` its group (the site). A redraw with nothing to find and nothing found scores
    1.0, as :func:`extraction.evaluation.f1` does.
    """
    if len(counts) != len(groups):
        raise ValueError("one group per item")
    if not counts:
        return (0.0, 0.0)
    index: dict[str, int] = {}
    per_group: list[list[int]] = []
    for (tp, fp, fn), group in zip(counts, groups, strict=True):
        row = index.setdefault(group, len(per_group))
        if row == len(per_group):
            per_group.append([0, 0, 0])
        per_group[row][0] += tp
        per_group[row][1] += fp
        per_group[row][2] += fn
    totals = np.array(per_group, dtype=float)
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, len(per_group), size=(rounds, len(per_group)))
    tp, fp, fn = (totals[drawn, j].sum(axis=1) for j in range(3))
    denominator = 2 * tp + fp + fn
    f1s = np.divide(2 * tp, denominator, out=np.ones(rounds), where=denominator > 0)
    tail = (1 - coverage) / 2 * 100
    low, high = np.percentile(f1s, [tail, 100 - tail])
    return float(low), float(high)
