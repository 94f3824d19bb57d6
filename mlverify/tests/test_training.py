"""Training data rules, the held-out protocol and the training commands (tiny encoder)."""

from __future__ import annotations

import dataclasses
import gzip
import json
from io import StringIO
from pathlib import Path
from typing import Any

import lxml.html
import numpy as np
import pytest
from django.core.management import call_command

from buyhive.resampling import f1_interval
from mlverify.page_check import classifier as page_model
from mlverify.page_check import config as page_config
from mlverify.page_check import encoder as page_encoder
from mlverify.page_check import head as page_head
from mlverify.page_check.features import feature_dict
from mlverify.tests.tiny_models import TinyBert
from mlverify.training import dataset as training_data
from mlverify.training import (
    defaults,
    embed_cache,
    evaluation,
    fitting,
    rules,
    selection,
    sites,
    softmax,
)

# ---------------------------------------------------------------------------------------------
# Rules for hard negatives
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://shop.example/cart", "cart"),
        ("https://shop.example/de/warenkorb", "cart"),
        ("https://shop.example/shopping_cart.html", "cart"),
        ("https://shop.example/sk/kosik", "cart"),
        ("https://shop.example/checkout/onepage/", "checkout"),
        ("https://shop.example/customer/account/login/", "account"),
        ("https://shop.example/mein-konto/login.html", "account"),
        ("https://shop.example/my-account", "account"),
        ("https://shop.example/wishlist.php", "wishlist"),
        ("https://shop.example/fr/favoris", "wishlist"),
        ("https://shop.example/search/red+shoes", "search"),
        ("https://shop.example/s?q=lamp", "search"),
        ("https://shop.example/help/returns-h9.html", "help"),
        ("https://shop.example/faq-delivery-costs-s4000.html", "help"),
        ("https://shop.example/kontakt", "help"),
        ("https://shop.example/about-us/", "about"),
        ("https://shop.example/quem-somos/", "about"),
        ("https://shop.example/agb", "legal"),
        ("https://shop.example/politica-privacidade/", "legal"),
        ("https://shop.example/retoure-umtausch-s400067087.html", "shipping"),
        ("https://shop.example/de/filialen", "stores"),
        ("https://shop.example/store-locator", "stores"),
        ("https://shop.example/blog/2020/summer", "blog"),
        ("https://shop.example/camera-guide-286.html", "blog"),
        ("https://shop.example/brands/nike/", "listing"),
        ("https://shop.example/category/shoes", "listing"),
        ("https://shop.example/index.php?route=checkout/cart", "checkout"),
        ("https://shop.example/index.php?main_page=login", "account"),
    ],
)
def test_keyword_rule_labels_non_product_pages(url: str, kind: str) -> None:
    assert rules.link_rule(url) == kind


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example/gb/en/p/raskog-trolley-black-90333976/",
        "https://shop.example/pony-cart-harness-for-shetland-ponies-123.html",
        "https://shop.example/p/garlic-press-steel-9",
        "https://shop.example/help-me-rhonda-vinyl-record-lp-1965",
        "https://shop.example/itm/302474151804",
        "https://shop.example/index.php?page=product&pid=428514",
        "https://shop.example/de/filzstift-fibralo-medium-24718?sku=1049084",
        "https://shop.example/collections/summer/products/linen-shirt-blue",
    ],
)
def test_product_urls_are_not_labelled(url: str) -> None:
    assert rules.link_rule(url) is None


def test_home_rule_is_the_root_or_a_locale_root() -> None:
    assert rules.is_home("https://shop.example/")
    assert rules.is_home("https://shop.example")
    assert rules.is_home("https://shop.example/gb/en/")
    assert rules.is_home("https://shop.example/de-ch")
    assert not rules.is_home("https://shop.example/gb/en/p/lamp-1/")
    assert not rules.is_home("https://shop.example/?q=lamp")
    assert not rules.is_home("https://shop.example/lamps")


def test_breadcrumb_rule_needs_the_breadcrumb_flag() -> None:
    url = "https://shop.example/lighting/table-lamps"
    assert rules.link_rule(url) is None
    assert rules.link_rule(url, in_breadcrumb=True) == "breadcrumb"


def test_registrable_domain_and_site() -> None:
    assert sites.registrable_domain("www.shop.co.uk") == "shop.co.uk"
    assert sites.registrable_domain("a.b.example.com") == "example.com"
    assert sites.registrable_domain("shop.com.tw") == "shop.com.tw"
    assert sites.site_of("https://www.shop.co.uk/x") == sites.site_of("https://shop.de/y")
    assert sites.site_of("https://kids.shop.by/a") == "shop"


