"""The training data set: the person-labelled pages of three sources, the rule-labelled links,
the weighted training examples of each head layer, and their embeddings.

Sources (all under ``../shared/data``):

* ``page-types/``: pages of seven kinds, labelled by a person; ``product`` stays product,
  ``collection`` (a category or product grid) stays collection, and listing, service, forum,
  documentation and article pages are ``other``.
* ``product-pages/``: product pages (product); ``article-pages/``: news and blog articles
  (other).
* Links harvested from the product pages by the generic rules of
  :mod:`~mlverify.training.rules` (URL layer only): breadcrumb, listing and search links are
  collections, the rest (cart, account, help, home...) other.
* With ``train_page_classifier --shared-pages``: the pages users shared from the extension
  and staff labelled in the admin (:class:`SharedPage`, source ``shared-pages``).

The page layer serves what the browser extension sends, not the page as served
(:mod:`~mlverify.training.capture`: no inline scripts, no ``<link rel=next>``...). Each page
with HTML is read both ways: as the extension sends it (the page's texts and features, what
it is measured on) and as served (:attr:`LabelledPage.served`, a second training example),
each half a page's weight.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from lxml.html import HtmlElement

from mlverify.page_check.config import PAGE_TYPES
from mlverify.page_check.encoder import AnyTextEncoder, sum_page_vectors
from mlverify.page_check.features import feature_dict, page_input, page_title, url_features
from mlverify.page_check.signals import PageSignals, extract_page_signals, parse_html
from mlverify.page_check.url_text import PageInput
from mlverify.training.capture import as_extension_sends
from mlverify.training.defaults import DEFAULT_PER_SITE_CAP, DEFAULT_SEED
from mlverify.training.embed_cache import DEFAULT_CACHE_DIR, embed_texts
from mlverify.training.rules import RuleLink, cap_per_site, harvest_links
from mlverify.training.sites import site_of

PRODUCT, COLLECTION, OTHER = range(3)
KIND_CLASS = {"product": PRODUCT, "collection": COLLECTION}  # every other kind is OTHER
COLLECTION_LINK_KINDS = frozenset({"breadcrumb", "listing", "search"})
RULE_WEIGHT = 0.5  # a rule-labelled link counts half a person-labelled page
# A page with HTML trains the page layer twice, as the extension sends it (variant "page",
# the one held-out pages are scored on) and as served ("page-served"), each half a page.
VIEW_WEIGHT = 0.5
SERVED_VARIANT = "page-served"
# How many embeddings each layer reads side by side (embed_page_parts): the URL layer the
# summed vector; the page layer also the lead and the button labels.
LAYER_TEXT_PARTS = {"url": 1, "page": 3}


@dataclass(frozen=True)
class PageView:
    """What the page layer reads of one reading of a page's HTML, as serving reads it."""

    input: PageInput
    features: dict[str, float]

    @classmethod
    def of(cls, url: str, doc: HtmlElement) -> PageView:
        return cls(input=page_input(url, doc), features=feature_dict(url, doc))


@dataclass(frozen=True)
class LabelledPage:
    """A person-labelled page: ``sent`` is what the page layer reads of the page as the
    extension sends it (what held-out pages are scored on), ``served`` of the page as the site
    served it; both None without HTML."""

    key: str
    url: str
    title: str | None
    label: int  # index into PAGE_TYPES
    kind: str  # the person's label: product, collection, article, forum...
    source: str  # "page-types", "product-pages" or "article-pages"
    site: str
    signals: PageSignals
    sent: PageView | None = None
    served: PageView | None = None

    @property
    def is_product(self) -> bool:
        return self.label == PRODUCT


@dataclass(frozen=True)
class Example:
    input: PageInput
    label: int
    site: str
    origin: str  # "page" (person-labelled) or "rule"
    weight: float
    features: dict[str, float]
    layer: str  # "url" or "page"
    page: int | None = None  # index into Dataset.pages for person-labelled examples
    variant: str = "url"  # "url", "url+title", "page" or SERVED_VARIANT (trains, never scored)


@dataclass
class Dataset:
    pages: list[LabelledPage]
    links: list[RuleLink]
    examples: list[Example] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        kinds = Counter(link.kind for link in self.links)
        by_source: dict[str, dict[str, int]] = {}
        for page in self.pages:
            by_source.setdefault(page.source, Counter())[page.kind] += 1  # type: ignore[index]
        return {
            "pages": len(self.pages),
            "pages_by_source_and_kind": {
                s: dict(sorted(c.items())) for s, c in sorted(by_source.items())
            },
            "pages_by_class": {
                PAGE_TYPES[c]: n for c, n in sorted(Counter(p.label for p in self.pages).items())
            },
            "sites": len({p.site for p in self.pages}),
            "rule_links": len(self.links),
            "rule_links_by_kind": dict(sorted(kinds.items())),
            "examples_by_layer": dict(sorted(Counter(e.layer for e in self.examples).items())),
        }


