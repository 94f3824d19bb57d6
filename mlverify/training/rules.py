"""The generic rules that label a product page's links to non-product pages (hard negatives).

See :mod:`mlverify.training` for the rules in words. No shop or page is named.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

from mlverify.training.sites import registrable_domain, site_of

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