PRODUCT_PAGE = """<html><head><title>{title}</title>
<script type="application/ld+json">{{"@type": "BreadcrumbList", "itemListElement": [
 {{"@type": "ListItem", "position": 1, "item": "https://{host}/lighting"}},
 {{"@type": "ListItem", "position": 2, "item": {{"@id": "{url}"}}}}]}}</script>
<script type="application/ld+json">{{"@type": "Product", "name": "{title}",
 "offers": {{"@type": "Offer", "price": "10"}}}}</script>
<script>window.dataLayer = [{{"sku": "OAK-1"}}];</script></head>
<body>
<nav class="Breadcrumbs"><a href="/">Home</a> &gt; <a href="/lighting/table-lamps">Table lamps</a>
 &gt; <a href="{url}">{title}</a></nav>
<a href="/cart">Cart</a> <a href="/help/faq">Help</a> <a href="/account/login">Sign in</a>
<a href="/p/other-lamp-2">Other lamp</a> <a href="https://elsewhere.example/cart">Their cart</a>
<a href="/images/lamp.jpg">Picture</a> <a href="{url}#reviews">Reviews</a>
<a href="mailto:shop@{host}">Mail</a> <a href="/search?q=lamp">Search lamps</a>
<button>Add to cart</button>
</body></html>"""

ARTICLE_PAGE = """<html><head><title>{title}</title><meta property="og:type" content="article">
<script type="application/ld+json">{{"@type": "NewsArticle", "headline": "{title}"}}</script>
</head><body><p>Story.</p>
<a href="/cart">not harvested: articles give no rule links</a></body></html>"""


def test_harvest_links_applies_the_rules_to_one_page() -> None:
    url = "https://www.shop.example/p/oak-lamp-1"
    doc = lxml.html.fromstring(
        PRODUCT_PAGE.format(title="Oak lamp", url=url, host="www.shop.example")
    )
    links = {link.url: link.kind for link in rules.harvest_links(url, doc)}
    assert links == {
        "https://www.shop.example/": "home",
        "https://www.shop.example/lighting/table-lamps": "breadcrumb",
        "https://www.shop.example/lighting": "breadcrumb",
        "https://www.shop.example/cart": "cart",
        "https://www.shop.example/help/faq": "help",
        "https://www.shop.example/account/login": "account",
        "https://www.shop.example/search?q=lamp": "search",
    }


def test_cap_per_site_is_deterministic_and_round_robins_kinds() -> None:
    links = [
        rules.RuleLink(f"https://s.example/help/{i}", "", "help", "s", "x") for i in range(10)
    ] + [rules.RuleLink("https://s.example/cart", "", "cart", "s", "x")]
    kept = rules.cap_per_site(links, 3, seed=1)
    assert len(kept) == 3
    assert "cart" in {link.kind for link in kept}
    assert kept == rules.cap_per_site(list(reversed(links)), 3, seed=1)
    assert rules.cap_per_site(links, 3, seed=2) != kept or len(links) <= 3


def test_rules_label_none_of_the_person_labelled_product_pages() -> None:
    """The shipped rules never call a real product page of the shared data a non-product."""
    index = defaults.default_data_dir() / "product-pages" / "ground-truth.json"
    if not index.is_file():
        pytest.skip("shared data not present")
    urls = [entry["url"] for entry in json.loads(index.read_text()).values()]
    assert len(urls) == 65
    assert [u for u in urls if rules.link_rule(u)] == []


# ---------------------------------------------------------------------------------------------
# Data set, folds, logistic regression
# ---------------------------------------------------------------------------------------------

PRODUCT_SITES = ["www.lampshop.com", "www.tables.co.uk", "tables.de", "chairs.fr", "mugs.it"]
ARTICLE_SITES = ["www.dailynews.com", "www.cityherald.com", "blog.techtalk.org", "sportsday.net"]
GRID_SITES = ["www.sofas.com", "rugs.net", "beds.org"]
FORUM_SITES = ["talk.gardening.org", "bikes-forum.net"]

GRID_PAGE = """<html><head><title>{title}</title>
<script type="application/ld+json">{{"@type": "ItemList", "itemListElement": []}}</script>
</head><body><h1>{title}</h1><select name="sort_by"><option>Price</option></select>
<ul>{cards}</ul><nav class="pagination"><a rel="next" href="?page=2">Next</a></nav>
</body></html>"""
GRID_CARD = (
    '<li class="card"><a href="/products/item-{i}"><img src="/{i}.jpg">Item {i}</a>'
    '<span>${i}9.00</span><button class="add-to-cart">Add to cart</button></li>'
)
FORUM_PAGE = """<html><head><title>{title}</title></head><body><h1>{title}</h1>
<p>I have a question about my tomatoes. They turn yellow in June. Any idea why?</p>
<p>Reply: water them less often, and check the soil.</p></body></html>"""