def _read_html(path: Path) -> bytes:
    with gzip.open(path, "rb") as fh:
        return fh.read()


def _sources(data_dir: Path) -> list[tuple[str, Path, dict[str, dict[str, Any]]]]:
    """(source, html folder, {key: {"url", "page_type"}}) for each source present."""
    out = []
    page_types = data_dir / "page-types" / "labels.json"
    products = data_dir / "product-pages" / "ground-truth.json"
    articles = data_dir / "article-pages" / "pages.json"
    if not page_types.is_file() and not (products.is_file() and articles.is_file()):
        missing = page_types if not page_types.is_file() else products
        raise FileNotFoundError(f"training data not found: {missing}")
    for source, index, kind in (
        ("page-types", page_types, None),
        ("product-pages", products, "product"),
        ("article-pages", articles, "article"),
    ):
        if not index.is_file():
            continue
        entries = json.loads(index.read_text(encoding="utf-8"))
        labelled = {
            key: {"url": value.get("url"), "page_type": kind or value.get("page_type")}
            for key, value in entries.items()
            if isinstance(value, dict)
        }
        out.append((source, index.parent / "html", labelled))
    return out


@dataclass(frozen=True)
class SharedPage:
    """A page a user shared from the extension and a person labelled
    (:class:`mlverify.models.PageSample`): its HTML is already what the extension sends, so it
    has no served reading."""

    key: str
    url: str
    kind: str  # one of the page-types kinds
    html: str


SHARED_SOURCE = "shared-pages"


def _labelled_page(
    *,
    key: str,
    url: str,
    kind: str,
    source: str,
    sent: HtmlElement | None,
    served: HtmlElement | None,
) -> LabelledPage:
    return LabelledPage(
        key=key,
        url=url,
        # uncut: the URL layer's PageInput cuts it (and the cut is not idempotent)
        title=page_title(sent) if sent is not None else None,
        label=KIND_CLASS.get(kind, OTHER),
        kind=kind,
        source=source,
        site=site_of(url),
        signals=extract_page_signals(sent) if sent is not None else PageSignals(),
        sent=PageView.of(url, sent) if sent is not None else None,
        served=PageView.of(url, served) if served is not None else None,
    )


def load_dataset(
    data_dir: Path,
    *,
    per_site_cap: int = DEFAULT_PER_SITE_CAP,
    seed: int = DEFAULT_SEED,
    shared: Sequence[SharedPage] = (),
) -> Dataset:
    """Read the labelled pages (titles, headings, features, signals) and harvest rule links.

    Pages without an address are left out: the site they belong to, which the held-out
    evaluation groups by, is unknown. ``shared`` pages (labelled by staff in the admin) join
    as the source ``shared-pages``: they train and are scored by site like the others, and
    rule links are harvested from the data sets' pages only.
    """
    data_dir = Path(data_dir)
    pages: list[LabelledPage] = []
    links: list[RuleLink] = []
    for source, html_dir, entries in _sources(data_dir):
        for key in sorted(entries):
            url, kind = entries[key]["url"], entries[key]["page_type"]
            if not isinstance(url, str) or not url or not isinstance(kind, str):
                continue
            html_path = html_dir / f"{key}.html.gz"
            doc = parse_html(_read_html(html_path)) if html_path.is_file() else None
            sent = as_extension_sends(doc) if doc is not None else None
            page = _labelled_page(
                key=f"{source}/{key}", url=url, kind=kind, source=source, sent=sent, served=doc
            )
            pages.append(page)
            if page.label == PRODUCT and doc is not None:
                links.extend(harvest_links(url, doc))
    for shared_page in shared:
        # A modified client could send what capture.js drops: read it as capture.js would.
        shared_doc = parse_html(shared_page.html)
        sent = as_extension_sends(shared_doc) if shared_doc is not None else None
        pages.append(
            _labelled_page(
                key=f"{SHARED_SOURCE}/{shared_page.key}",
                url=shared_page.url,
                kind=shared_page.kind,
                source=SHARED_SOURCE,
                sent=sent,
                served=None,
            )
        )
    links = cap_per_site(links, per_site_cap, seed)
    dataset = Dataset(pages=pages, links=links)
    dataset.examples = build_examples(dataset)
    return dataset


