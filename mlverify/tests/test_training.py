"""Training data rules, the held-out protocol and the training commands (tiny encoder)."""

from __future__ import annotations

import gzip
import json
from io import StringIO
from pathlib import Path
from typing import Any

import lxml.html
import numpy as np
import pytest
from django.core.management import call_command

from mlverify.page_check import classifier as page_model
from mlverify.page_check import config as page_config
from mlverify.tests.tiny_models import TinyBert
from mlverify.training import dataset as training_data
from mlverify.training import defaults, evaluation, fitting, rules, sites

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
 "offers": {{"@type": "Offer", "price": "10"}}}}</script></head>
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


def write_data_dir(root: Path) -> Path:
    """A small data folder in the layout of ../shared/data (2 pages per host)."""
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
    return root


def test_load_dataset_reads_pages_titles_signals_and_rule_links(tmp_path: Path) -> None:
    dataset = training_data.load_dataset(write_data_dir(tmp_path), per_site_cap=5, seed=1)
    counts = dataset.counts()
    assert counts["product_pages"] == 10
    assert counts["article_pages"] == 8
    assert counts["product_sites"] == 4  # tables.co.uk and tables.de are one site
    assert counts["article_sites"] == 4
    assert all(link.site in {"lampshop", "tables", "chairs", "mugs"} for link in dataset.links)
    assert max(sum(1 for x in dataset.links if x.site == s) for s in {"tables"}) == 5
    page = next(p for p in dataset.pages if p.label == 1)
    assert page.title
    assert page.title.startswith("Oak item")
    assert page.signals.product_structured
    assert page.signals.add_to_cart
    article = next(p for p in dataset.pages if p.label == 0)
    assert article.signals.article_structured
    assert not article.signals.product_structured
    shares: dict[str, float] = {}
    for example in dataset.examples:
        shares[example.origin] = shares.get(example.origin, 0.0) + example.weight
    total = sum(shares.values())
    assert {k: round(v / total, 6) for k, v in shares.items()} == training_data.WEIGHT_SHARE
    variants = {(e.page, e.variant) for e in dataset.examples if e.page is not None}
    assert len(variants) == 2 * len(dataset.pages)  # URL only and URL + title per page


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


def test_fit_logistic_separates_and_is_deterministic() -> None:
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(1.0, 0.3, (20, 4)), rng.normal(-1.0, 0.3, (20, 4))])
    y = np.array([1.0] * 20 + [0.0] * 20)
    w = np.ones(40)
    weights, bias = fitting.fit_logistic(x, y, w, 1e-3)
    assert ((fitting.predict(x, weights, bias) >= 0.5) == (y == 1)).all()
    again = fitting.fit_logistic(x, y, w, 1e-3)
    assert np.array_equal(again[0], weights)
    assert again[1] == bias
    strong, _ = fitting.fit_logistic(x, y, w, 10.0)
    assert np.linalg.norm(strong) < np.linalg.norm(weights)  # L2 shrinks


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


# ---------------------------------------------------------------------------------------------
# Commands, end to end on the tiny encoder
# ---------------------------------------------------------------------------------------------


def test_train_command_writes_a_loadable_head_deterministically(
    tiny_bert: TinyBert, tmp_path: Path, settings: Any
) -> None:
    settings.PAGE_ENCODER_DIR = str(tiny_bert.encoder_dir)
    data_dir = write_data_dir(tmp_path / "data")
    out = StringIO()
    call_command(
        "train_page_classifier", data_dir=data_dir, output_dir=tmp_path / "a", folds=2, stdout=out
    )
    assert "| url | " in out.getvalue()
    assert "wrote" in out.getvalue()
    head = json.loads((tmp_path / "a" / "head.json").read_text())
    assert head["dim"] == 32
    assert head["data"]["product_pages"] == 10
    assert set(head["cv"]) == {"url", "url+title", "url+page", "url+title+page"}
    card = (tmp_path / "a" / "MODEL_CARD.md").read_text()
    assert "10 product pages from 4 shops" in card
    assert head["digest"] in card

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
        stdout=StringIO(),
    )
    again = json.loads((tmp_path / "b" / "head.json").read_text())
    assert again["weights"] == head["weights"]
    assert again["bias"] == head["bias"]


def test_eval_command_reports_url_and_url_plus_page_with_counts(
    tiny_bert: TinyBert, tmp_path: Path, settings: Any
) -> None:
    settings.PAGE_ENCODER_DIR = str(tiny_bert.encoder_dir)
    data_dir = write_data_dir(tmp_path / "data")
    out = StringIO()
    call_command("eval_page_classifier", data_dir=data_dir, folds=2, json=True, stdout=out)
    text = out.getvalue()
    report = json.loads(text[text.index("{\n") : text.rindex("}") + 1])
    for row in ("url", "url+page"):
        assert report[row]["n_positive"] == 10
        assert report[row]["n_negative"] == 8
        assert report[row]["tp"] + report[row]["fn"] == 10
    assert report["_"]["n_sites"] == 8
    # Product JSON-LD + offer + add-to-cart (+6 in logit space) outweighs the tiny model.
    assert report["url+page"]["recall"] == 1.0


def test_commands_fail_clearly_without_data_or_encoder(tmp_path: Path, settings: Any) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="data folder not found"):
        call_command("eval_page_classifier", data_dir=tmp_path / "none", stdout=StringIO())
    settings.PAGE_ENCODER_DIR = str(tmp_path / "no-encoder")
    (tmp_path / "data").mkdir()
    with pytest.raises(CommandError, match="page encoder is unavailable"):
        call_command("eval_page_classifier", data_dir=tmp_path / "data", stdout=StringIO())
