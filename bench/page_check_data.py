"""How the page check's held-out F1 grows with its labelled data: a learning curve (issue 17).

Run:  .venv/bin/python bench/page_check_data.py [--fractions 0.25 0.5 0.75 1] [--repeats 3]
          [--json FILE]

The question it answers: the page check's bars (mix F1 0.95, product vs articles 0.986) lie
inside the intervals of what it measures; would more labelled pages of unseen sites (what the
pages users share for review bring, ``train_page_classifier --shared-pages``) move it towards
them, or has it flattened out, so that only other inputs would?

Method: the same grouped-by-site 5-fold cross-validation as ``eval_page_classifier`` (same
folds, same scored pages: each scored as the extension sends it, by layers that never saw its
site; fixed settings), but each fold's layers train on a seeded draw of ``fraction`` of its
training sites (with all their pages and rule links), ``--repeats`` draws per fraction. The
baseline is fraction 1 (every training site: the shipped protocol's figures), in the same run.
Reported per fraction: median and range over the draws of F1 on the seven-kind mix and on
product pages vs articles, all folds, and of the sites and person-labelled pages trained on
per fold; then the slope of the median F1 per doubling of the pages trained on (least squares
on log2 of the pages), over all fractions and over the last doubling alone (fractions from
half the largest), and how many doublings at each slope the bars would take. A curve that
flattens has a smaller slope over the last doubling: that one is the guide for what more
pages can do (a guide, not a promise).

Embeddings come from ``var/page-embeddings/`` (a first run fills it, ~10 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import benchlib  # noqa: F401 - sys.path and settings

BARS = {"mix": 0.95, "product_vs_articles": 0.986}


def _keeps(fraction: float, draw: int) -> Any:
    """A site filter keeping about ``fraction`` of the sites, the same sites in every fold."""

    def keep(site: str) -> bool:
        digest = hashlib.sha256(f"curve:{draw}:{site}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < fraction

    return keep


def _slope_per_doubling(rows: list[dict[str, Any]], key: str) -> float:
    """Least squares of the median F1 on log2(pages trained on per fold)."""
    logs = [math.log2(row["pages_per_fold"]) for row in rows]
    medians = [row[key]["median"] for row in rows]
    mean_log, mean_f1 = statistics.mean(logs), statistics.mean(medians)
    spread = sum((v - mean_log) ** 2 for v in logs)
    return sum((v - mean_log) * (f - mean_f1) for v, f in zip(logs, medians, strict=True)) / spread


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import django

    django.setup()
    from mlverify.management.commands.train_page_classifier import load_encoder_for_command
    from mlverify.training.dataset import embed_examples, load_dataset
    from mlverify.training.defaults import DEFAULT_SEED, default_data_dir
    from mlverify.training.evaluation import cross_validate, fold_indices, grouped_folds

    started = time.perf_counter()
    dataset = load_dataset(default_data_dir())
    x = embed_examples(load_encoder_for_command(), dataset.examples)
    print(f"data: {len(dataset.pages)} pages, {len(dataset.examples)} examples", flush=True)
    site_fold = grouped_folds(dataset.pages, 5, DEFAULT_SEED)
    folds = fold_indices(dataset.examples, site_fold, 5)

    rows: list[dict[str, Any]] = []
    for fraction in sorted(set(args.fractions)):
        draws = 1 if fraction >= 1.0 else args.repeats
        runs: list[dict[str, Any]] = []
        for draw in range(draws):
            keep = None if fraction >= 1.0 else _keeps(fraction, draw)
            cv = cross_validate(dataset, x, seed=DEFAULT_SEED, train_on_site=keep)
            report = cv.report(dataset.pages)["url+title+page"]
            trained_sites, trained_pages = [], []
            for train_idx, _ in folds:
                pages = {
                    e.page
                    for i in train_idx
                    if (e := dataset.examples[i]).page is not None
                    and (keep is None or keep(e.site))
                }
                trained_pages.append(len(pages))
                trained_sites.append(len({dataset.pages[p].site for p in pages}))
            runs.append(
                {
                    "mix": report["mix"]["f1"],
                    "product_vs_articles": report["product_vs_articles"]["f1"],
                    "mix_report_folds": report["mix_report"]["f1"],
                    "sites_per_fold": statistics.mean(trained_sites),
                    "pages_per_fold": statistics.mean(trained_pages),
                }
            )
            print(f"fraction {fraction:g} draw {draw}: {json.dumps(runs[-1])}", flush=True)
        row: dict[str, Any] = {"fraction": fraction, "draws": draws}
        for key in ("mix", "product_vs_articles", "mix_report_folds"):
            values = [r[key] for r in runs]
            row[key] = {
                "median": round(statistics.median(values), 4),
                "min": round(min(values), 4),
                "max": round(max(values), 4),
            }
        row["sites_per_fold"] = round(statistics.mean(r["sites_per_fold"] for r in runs))
        row["pages_per_fold"] = round(statistics.mean(r["pages_per_fold"] for r in runs))
        rows.append(row)

    print()
    print(
        "fraction  pages/fold  sites/fold  mix F1 median [min-max]   vs articles median [min-max]"
    )
    for row in rows:
        mix, versus = row["mix"], row["product_vs_articles"]
        print(
            f"{row['fraction']:8g}  {row['pages_per_fold']:10d}  {row['sites_per_fold']:10d}  "
            f"{mix['median']:.3f} [{mix['min']:.3f}-{mix['max']:.3f}]       "
            f"{versus['median']:.3f} [{versus['min']:.3f}-{versus['max']:.3f}]"
        )
    outlook: dict[str, Any] = {}
    upper = [row for row in rows if row["fraction"] >= rows[-1]["fraction"] / 2]
    for name, part in (("all fractions", rows), ("the last doubling", upper)):
        if len(part) < 2:
            continue
        outlook[name] = {}
        for key, bar in BARS.items():
            slope = _slope_per_doubling(part, key)
            gap = bar - rows[-1][key]["median"]
            needed = gap / slope if slope > 0 and gap > 0 else None
            outlook[name][key] = {
                "slope_per_doubling": round(slope, 4),
                "gap_to_bar": round(gap, 4),
                "doublings_to_bar": None if needed is None else round(needed, 2),
            }
            if gap <= 0:
                tail = "met"
            elif needed is None:
                tail = "not reached at a flat or falling slope"
            else:
                tail = (
                    f"{needed:.1f} doublings of the labelled data ({2**needed:.1f}x) at that slope"
                )
            print(f"{name}, {key}: {slope:+.4f} F1 per doubling of the pages; bar {bar}: {tail}")
    print(f"took {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "outlook": outlook}, indent=1))


if __name__ == "__main__":
    main()
