"""Benchmark learning from corrections on the development shops (extraction.learning).

Run from the repository root, with no database and no Django settings::

    .venv/bin/python bench/learning.py            # table
    .venv/bin/python bench/learning.py --json     # machine-readable
    .venv/bin/python bench/learning.py --show     # every lesson and what it changed

For every shop of ``../shared/data/product-pages`` with two pages or more, and for each of its
pages in turn as "page A": the page is extracted and its candidate record kept (as when a
user saves it); each of price, currency and availability that the extractor got wrong is
corrected to the ground truth (one simulated correction per shop and page A, as a user's
``PATCH items/{id}/``); the record's places that held the true value become the shop's
learned locations; then the shop's *other* pages are extracted again with those locations
tried first. F1 on those other pages is reported before (the extractor alone) and after, with
the same scoring as ``bench/extraction.py`` (``extraction/evaluation.py``).

A second scenario strips each page of its JSON-LD, product meta tags and microdata (a shop
that marks nothing up, left to the visible-page heuristics), where the extractor errs more.

The scoring sums over every (shop, page A) pair, so a shop of n pages counts n rotations of
n-1 pages. It is the own-user case (one correction helps its author at once); the
two-user rule changes who is helped, not what.

Time, as ratios against the extractor alone measured in the same run (CPU time, median with
10th and 90th percentiles): extraction of the other pages with the learning step, and the
cost of keeping a page's candidate record when it is saved.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import structlog  # noqa: E402

from buyhive.product.availability import normalize_availability  # noqa: E402
from extraction.deterministic import extract_deterministic  # noqa: E402
from extraction.evaluation import Page, Score, load_pages, score_page  # noqa: E402
from extraction.learning.apply import apply_learned  # noqa: E402
from extraction.learning.candidates import page_candidates, record_matches  # noqa: E402
from extraction.learning.page import page_view  # noqa: E402
from extraction.normalize import resolve_currency  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "product-pages"
FIELDS = ("price", "currency", "availability")


def domain_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


_LD_RE = re.compile(r"<script[^>]*ld\+json[^>]*>.*?</script>", re.I | re.S)
_META_RE = re.compile(r"<meta[^>]*(?:product:|og:price|og:availability|itemprop)[^>]*>", re.I)
_ITEMPROP_RE = re.compile(
    r"\s(?:itemprop|itemscope|itemtype)(?:=(?:\"[^\"]*\"|'[^']*'|\S+))?", re.I
)


def strip_structured(html: str) -> str:
    """The page without its JSON-LD, product meta tags and microdata attributes: a shop
    that marks nothing up, where only the visible page's heuristics are left."""
    html = _LD_RE.sub("", html)
    html = _META_RE.sub("", html)
    return _ITEMPROP_RE.sub(" ", html)


def user_value(field_name: str, truth: str, page: Any) -> Any:
    """What a user types for the true value (an ISO code for a printed symbol)."""
    if field_name == "currency":
        return resolve_currency(truth, page.locale)
    if field_name == "availability":
        return normalize_availability(truth)
    return truth