def write_data_dir(root: Path, *, with_page_types: bool = True) -> Path:
    """A small data folder in the layout of ../shared/data (2 pages per host), with
    product-pages/, article-pages/ and page-types/ (grids and forum threads)."""
    products: dict[str, Any] = {}
    articles: dict[str, Any] = {}
    for kind, hosts, index in (
        ("product", PRODUCT_SITES, products),
        ("article", ARTICLE_SITES, articles),
    ):
        html_dir = root / f"{kind}-pages" / "html"
        html_dir.mkdir(parents=True)
        for h, host in enumerate(hosts):
            for i in range(2):
                key = f"{kind}{h}{i}"
                if kind == "product":
                    url = f"https://{host}/p/oak-item-{h}{i}-{1000 + i}"
                    html = PRODUCT_PAGE.format(title=f"Oak item {h}{i}", url=url, host=host)
                    index[key] = {"url": url, "price": ["10"]}
                else:
                    url = f"https://{host}/2019/11/{i + 10}/the-story-of-the-day-number-{h}{i}/"
                    html = ARTICLE_PAGE.format(title=f"The story of the day {h}{i}")
                    index[key] = {"url": url}
                (html_dir / f"{key}.html.gz").write_bytes(gzip.compress(html.encode()))
    (root / "product-pages" / "ground-truth.json").write_text(json.dumps(products))
    (root / "article-pages" / "pages.json").write_text(json.dumps(articles))
    if with_page_types:
        labels: dict[str, Any] = {}
        html_dir = root / "page-types" / "html"
        html_dir.mkdir(parents=True)
        for kind, hosts in (("collection", GRID_SITES), ("forum", FORUM_SITES)):
            for h, host in enumerate(hosts):
                for i in range(2):
                    key = f"{kind}{h}{i}"
                    title = (
                        f"Sofas and chairs {h}{i}" if kind == "collection" else "Yellow tomatoes"
                    )
                    if kind == "collection":
                        url = f"https://{host}/collections/living-room-{h}{i}"
                        cards = "".join(GRID_CARD.format(i=n) for n in range(1, 9))
                        html = GRID_PAGE.format(title=title, cards=cards)
                    else:
                        title = "Yellow tomatoes"
                        url = f"https://{host}/t/yellow-tomatoes/{4000 + h * 10 + i}"
                        html = FORUM_PAGE.format(title=title)
                    labels[key] = {"url": url, "page_type": kind, "title": title}
                    (html_dir / f"{key}.html.gz").write_bytes(gzip.compress(html.encode()))
        labels["nourl"] = {"page_type": "forum", "title": "left out"}
        (root / "page-types" / "labels.json").write_text(json.dumps(labels))
    return root


def test_load_dataset_reads_three_sources_into_three_classes(tmp_path: Path) -> None:
    dataset = training_data.load_dataset(write_data_dir(tmp_path), per_site_cap=5, seed=1)
    counts = dataset.counts()
    assert counts["pages_by_source_and_kind"] == {
        "article-pages": {"article": 8},
        "page-types": {"collection": 6, "forum": 4},  # the page without an address is left out
        "product-pages": {"product": 10},
    }
    assert counts["pages_by_class"] == {"product": 10, "collection": 6, "other": 12}
    assert all(link.site in {"lampshop", "tables", "chairs", "mugs"} for link in dataset.links)
    assert max(sum(1 for x in dataset.links if x.site == s) for s in {"tables"}) == 5
    page = next(p for p in dataset.pages if p.kind == "product")
    assert page.label == training_data.PRODUCT
    assert page.title is not None
    assert page.title.startswith("Oak item")
    assert page.signals.product_structured
    assert page.sent is not None
    assert page.sent.features["one_product"] == 1.0
    grid = next(p for p in dataset.pages if p.kind == "collection")
    assert grid.label == training_data.COLLECTION
    assert grid.sent is not None
    assert grid.sent.input.heading is not None
    assert grid.sent.input.heading.startswith("Sofas and chairs")
    assert grid.sent.features["card_repeat"] > 0
    assert grid.sent.features["url_listing_segment"] == 1.0
    forum = next(p for p in dataset.pages if p.kind == "forum")
    assert forum.label == training_data.OTHER
    # Rule links: breadcrumb/listing/search ones are collections, the others other.
    kinds = {link.url: link.kind for link in dataset.links}
    rule_labels = {e.input.url: e.label for e in dataset.examples if e.origin == "rule"}
    assert set(rule_labels) == set(kinds)
    for url, label in rule_labels.items():
        grid_kind = kinds[url] in {"breadcrumb", "listing", "search"}
        assert label == (training_data.COLLECTION if grid_kind else training_data.OTHER), url
    assert set(rule_labels.values()) == {training_data.COLLECTION, training_data.OTHER}
    # Within each layer the three classes weigh the same in total.
    for layer in ("url", "page"):
        totals: dict[int, float] = {}
        for e in dataset.examples:
            if e.layer == layer:
                totals[e.label] = totals.get(e.label, 0.0) + e.weight
        assert len({round(v, 6) for v in totals.values()}) == 1, totals
    # Every page with HTML, twice: as the extension sends it and as served, each half a page.
    page_layer = [e for e in dataset.examples if e.layer == "page"]
    for variant in ("page", training_data.SERVED_VARIANT):
        assert sorted(e.page for e in page_layer if e.variant == variant) == list(
            range(len(dataset.pages))
        )
    for page in range(len(dataset.pages)):
        weights = {e.variant: e.weight for e in page_layer if e.page == page}
        assert weights["page"] == weights[training_data.SERVED_VARIANT]


