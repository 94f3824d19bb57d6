"""One call for the management commands: build the data, cross-validate, train the head."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlverify.page_check.encoder import AnyTextEncoder
from mlverify.training.dataset import Dataset, SharedPage, embed_examples, load_dataset
from mlverify.training.defaults import DEFAULT_FOLDS, DEFAULT_PER_SITE_CAP, DEFAULT_SEED
from mlverify.training.embed_cache import DEFAULT_CACHE_DIR
from mlverify.training.evaluation import CrossValidation, choose_settings, cross_validate
from mlverify.training.fitting import TrainedHead, train_final_head
from mlverify.training.outputs import head_payload
from mlverify.training.selection import FIXED_GRID, Grid


@dataclass
class RunResult:
    dataset: Dataset
    cv: CrossValidation
    report: dict[str, Any]
    head: TrainedHead | None = None
    payload: dict[str, Any] | None = None


def run(
    encoder: AnyTextEncoder,
    data_dir: Path,
    *,
    folds: int = DEFAULT_FOLDS,
    seed: int = DEFAULT_SEED,
    per_site_cap: int = DEFAULT_PER_SITE_CAP,
    train_final: bool = True,
    progress: Callable[[str], None] | None = None,
    cache_dir: Path | None = DEFAULT_CACHE_DIR,
    grid: Grid = FIXED_GRID,
    shared: Sequence[SharedPage] = (),
) -> RunResult:
    """Build the data set (with the labelled ``shared`` pages), cross-validate by site and
    (optionally) train the final head."""
    say = progress or (lambda _msg: None)
    dataset = load_dataset(data_dir, per_site_cap=per_site_cap, seed=seed, shared=shared)
    say(f"data: {json.dumps(dataset.counts())}")
    x = embed_examples(encoder, dataset.examples, cache_dir=cache_dir)
    say(f"embedded {len(dataset.examples)} examples")
    cv = cross_validate(dataset, x, k=folds, seed=seed, progress=say, grid=grid)
    report = cv.report(dataset.pages)
    result = RunResult(dataset=dataset, cv=cv, report=report)
    if train_final:
        choice = choose_settings(dataset, x, np.arange(len(dataset.examples)), seed, grid=grid)
        say(
            f"chosen on every site: L2 {choice.l2:g}, text scale {choice.text_scale:g}, "
            f"threshold {choice.threshold:g} (inner mean F1 {choice.score:.4f})"
        )
        result.head = train_final_head(
            dataset,
            x,
            l2=choice.l2,
            text_scale=choice.text_scale,
            threshold=choice.threshold,
        )
        result.payload = head_payload(
            result.head, encoder, dataset, report, seed=seed, per_site_cap=per_site_cap
        )
    return result