def run(shops: dict[str, list[Page]], *, show: bool) -> dict[str, Any]:
    """One scenario: every (shop, page A) rotation, scored on the shop's other pages."""
    base: dict[str, dict[str, Any]] = {}
    views: dict[str, Any] = {}
    records: dict[str, dict[str, Any]] = {}
    record_ratios: list[float] = []
    for group in shops.values():
        for page in group:
            started = time.process_time()
            result = extract_deterministic(url=page.url, html=page.html)
            extract_time = time.process_time() - started
            base[page.key] = result.to_dict()["product"]
            started = time.process_time()
            views[page.key] = page_view(html=page.html, url=page.url)
            records[page.key] = page_candidates(views[page.key]) if views[page.key] else {}
            if extract_time > 0:
                record_ratios.append((time.process_time() - started) / extract_time)

    before, after = Score(), Score()
    lessons = 0
    rotations = 0
    t_base: list[float] = []
    t_learn: list[float] = []
    for domain, group in sorted(shops.items()):
        for page_a in group:
            rotations += 1
            view_a = views[page_a.key]
            learned: dict[str, list[str]] = {}
            for field_name in FIELDS:
                truths = page_a.truth.get(field_name) or []
                if not truths or view_a is None:
                    continue
                if score_page(field_name, truths, base[page_a.key].get(field_name))[0]:
                    continue  # right already: the user has nothing to correct
                value = user_value(field_name, truths[0], view_a)
                places = record_matches(records[page_a.key], field_name, value)[:2]
                if places:
                    learned[field_name] = places
            lessons += bool(learned)
            for page_b in group:
                if page_b is page_a:
                    continue
                started = time.process_time()
                result = extract_deterministic(url=page_b.url, html=page_b.html)
                t_base.append(time.process_time() - started)
                started = time.process_time()
                result = extract_deterministic(url=page_b.url, html=page_b.html)
                if learned:
                    view_b = page_view(html=page_b.html, url=page_b.url)
                    if view_b is not None:
                        apply_learned(result, view_b, learned)
                t_learn.append(time.process_time() - started)
                product = result.to_dict()["product"]
                for field_name in FIELDS:
                    before.add(page_b, field_name, base[page_b.key].get(field_name))
                    after.add(page_b, field_name, product.get(field_name))
                changed = {
                    f: (base[page_b.key].get(f), product.get(f), page_b.truth.get(f))
                    for f in FIELDS
                    if base[page_b.key].get(f) != product.get(f)
                }
                if show and changed:
                    print(f"  {domain} {page_a.key[:8]} -> {page_b.key[:8]}: {changed}")

    ratios = sorted(b / a for a, b in zip(t_base, t_learn, strict=True) if a > 0)
    sizes = [
        len(json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode())
        for r in records.values()
    ]
    return {
        "shops": len(shops),
        "rotations": rotations,
        "rotations_with_a_lesson": lessons,
        "pages_scored": len(t_base),
        "f1_before": {f: round(before.f1(f), 3) for f in FIELDS},
        "f1_after": {f: round(after.f1(f), 3) for f in FIELDS},
        "record_bytes": {"median": statistics.median(sizes), "max": max(sizes)},
        "time_ratio_record_vs_extractor": _spread(record_ratios),
        "time_ratio_learning_vs_extractor": {
            "median": round(statistics.median(ratios), 2),
            "p10": round(ratios[len(ratios) // 10], 2),
            "p90": round(ratios[(len(ratios) * 9) // 10], 2),
        },
    }


def _spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 2),
        "p10": round(ordered[len(ordered) // 10], 2),
        "p90": round(ordered[(len(ordered) * 9) // 10], 2),
    }


def print_report(name: str, report: dict[str, Any]) -> None:
    print(f"\n{name}: {report['shops']} shops, {report['rotations']} corrected pages "
          f"({report['rotations_with_a_lesson']} taught something), "
          f"{report['pages_scored']} other pages scored")  # fmt: skip
    print(f"{'field':<14}{'F1 before':>10}{'F1 after':>10}")
    for f in FIELDS:
        print(f"{f:<14}{report['f1_before'][f]:>10.3f}{report['f1_after'][f]:>10.3f}")
    sizes = report["record_bytes"]
    print(f"candidate record: median {sizes['median']} bytes, max {sizes['max']} bytes")
    r = report["time_ratio_record_vs_extractor"]
    print(f"keeping the record at save / extractor alone (CPU): median "
          f"{r['median']}x (p10 {r['p10']}x, p90 {r['p90']}x)")  # fmt: skip
    t = report["time_ratio_learning_vs_extractor"]
    print(f"time per page, learning step included / extractor alone (CPU): median "
          f"{t['median']}x (p10 {t['p10']}x, p90 {t['p90']}x)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))

    shops: dict[str, list[Page]] = defaultdict(list)
    for page in load_pages(args.data):
        shops[domain_of(page.url)].append(page)
    shops = {d: ps for d, ps in shops.items() if len(ps) >= 2}
    bare = {d: [replace(p, html=strip_structured(p.html)) for p in ps] for d, ps in shops.items()}
    reports = {}
    for name, scenario in (("as served", shops), ("structured data removed", bare)):
        if args.show:
            print(f"{name}: values changed by a lesson (before, after, truth)")
        reports[name] = run(scenario, show=args.show)
    if args.json:
        print(json.dumps(reports, indent=2))
        return
    for name, report in reports.items():
        print_report(name, report)


if __name__ == "__main__":
    main()