def test_a_page_is_read_as_the_extension_sends_it_and_as_served(tmp_path: Path) -> None:
    """The page layer's features and texts are those of the page the extension sends (no
    inline script); the served reading is the page's second training example."""
    dataset = training_data.load_dataset(write_data_dir(tmp_path), per_site_cap=5, seed=1)
    index = next(i for i, p in enumerate(dataset.pages) if p.kind == "product")
    page = dataset.pages[index]
    assert page.sent is not None
    assert page.served is not None
    assert page.served.features["script_sku"] == 1.0  # the served page's inline state
    assert page.sent.features["script_sku"] == 0.0  # gone from what the extension sends
    by_variant = {e.variant: e for e in dataset.examples if e.page == index and e.layer == "page"}
    assert by_variant["page"].features == page.sent.features
    assert by_variant[training_data.SERVED_VARIANT].features == page.served.features
    assert by_variant["page"].input == page.sent.input
    assert by_variant[training_data.SERVED_VARIANT].input == page.served.input


def test_a_shared_page_trains_once_as_sent_and_joins_its_sites_fold(tmp_path: Path) -> None:
    """A page a user shared and staff labelled: read as capture.js sends it (a modified
    client's inline script is dropped), one page-layer example at a whole page's weight (a
    page-types page has two halves), grouped by its site; no rule links harvested from it."""
    data_dir = write_data_dir(tmp_path)
    base = training_data.load_dataset(data_dir, per_site_cap=5, seed=1)
    url = "https://www.chairs.example/collections/garden-chairs"
    cards = "".join(GRID_CARD.format(i=n) for n in range(1, 9))
    html = GRID_PAGE.format(title="Garden chairs", cards=cards).replace(
        "</head>", '<script>window.__NEXT_DATA__ = {"sku": "X1"};</script></head>'
    )
    shared = [training_data.SharedPage(key="s1", url=url, kind="collection", html=html)]

    dataset = training_data.load_dataset(data_dir, per_site_cap=5, seed=1, shared=shared)

    assert len(dataset.pages) == len(base.pages) + 1
    index = len(dataset.pages) - 1
    page = dataset.pages[index]
    assert (page.key, page.source, page.kind) == ("shared-pages/s1", "shared-pages", "collection")
    assert page.label == training_data.COLLECTION
    assert page.site == "chairs"  # the same fold as the data set's pages of that site
    assert page.served is None and page.sent is not None
    assert page.title == "Garden chairs"
    served = feature_dict(url, lxml.html.fromstring(html))
    assert served["script_state"] == 1.0 and page.sent.features["script_state"] == 0.0
    assert dataset.counts()["pages_by_source_and_kind"]["shared-pages"] == {"collection": 1}
    assert len(dataset.links) == len(base.links)
    mine = [e for e in dataset.examples if e.page == index and e.layer == "page"]
    assert [e.variant for e in mine] == ["page"]
    grid = next(
        e
        for e in dataset.examples
        if e.layer == "page"
        and e.variant == "page"
        and dataset.pages[e.page or 0].kind == "collection"
        and e.page != index
    )
    assert mine[0].weight == pytest.approx(2 * grid.weight)
    # The data sets' own pages read the same as without the shared page.
    assert [p.key for p in dataset.pages[:-1]] == [p.key for p in base.pages]
    assert [p.sent for p in dataset.pages[:-1]] == [p.sent for p in base.pages]