def _base_weight(dataset: Dataset, origin: str, layer: str, page_index: int | None) -> float:
    """An example's weight before the classes are balanced: a rule link :data:`RULE_WEIGHT`,
    each reading of a page read two ways :data:`VIEW_WEIGHT` (a shared page, read once, 1)."""
    if origin == "rule":
        return RULE_WEIGHT
    if layer == "page" and page_index is not None and dataset.pages[page_index].served is not None:
        return VIEW_WEIGHT
    return 1.0


def build_examples(dataset: Dataset) -> list[Example]:
    """The examples of both layers.

    URL layer: each page as URL only and as URL + title, with its URL features; each rule link
    as URL only and URL + anchor. Page layer: each page with HTML as URL + title + heading +
    description + lead + button labels, with every feature, once as the extension sends it and
    once as served (:data:`VIEW_WEIGHT` each). Within a layer the classes weigh the same in
    total, and a rule-labelled link weighs :data:`RULE_WEIGHT` of a page before that balancing.
    """
    raw: list[tuple[PageInput, int, str, str, dict[str, float], str, int | None, str]] = []
    for i, page in enumerate(dataset.pages):
        url_only = url_features(page.url)
        raw.append(
            (PageInput.from_url(page.url), page.label, page.site, "page", url_only, "url", i, "url")
        )
        if page.title:
            with_title = PageInput.from_url(page.url, page.title)
            raw.append((with_title, page.label, page.site, "page", url_only, "url", i, "url+title"))
        for view, variant in ((page.sent, "page"), (page.served, SERVED_VARIANT)):
            if view is not None:
                item = view.input
                raw.append((item, page.label, page.site, "page", view.features, "page", i, variant))
    for link in dataset.links:
        label = COLLECTION if link.kind in COLLECTION_LINK_KINDS else OTHER
        feats = url_features(link.url)
        raw.append(
            (PageInput.from_url(link.url), label, link.site, "rule", feats, "url", None, "url")
        )
        with_anchor = PageInput.from_url(link.url, link.anchor)
        if with_anchor.title:
            raw.append((with_anchor, label, link.site, "rule", feats, "url", None, "url+title"))
    base = [_base_weight(dataset, r[3], r[5], r[6]) for r in raw]
    totals: Counter[tuple[str, int]] = Counter()
    for r, b in zip(raw, base, strict=True):
        totals[(r[5], r[1])] += b  # type: ignore[assignment]
    examples = []
    for (item, label, site, origin, feats, layer, page_index, variant), b in zip(
        raw, base, strict=True
    ):
        layer_total = sum(v for (lay, _), v in totals.items() if lay == layer)
        n_classes = sum(1 for (lay, _) in totals if lay == layer)
        weight = b * layer_total / (n_classes * totals[(layer, label)])
        examples.append(
            Example(item, label, site, origin, weight, feats, layer, page_index, variant)
        )
    return examples


def scored(examples: Sequence[Example], idx: Sequence[int] | np.ndarray) -> np.ndarray:
    """The examples of ``idx`` a held-out page is judged by: a page layer's served copy trains
    but is never scored, so the figures are for the page as the extension sends it."""
    return np.array([i for i in idx if examples[i].variant != SERVED_VARIANT], dtype=int)


def embed_examples(
    encoder: AnyTextEncoder,
    examples: Sequence[Example],
    *,
    cache_dir: Path | None = DEFAULT_CACHE_DIR,
) -> np.ndarray:
    """Per example the embeddings the widest layer reads side by side (as
    :func:`~mlverify.page_check.encoder.embed_page_parts` serves them): the normalised sum of
    its texts' embeddings, then its lead and button labels (zero when absent, and for URL-layer
    examples, whose layer reads the first part only). Cached on disk
    (:mod:`~mlverify.training.embed_cache`)."""
    parts = max(LAYER_TEXT_PARTS.values())
    texts: list[str] = []
    for e in examples:
        texts.extend(e.input.texts)
    extra = sorted({t for e in examples for t in e.input.parts[: parts - 1] if t})
    vectors = embed_texts(encoder, texts + extra, cache_dir=cache_dir, desc="embedding pages")
    counts = [len(e.input.texts) for e in examples]
    dim = encoder.dim
    out = np.zeros((len(examples), parts * dim), dtype=np.float64)
    out[:, :dim] = sum_page_vectors(vectors[: len(texts)], counts, dim)
    row_of = {t: len(texts) + i for i, t in enumerate(extra)}
    for i, e in enumerate(examples):
        for j, text in enumerate(e.input.parts[: parts - 1], start=1):
            if text:
                out[i, j * dim : (j + 1) * dim] = vectors[row_of[text]]
    return out
