"""Benchmark of the page check (issue 17): held-out quality and time per page.

Run:  .venv/bin/python bench/page_check.py [--pages 40] [--repeats 5] [--skip-eval] [--json FILE]

* **Quality** (unless ``--skip-eval``): the grouped-by-site cross-validation of
  ``manage.py eval_page_classifier`` (the same code): F1 of "is a product page" on the
  seven-kind mix and on product pages vs articles, and the 3-class accuracy on the mix; also
  the same F1s on the report folds alone (3-5 of 5, which no development choice was compared
  on) and on the tune folds (1-2).
  Embeddings come from the cache in ``var/page-embeddings/`` once a run has filled it (a first
  run on these 2 shared cores takes ~10 minutes).
* **Time per page**, real MiniLM + committed head, uncached, 1 thread, on ``--pages`` saved
  pages of ``../shared/data/page-types`` (the first ones by key; no label is read): the
  baseline is the URL layer (URL + title only, what ``classify/url/`` does without HTML),
  against the page layer (parse the HTML, read the structural features, heading and
  description, embed the four texts, page layer). Medians and spread, and the ratio of the
  medians page/URL measured in the same run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path
from typing import Any

import benchlib  # noqa: F401 - sys.path and settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-eval", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import django

    django.setup()
    from mlverify.page_check.classifier import load_page_classifier
    from mlverify.page_check.config import ClassifierConfig
    from mlverify.page_check.features import (
        feature_dict,
        page_input,
        page_title,
        url_features,
    )
    from mlverify.page_check.signals import parse_html
    from mlverify.page_check.url_text import PageInput
    from mlverify.training.defaults import default_data_dir
    from mlverify.training.run import run

    report: dict[str, Any] = {}
    model = load_page_classifier(ClassifierConfig(runtime="torch"))
    data = default_data_dir() / "page-types"
    urls = {k: v.get("url") for k, v in json.loads((data / "labels.json").read_text()).items()}
    keys = [k for k in sorted(urls) if urls[k]][: args.pages]
    raw = {k: gzip.decompress((data / "html" / f"{k}.html.gz").read_bytes()) for k in keys}

    url_ms: list[float] = []
    page_ms: list[float] = []
    for _ in range(args.repeats):
        for key in keys:
            url, html = str(urls[key]), raw[key]
            started = time.perf_counter()
            doc = parse_html(html)
            title = page_title(doc) if doc is not None else None
            page = page_input(url, doc) if doc is not None else PageInput.from_url(url)
            model.predict([page], [feature_dict(url, doc)])
            page_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            model.predict([PageInput.from_url(url, title)], [url_features(url)])
            url_ms.append((time.perf_counter() - started) * 1000)
    url_stats, page_stats = benchlib.summarise(url_ms), benchlib.summarise(page_ms)
    report["time_per_page"] = {
        "url_layer_baseline": url_stats,
        "page_layer": page_stats,
        "median_ratio_page_over_url": round(page_stats["median_ms"] / url_stats["median_ms"], 2),
        "p95_ratio_page_over_url": round(page_stats["p95_ms"] / url_stats["p95_ms"], 2),
    }

    if not args.skip_eval:
        started = time.perf_counter()
        result = run(model.encoder, default_data_dir(), train_final=False)  # type: ignore[arg-type]
        full, url_only = result.report["url+title+page"], result.report["url+title"]
        report["held_out"] = {
            "seconds": round(time.perf_counter() - started, 1),
            "mix_f1": {"url+title": url_only["mix"]["f1"], "url+title+page": full["mix"]["f1"]},
            "product_vs_articles_f1": {
                "url+title": url_only["product_vs_articles"]["f1"],
                "url+title+page": full["product_vs_articles"]["f1"],
            },
            "mix_accuracy_3class": full["mix_accuracy_3class"],
            # The report folds (3-5 of 5): no development choice was compared on them.
            "report_folds_f1": {
                "mix": full["mix_report"]["f1"],
                "product_vs_articles": full["product_vs_articles_report"]["f1"],
            },
            "tune_folds_f1": {
                "mix": full["mix_tune"]["f1"],
                "product_vs_articles": full["product_vs_articles_tune"]["f1"],
            },
        }

    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    t = report["time_per_page"]
    print(
        f"page check per page: URL layer median {url_stats['median_ms']} ms "
        f"(IQR {url_stats['iqr_ms']}), page layer median {page_stats['median_ms']} ms "
        f"(IQR {page_stats['iqr_ms']}); page/URL {t['median_ratio_page_over_url']}x"
    )


if __name__ == "__main__":
    main()