def test_held_out_pages_are_scored_as_the_extension_sends_them(tmp_path: Path) -> None:
    """The cross-validation's page-layer probability of a held-out page is the layer's answer
    for the page as the extension sends it, not for its served copy."""
    dataset = training_data.load_dataset(write_data_dir(tmp_path), per_site_cap=5, seed=1)
    examples = dataset.examples
    x = np.random.default_rng(5).normal(size=(len(examples), 12))
    cv = evaluation.cross_validate(dataset, x, k=3, seed=1)
    site_fold = evaluation.grouped_folds(dataset.pages, 3, seed=1)
    train_idx, test_idx = evaluation.fold_indices(examples, site_fold, 3)[0]
    grid = selection.FIXED_GRID
    layer = fitting.fit_layer(
        x,
        examples,
        np.array([i for i in train_idx if examples[i].layer == "page"]),
        "page",
        l2=grid.l2[0],
        text_scale=grid.text_scale[0],
    )
    by_variant: dict[str, list[int]] = {"page": [], training_data.SERVED_VARIANT: []}
    for i in test_idx:
        if examples[i].layer == "page":
            by_variant[examples[i].variant].append(int(i))
    sent, served = (by_variant[v] for v in ("page", training_data.SERVED_VARIANT))
    assert [examples[i].page for i in sent] == [examples[i].page for i in served]
    pages = [examples[i].page for i in sent]
    on_sent = layer.probabilities(x[sent], [examples[i].features for i in sent])
    on_served = layer.probabilities(x[served], [examples[i].features for i in served])
    assert np.allclose(cv.page_probs[pages], on_sent)
    assert not np.allclose(cv.page_probs[pages], on_served)


def test_a_learning_curve_trains_on_fewer_sites_and_scores_the_same_pages(
    tmp_path: Path,
) -> None:
    """``train_on_site`` (bench/page_check_data.py) drops training sites only: a fold's layers
    are those fitted on the kept sites' examples, and every page is still scored."""
    dataset = training_data.load_dataset(write_data_dir(tmp_path), per_site_cap=5, seed=1)
    examples = dataset.examples
    x = np.random.default_rng(5).normal(size=(len(examples), 12))
    full = evaluation.cross_validate(dataset, x, k=3, seed=1)
    everything = evaluation.cross_validate(dataset, x, k=3, seed=1, train_on_site=lambda s: True)
    assert np.array_equal(full.page_probs, everything.page_probs)

    dropped = "chairs"
    fewer = evaluation.cross_validate(
        dataset, x, k=3, seed=1, train_on_site=lambda site: site != dropped
    )

    assert not np.isnan(fewer.page_probs).any() and not np.isnan(fewer.url_probs).any()
    site_fold = evaluation.grouped_folds(dataset.pages, 3, seed=1)
    fold = next(f for f in range(3) if site_fold.get(dropped) != f)
    train_idx, test_idx = evaluation.fold_indices(examples, site_fold, 3)[fold]
    kept = np.array(
        [i for i in train_idx if examples[i].layer == "page" and examples[i].site != dropped]
    )
    grid = selection.FIXED_GRID
    layer = fitting.fit_layer(
        x, examples, kept, "page", l2=grid.l2[0], text_scale=grid.text_scale[0]
    )
    sent = [
        int(i) for i in test_idx if examples[i].layer == "page" and examples[i].variant == "page"
    ]
    pages = [examples[i].page for i in sent]
    assert np.allclose(
        fewer.page_probs[pages], layer.probabilities(x[sent], [examples[i].features for i in sent])
    )
    assert not np.allclose(fewer.page_probs[pages], full.page_probs[pages])


def test_folds_hold_out_whole_sites_with_their_rule_links(tmp_path: Path) -> None:
    dataset = training_data.load_dataset(write_data_dir(tmp_path), per_site_cap=5, seed=1)
    site_fold = evaluation.grouped_folds(dataset.pages, 3, seed=1)
    assert set(site_fold) == {p.site for p in dataset.pages}
    assert set(site_fold.values()) == {0, 1, 2}
    tested: list[int] = []
    for train_idx, test_idx in evaluation.fold_indices(dataset.examples, site_fold, 3):
        train_sites = {dataset.examples[i].site for i in train_idx}
        test_sites = {dataset.examples[i].site for i in test_idx}
        assert not train_sites & test_sites
        rule_test = [i for i in test_idx if dataset.examples[i].origin == "rule"]
        assert all(dataset.examples[i].site in test_sites for i in rule_test)
        tested.extend(int(i) for i in test_idx)
    assert sorted(tested) == list(range(len(dataset.examples)))  # each example tested once


