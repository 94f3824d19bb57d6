"""Product knowledge the page check shares with extraction: tracking parameters, add-to-cart
wording, and reading JSON-LD.

These are mlverify's copies, kept together in this one module so that moving to the shared
vocabulary in ``buyhive/product/`` is a change here and nowhere else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lxml.html import HtmlElement

# Click and campaign identifiers say nothing about the page and only add noise (``utm_*`` too).
TRACKING_PARAMS = frozenset(
    {"gclid", "fbclid", "msclkid", "dclid", "yclid", "mc_cid", "mc_eid", "spm", "_ga", "igshid"}
)


def is_tracking_param(name: str) -> bool:
    """``utm_*`` and the click identifiers of :data:`TRACKING_PARAMS` (case-insensitive)."""
    lowered = name.lower()
    return lowered.startswith("utm_") or lowered in TRACKING_PARAMS


# Add-to-cart controls: visible text of buttons in several languages...
# fmt: off
ADD_TO_CART_PHRASES: tuple[str, ...] = (
    "add to cart", "add to bag", "add to basket", "add to trolley", "buy now", "buy it now",
    "in den warenkorb", "in den einkaufswagen", "zum warenkorb", "jetzt kaufen",
    "ajouter au panier", "ajouter au sac", "acheter maintenant", "añadir al carrito",
    "añadir a la cesta", "agregar al carrito", "añadir a la bolsa", "comprar ahora",
    "aggiungi al carrello", "acquista ora", "adicionar ao carrinho", "adicionar ao cesto",
    "comprar agora", "in winkelwagen", "toevoegen aan winkelwagen", "lägg i varukorg",
    "lisää ostoskoriin", "ostoskoriin", "læg i kurv", "legg i handlekurv", "dodaj do koszyka",
    "do koszyka", "do košíka", "do košíku", "vložiť do košíka", "kosárba", "adaugă în coș",
    "adauga in cos", "adaugă în coş", "sepete ekle", "в корзину", "добавить в корзину", "купить",
    "в кошницата", "добави в количката",
    "加入購物車", "加入购物车", "放入購物車", "立即購買", "立即购买", "장바구니", "구매하기",
    "カートに入れる", "カートに追加", "أضف إلى الحقيبة", "أضف إلى السلة", "أضف للسلة",
)
# fmt: on
# ...and the compact tokens shops use in ids, classes, names and form actions.
# fmt: off
ADD_TO_CART_TOKENS: tuple[str, ...] = (
    "addtocart", "addtobasket", "addtobag", "addtotrolley", "buynow", "buyitnow", "addcart",
    "cartadd", "basketadd", "addtowarenkorb", "addproducttocart",
)
# fmt: on


_JSONLD_WRAPPER = re.compile(r"^\s*(<!--|<!\[CDATA\[)|(-->|\]\]>)\s*$")


def jsonld_blocks(doc: HtmlElement) -> Iterator[Any]:
    """The parsed JSON of each ``<script type="application/ld+json">`` block; blocks that are
    empty or not JSON (after dropping an HTML comment or CDATA wrapper) are skipped."""
    for script in doc.xpath('//script[@type="application/ld+json"]'):
        text = (script.text or "").strip()
        if not text:
            continue
        text = _JSONLD_WRAPPER.sub("", text)
        try:
            yield json.loads(text, strict=False)
        except ValueError:
            continue


def jsonld_types(node: Any, depth: int = 0) -> Iterable[tuple[str, Any]]:
    """(type, object) for the top-level objects of a JSON-LD block, its ``@graph`` members and
    a page's ``mainEntity``. Nested objects (a review's ``itemReviewed``) do not count: an
    article that reviews a product is still an article."""
    if depth > 3:
        return
    if isinstance(node, list):
        for item in node:
            yield from jsonld_types(item, depth + 1)
        return
    if not isinstance(node, dict):
        return
    raw_type = node.get("@type")
    types = raw_type if isinstance(raw_type, list) else [raw_type]
    for t in types:
        if isinstance(t, str):
            yield t.rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower(), node
    for key in ("@graph", "mainEntity", "mainEntityOfPage"):
        if key in node:
            yield from jsonld_types(node[key], depth + 1)
