"""The training run's defaults: data folder, seed, folds, per-site cap."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SEED = 20240601
DEFAULT_FOLDS = 5
DEFAULT_PER_SITE_CAP = 40


def default_data_dir() -> Path:
    return REPO_ROOT.parent / "shared" / "data"