@pytest.mark.parametrize("criterion", ["log_loss", "f1"])
def test_the_inner_choice_sees_only_the_training_sites(tmp_path: Path, criterion: str) -> None:
    """Nested selection: the settings a fold's inner cross-validation chooses do not change
    when the held-out sites' inputs change, and they come from the candidate grid."""
    dataset = training_data.load_dataset(write_data_dir(tmp_path), per_site_cap=5, seed=1)
    grid = dataclasses.replace(selection.WIDE_GRID, criterion=criterion)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(len(dataset.examples), 8))
    site_fold = evaluation.grouped_folds(dataset.pages, 3, seed=1)
    for fold, (train_idx, test_idx) in enumerate(
        evaluation.fold_indices(dataset.examples, site_fold, 3)
    ):
        held_out = (site_fold, fold)
        choice = evaluation.choose_settings(
            dataset, x, train_idx, 1, exclude_fold=held_out, grid=grid
        )
        assert choice.l2 in grid.l2
        assert choice.text_scale in grid.text_scale
        assert choice.threshold in grid.thresholds
        assert np.isfinite(choice.score)
        scrambled = x.copy()
        scrambled[test_idx] = rng.normal(size=(len(test_idx), 8))
        again = evaluation.choose_settings(
            dataset, scrambled, train_idx, 1, exclude_fold=held_out, grid=grid
        )
        assert again == choice


def test_the_fixed_grid_fits_nothing_to_choose(tmp_path: Path) -> None:
    dataset = training_data.load_dataset(write_data_dir(tmp_path), per_site_cap=5, seed=1)
    x = np.zeros((len(dataset.examples), 8))
    choice = evaluation.choose_settings(dataset, x, np.arange(len(dataset.examples)), 1)
    fixed = selection.FIXED_GRID
    assert (choice.l2, choice.text_scale, choice.threshold) == (
        fixed.l2[0],
        fixed.text_scale[0],
        fixed.thresholds[0],
    )


def test_mean_f1_averages_the_two_measures(tmp_path: Path) -> None:
    dataset = training_data.load_dataset(write_data_dir(tmp_path), per_site_cap=5, seed=1)
    truth = {
        i: np.array([1.0, 0.0, 0.0]) if p.is_product else np.array([0.0, 0.5, 0.5])
        for i, p in enumerate(dataset.pages)
    }
    assert selection.mean_f1(dataset.pages, truth, 0.5) == 1.0
    everything_product = {i: np.array([0.6, 0.2, 0.2]) for i in truth}
    # the mix has no product page (F1 undefined, left out); product vs articles: 10 of 18
    assert selection.mean_f1(dataset.pages, everything_product, 0.5) == pytest.approx(20 / 28)
    assert selection.mean_f1(dataset.pages, everything_product, 0.65) == 0.0


def test_fit_softmax_separates_three_classes_and_is_deterministic() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[2.0, 0.0], [-2.0, 1.0], [0.0, -2.0]])
    x = np.vstack([rng.normal(c, 0.4, (20, 2)) for c in centres])
    y = np.repeat([0, 1, 2], 20)
    w = np.ones(60)
    weights, biases = softmax.fit_softmax(x, y, w, 1e-3, n_classes=3)
    assert weights.shape == (3, 2)
    probs = softmax.predict_proba(x, weights, biases)
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert (probs.argmax(axis=1) == y).all()
    again = softmax.fit_softmax(x, y, w, 1e-3, n_classes=3)
    assert np.array_equal(again[0], weights)
    assert np.array_equal(again[1], biases)
    strong, _ = softmax.fit_softmax(x, y, w, 10.0, n_classes=3)
    assert np.linalg.norm(strong) < np.linalg.norm(weights)  # L2 shrinks


def test_decide_takes_product_at_the_threshold_else_the_likelier_other_class() -> None:
    assert page_head.decide([0.5, 0.3, 0.2], 0.5) == 0
    assert page_head.decide([0.45, 0.3, 0.25], 0.5) == 1
    assert page_head.decide([0.45, 0.2, 0.35], 0.4) == 0
    assert page_head.decide([0.1, 0.2, 0.7], 0.5) == 2


