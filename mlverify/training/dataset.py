"""The training data set: the person-labelled pages, the rule-labelled links, the weighted
training texts, and their embeddings."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlverify.page_check.encoder import TextEncoder, embed_pages
from mlverify.page_check.signals import PageSignals, extract_page_signals, parse_html
from mlverify.page_check.url_text import PageInput
from mlverify.training.defaults import DEFAULT_PER_SITE_CAP, DEFAULT_SEED
from mlverify.training.rules import RuleLink, cap_per_site, harvest_links
from mlverify.training.sites import site_of

# Share of the total training weight: positives balance negatives; within the negatives,
# person-labelled articles and rule-labelled shop links weigh the same.
WEIGHT_SHARE = {"product": 0.5, "article": 0.25, "rule": 0.25}


@dataclass(frozen=True)
class LabelledPage:
    key: str
    url: str
    title: str | None
    label: int  # 1 product page, 0 not
    source: str  # "product" or "article"
    site: str
    signals: PageSignals


@dataclass(frozen=True)
class Example:
    input: PageInput
    label: int
    site: str
    origin: str  # "product", "article" (person-labelled) or "rule"
    weight: float
    page: int | None = None  # index into Dataset.pages for person-labelled examples
    variant: str = "url"  # "url" or "url+title"


@dataclass
class Dataset:
    pages: list[LabelledPage]
    links: list[RuleLink]
    examples: list[Example] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        kinds = Counter(link.kind for link in self.links)
        return {
            "product_pages": sum(1 for p in self.pages if p.label == 1),
            "article_pages": sum(1 for p in self.pages if p.label == 0),
            "product_sites": len({p.site for p in self.pages if p.label == 1}),
            "article_sites": len({p.site for p in self.pages if p.label == 0}),
            "rule_links": len(self.links),
            "rule_links_by_kind": dict(sorted(kinds.items())),
            "training_texts": len(self.examples),
        }


def page_title(doc: Any) -> str | None:
    """The page's ``<title>``, or its ``og:title`` when the title is empty."""
    title = doc.findtext(".//title")
    if not title or not title.strip():
        og = doc.xpath('//meta[@property="og:title"]/@content')
        title = og[0] if og else None
    return re.sub(r"\s+", " ", title).strip() if title and title.strip() else None


def _read_html(path: Path) -> bytes:
    with gzip.open(path, "rb") as fh:
        return fh.read()


def load_dataset(
    data_dir: Path, *, per_site_cap: int = DEFAULT_PER_SITE_CAP, seed: int = DEFAULT_SEED
) -> Dataset:
    """Read the labelled pages (with titles and page signals) and harvest rule-labelled links."""
    data_dir = Path(data_dir)
    product_index = data_dir / "product-pages" / "ground-truth.json"
    article_index = data_dir / "article-pages" / "pages.json"
    for path in (product_index, article_index):
        if not path.is_file():
            raise FileNotFoundError(f"training data not found: {path}")
    pages: list[LabelledPage] = []
    links: list[RuleLink] = []
    sources = (("product", 1, product_index), ("article", 0, article_index))
    for source, label, index in sources:
        entries = json.loads(index.read_text(encoding="utf-8"))
        for key in sorted(entries):
            url = entries[key]["url"]
            html_path = index.parent / "html" / f"{key}.html.gz"
            doc = parse_html(_read_html(html_path)) if html_path.is_file() else None
            pages.append(
                LabelledPage(
                    key=key,
                    url=url,
                    title=page_title(doc) if doc is not None else None,
                    label=label,
                    source=source,
                    site=site_of(url),
                    signals=extract_page_signals(doc) if doc is not None else PageSignals(),
                )
            )
            if label == 1 and doc is not None:
                links.extend(harvest_links(url, doc))
    links = cap_per_site(links, per_site_cap, seed)
    dataset = Dataset(pages=pages, links=links)
    dataset.examples = build_examples(dataset)
    return dataset


def build_examples(dataset: Dataset) -> list[Example]:
    """Training texts: each labelled page as URL only and as URL + title; each rule link as
    URL only and, when it has anchor text, URL + anchor. Weights per :data:`WEIGHT_SHARE`."""
    raw: list[tuple[PageInput, int, str, str, int | None, str]] = []
    for i, page in enumerate(dataset.pages):
        url_only = PageInput.from_url(page.url)
        raw.append((url_only, page.label, page.site, page.source, i, "url"))
        with_title = PageInput.from_url(page.url, page.title)
        if with_title.title:
            raw.append((with_title, page.label, page.site, page.source, i, "url+title"))
    for link in dataset.links:
        raw.append((PageInput.from_url(link.url), 0, link.site, "rule", None, "url"))
        with_anchor = PageInput.from_url(link.url, link.anchor)
        if with_anchor.title:
            raw.append((with_anchor, 0, link.site, "rule", None, "url+title"))
    per_origin = Counter(r[3] for r in raw)
    examples = []
    for item, label, site, origin, page_index, variant in raw:
        weight = WEIGHT_SHARE[origin] * len(raw) / per_origin[origin]
        examples.append(Example(item, label, site, origin, weight, page_index, variant))
    return examples


def embed_examples(encoder: TextEncoder, examples: Sequence[Example]) -> np.ndarray:
    return np.asarray(embed_pages(encoder, [e.input for e in examples]), dtype=np.float64)
