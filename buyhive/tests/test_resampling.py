"""The grouped bootstrap interval of F1 (buyhive.resampling)."""

from __future__ import annotations

import pytest

from buyhive.resampling import f1_interval


def _pages(n_groups: int, wrong_every: int) -> tuple[list[tuple[int, int, int]], list[str]]:
    """Two pages a group; the first page of every ``wrong_every``-th group is missed."""
    counts: list[tuple[int, int, int]] = []
    groups: list[str] = []
    for g in range(n_groups):
        counts.append((0, 0, 1) if g % wrong_every == 0 else (1, 0, 0))
        counts.append((1, 0, 0))
        groups += [f"site{g}", f"site{g}"]
    return counts, groups


def test_the_interval_brackets_the_figure_and_is_repeatable() -> None:
    counts, groups = _pages(40, 4)
    tp = sum(c[0] for c in counts)
    fn = sum(c[2] for c in counts)
    f1 = 2 * tp / (2 * tp + fn)
    low, high = f1_interval(counts, groups, seed=3)
    assert low < f1 < high
    assert f1_interval(counts, groups, seed=3) == (low, high)


def test_fewer_sites_give_a_wider_interval() -> None:
    few = f1_interval(*_pages(10, 4))
    many = f1_interval(*_pages(400, 4))
    assert few[1] - few[0] > many[1] - many[0]


def test_a_site_is_drawn_with_all_its_pages() -> None:
    # One site holds every miss: a redraw either has its pages or not, all together.
    counts = [(0, 0, 1)] * 5 + [(1, 0, 0)] * 5
    groups = ["bad"] * 5 + [f"good{i}" for i in range(5)]
    low, high = f1_interval(counts, groups, rounds=500)
    assert high == 1.0  # redraws without the bad site
    assert low < 0.5  # redraws with it more than once


def test_no_spread_when_every_page_is_right_and_nothing_to_score() -> None:
    right = [(1, 0, 0)] * 6
    assert f1_interval(right, ["a", "a", "b", "b", "c", "c"]) == (1.0, 1.0)
    assert f1_interval([], []) == (0.0, 0.0)
    with pytest.raises(ValueError, match="one group per item"):
        f1_interval([(1, 0, 0)], [])