def test_site_interval_scores_each_page_as_found_false_alarm_or_miss() -> None:
    # The resampling itself is tested in buyhive/tests/test_resampling.py; here, that a
    # product found, a false alarm, a miss and a right "no" reach it as (tp, fp, fn).
    labels = [1, 0, 1, 0] * 10
    predictions = [True, True, False, False] * 10
    # Two pages a site: a find and a false alarm, or a miss and a right "no".
    sites_of = [f"site{i // 2}" for i in range(40)]
    expected = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 0, 0)] * 10
    assert evaluation.site_interval(labels, predictions, sites_of, seed=7) == (
        f1_interval(expected, sites_of, seed=7)
    )
    low, high = evaluation.site_interval(labels, predictions, sites_of, seed=7)
    assert low < evaluation.metrics(labels, predictions).f1 < high


def test_pages_to_bar_counts_the_fewest_wrong_pages_that_must_come_right() -> None:
    from mlverify.training.outputs import _acceptance, pages_to_bar

    # 110 found, 8 false alarms, 9 misses: F1 0.928; 5 misses found give 0.950.
    assert pages_to_bar({"tp": 110, "fp": 8, "fn": 9}, 0.95) == 5
    # 63 / 2 / 2 (0.969): two errors left give 0.985 < 0.986, so three must go.
    assert pages_to_bar({"tp": 63, "fp": 2, "fn": 2}, 0.986) == 3
    assert pages_to_bar({"tp": 5, "fp": 0, "fn": 0}, 0.95) == 0
    full = {
        "mix": {"tp": 110, "fp": 8, "fn": 9, "f1": 0.9283, "f1_interval": [0.875, 0.968]},
        "product_vs_articles": {"tp": 64, "fp": 0, "fn": 1, "f1": 0.9922,
                                "f1_interval": [0.97, 1.0]},
    }  # fmt: skip
    line = _acceptance({"url+title+page": full})
    assert "F1 0.928 [0.875-0.968] against the bar 0.95 (**not met**; the bar is inside" in line
    assert "5 wrong pages fewer would reach it" in line
    assert "F1 0.992 [0.970-1.000] against the bar 0.986 (met; the bar is inside" in line


def test_metrics_counts() -> None:
    m = evaluation.metrics([1, 1, 0, 0, 1], [True, False, True, False, True])
    assert (m.tp, m.fp, m.fn, m.tn) == (2, 1, 1, 1)
    assert m.as_dict() == {
        "precision": 0.6667,
        "recall": 0.6667,
        "f1": 0.6667,
        "tp": 2,
        "fp": 1,
        "fn": 1,
        "tn": 1,
        "n_positive": 3,
        "n_negative": 2,
    }


def test_embedding_cache_answers_repeated_texts_without_the_encoder(
    tiny_bert: TinyBert, tmp_path: Path
) -> None:
    encoder = page_encoder.load_text_encoder(tiny_bert.encoder_dir)
    texts = ["oak table", "news story", "oak table"]
    first = embed_cache.embed_texts(encoder, texts, cache_dir=tmp_path)
    calls = encoder.calls
    again = embed_cache.embed_texts(encoder, texts, cache_dir=tmp_path)
    assert encoder.calls == calls  # every text came from the cache file
    assert np.array_equal(first, again)
    assert np.allclose(first[0], first[2])
    direct = np.asarray(encoder.embed(["news story"]))
    assert np.allclose(first[1], direct[0], atol=1e-6)
    embed_cache.embed_texts(encoder, ["a new text"], cache_dir=tmp_path)
    assert encoder.calls == calls + 2  # only the new text (plus the direct call above)


# ---------------------------------------------------------------------------------------------
# Commands, end to end on the tiny encoder
# ---------------------------------------------------------------------------------------------


def test_train_command_writes_a_loadable_head_deterministically(
    tiny_bert: TinyBert, tmp_path: Path, settings: Any
) -> None:
    settings.PAGE_ENCODER_DIR = str(tiny_bert.encoder_dir)
    data_dir = write_data_dir(tmp_path / "data")
    cache = tmp_path / "cache"
    out = StringIO()
    call_command(
        "train_page_classifier",
        data_dir=data_dir,
        output_dir=tmp_path / "a",
        folds=2,
        embedding_cache=cache,
        stdout=out,
    )
    assert "| url+title+page | seven-kind mix (page-types) |" in out.getvalue()
    assert "Per-kind confusion" in out.getvalue()
    assert "wrote" in out.getvalue()
    head = json.loads((tmp_path / "a" / "head.json").read_text())
    assert head["dim"] == 32
    assert head["classes"] == ["product", "collection", "other"]
    assert set(head["layers"]) == {"url", "page"}
    assert head["data"]["pages_by_class"]["collection"] == 6
    assert set(head["cv"]) == {"url+title", "url+title+page"}
    assert set(head["cv"]["url+title+page"]["confusion"]) == {
        "article (article-pages)",
        "collection",
        "forum",
        "product (product-pages)",
    }
    card = (tmp_path / "a" / "MODEL_CARD.md").read_text()
    assert head["digest"] in card
    assert "| collection | 6 |" in card

    model = page_model.load_page_classifier(
        page_config.ClassifierConfig(
            encoder_dir=tiny_bert.encoder_dir, classifier_dir=tmp_path / "a"
        )
    )
    assert model.head.digest == head["digest"]

    call_command(
        "train_page_classifier",
        data_dir=data_dir,
        output_dir=tmp_path / "b",
        folds=2,
        embedding_cache=cache,
        stdout=StringIO(),
    )
    again = json.loads((tmp_path / "b" / "head.json").read_text())
    assert again["layers"] == head["layers"]


def test_eval_command_reports_the_mix_product_vs_articles_and_confusion(
    tiny_bert: TinyBert, tmp_path: Path, settings: Any
) -> None:
    settings.PAGE_ENCODER_DIR = str(tiny_bert.encoder_dir)
    data_dir = write_data_dir(tmp_path / "data")
    out = StringIO()
    call_command(
        "eval_page_classifier",
        data_dir=data_dir,
        folds=2,
        json=True,
        embedding_cache=tmp_path / "cache",
        stdout=out,
    )
    text = out.getvalue()
    report = json.loads(text[text.index("{\n") : text.rindex("}") + 1])
    for row in ("url+title", "url+title+page"):
        mix = report[row]["mix"]
        assert (mix["n_positive"], mix["n_negative"]) == (0, 10)  # page-types: grids, forums
        versus = report[row]["product_vs_articles"]
        assert (versus["n_positive"], versus["n_negative"]) == (10, 8)
        assert sum(sum(r.values()) for r in report[row]["confusion"].values()) == 28
    assert report["_"]["n_sites"] == 13
    assert "acceptance" in text or "below the acceptance bar" in text


@pytest.mark.django_db
def test_train_command_adds_the_labelled_shared_pages_when_asked(
    tiny_bert: TinyBert, tmp_path: Path, settings: Any
) -> None:
    """``--shared-pages`` reads the pages staff labelled (never an unlabelled one) into the
    data, the cross-validation and the head; without it the database is not read."""
    from accounts.tests.factories import UserFactory
    from mlverify.services import page_sample_keep, page_sample_label

    settings.PAGE_ENCODER_DIR = str(tiny_bert.encoder_dir)
    data_dir = write_data_dir(tmp_path / "data")
    owner = UserFactory(email="sharer@example.com")
    cards = "".join(GRID_CARD.format(i=n) for n in range(1, 9))
    verdict = {"page_type": "other", "score": 0.1, "model": "test"}
    for n, label in enumerate(("collection", "collection", "")):
        kept = page_sample_keep(
            owner=owner,
            url=f"https://www.benches-{n}.example/collections/garden-benches",
            html=GRID_PAGE.format(title=f"Garden benches {n}", cards=cards),
            title=None,
            page_check=verdict,
        )
        assert kept.sample is not None
        if label:
            page_sample_label(sample=kept.sample, label=label)

    def trained(name: str, **options: Any) -> dict[str, Any]:
        call_command(
            "train_page_classifier",
            data_dir=data_dir,
            output_dir=tmp_path / name,
            folds=2,
            embedding_cache=tmp_path / "cache",
            stdout=StringIO(),
            **options,
        )
        return dict(json.loads((tmp_path / name / "head.json").read_text()))

    with_shared = trained("with", shared_pages=True)
    without = trained("without")

    assert with_shared["data"]["pages_by_source_and_kind"]["shared-pages"] == {"collection": 2}
    assert with_shared["data"]["pages_by_class"]["collection"] == 8
    assert "collection (shared-pages)" in with_shared["cv"]["url+title+page"]["confusion"]
    assert "shared-pages" not in without["data"]["pages_by_source_and_kind"]
    assert without["data"]["pages_by_class"]["collection"] == 6
    assert with_shared["digest"] != without["digest"]


def test_commands_fail_clearly_without_data_or_encoder(tmp_path: Path, settings: Any) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="data folder not found"):
        call_command("eval_page_classifier", data_dir=tmp_path / "none", stdout=StringIO())
    settings.PAGE_ENCODER_DIR = str(tmp_path / "no-encoder")
    (tmp_path / "data").mkdir()
    with pytest.raises(CommandError, match="page encoder is unavailable"):
        call_command("eval_page_classifier", data_dir=tmp_path / "data", stdout=StringIO())
