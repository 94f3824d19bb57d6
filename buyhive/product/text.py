"""The words of a product page: cleaning page text, and the labels of an add-to-cart button.

* :func:`clean_text` turns a value read from a page (a JSON-LD ``description``, a microdata
  property, a meta tag) into plain text. It is tolerant: anything that is not text gives
  None. (Input a *client* sends is validated instead, by ``carts.validation.clean_input_text``,
  which refuses what it cannot accept.)
* :data:`ADD_TO_CART_PHRASES` are the labels, in many languages, that say on their own "put
  this product in a cart" (``"add to cart"``, ``"in den Warenkorb"``, ``"カートに入れる"``):
  specific enough to be looked for anywhere in a short control's label.
  :data:`BUY_LABEL_WORDS` are shorter words that start a buy button's label (``"Buy"``,
  ``"Comprar"``, ``"Ajouter"``, ``"購入"``): too common to count inside other text, so they
  are only read at the start of a label. :data:`ADD_TO_CART_TOKENS` are the compact tokens
  shops use for the same button in ids, classes, names and form actions (``addToCart``).

Lower-case, compared against lower-cased labels; a space matches any run of whitespace where
the caller builds a pattern from them. Used by :mod:`extraction.heuristics` (the buy button
that anchors the product's region and says it is in stock) and meant for the page check in
:mod:`mlverify` (an add-to-cart control is a sign of a product page).
"""

from __future__ import annotations

import html
import re
from typing import Any

__all__ = [
    "ADD_TO_CART_PHRASES",
    "ADD_TO_CART_TOKENS",
    "BUY_LABEL_WORDS",
    "clean_text",
]

# fmt: off
ADD_TO_CART_PHRASES: tuple[str, ...] = (
    # English
    "add to cart", "add to bag", "add to basket", "add to trolley", "add to shopping cart",
    "add to shopping bag", "buy now", "buy it now",
    # German, French, Spanish, Italian, Portuguese, Dutch
    "in den warenkorb", "in den einkaufswagen", "in den einkaufskorb", "zum warenkorb",
    "jetzt kaufen", "ajouter au panier", "ajouter au sac", "acheter maintenant",
    "añadir al carrito", "añadir a la cesta", "añadir a la bolsa", "agregar al carrito",
    "comprar ahora", "aggiungi al carrello", "acquista ora", "adicionar ao carrinho",
    "adicionar ao cesto", "comprar agora", "in winkelwagen", "toevoegen aan winkelwagen",
    # Nordic
    "lägg i varukorg", "lägg i varukorgen", "lägg i kundvagnen", "lisää ostoskoriin",
    "ostoskoriin", "læg i kurv", "legg i handlekurv", "legg i handlekurven",
    # Central and Eastern Europe, Turkish
    "dodaj do koszyka", "do koszyka", "kup teraz", "do košíka", "do košíku",
    "vložiť do košíka", "vložit do košíku", "kosárba", "adaugă în coș", "adauga in cos",
    "adaugă în coş", "sepete ekle", "в корзину", "добавить в корзину", "купить",
    "в кошницата", "добави в количката",
    # Chinese, Korean, Japanese
    "加入購物車", "加入购物车", "放入購物車", "立即購買", "立即购买", "直接購買", "我要購買",
    "장바구니", "구매하기", "바로구매", "カートに入れる", "カートに追加",
    # Arabic, Hebrew, Vietnamese, Indonesian, Thai
    "أضف إلى الحقيبة", "أضف إلى السلة", "أضف للسلة", "הוסף לסל", "thêm vào giỏ", "mua ngay",
    "masukkan keranjang", "beli sekarang", "ใส่ตะกร้า", "ซื้อเลย",
)
BUY_LABEL_WORDS: tuple[str, ...] = (
    "buy", "add to order", "order now", "warenkorb", "ajouter", "acheter", "añadir", "comprar",
    "acquista", "toevoegen", "koupit", "kúpiť", "köp", "osta", "購入", "購買", "أضف إلى",
    "أضف لل", "اشتر",
)
ADD_TO_CART_TOKENS: tuple[str, ...] = (
    "addtocart", "addtobasket", "addtobag", "addtotrolley", "buynow", "buyitnow", "addcart",
    "cartadd", "basketadd", "addtowarenkorb", "addproducttocart",
)
# fmt: on


_TAG_RE = re.compile(r"<[^>]{0,2000}>")
_WS_RE = re.compile(r"\s+")


def clean_text(value: Any, *, max_length: int = 5000) -> str | None:
    """Plain text: HTML tags removed, entities decoded, whitespace collapsed; None if empty.

    A list gives its first non-blank string (JSON-LD properties are often lists); anything
    else that is not a string gives None. Longer text is cut at ``max_length`` with an ellipsis.
    """
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    if not isinstance(value, str):
        return None
    text = value
    if "<" in text:
        text = _TAG_RE.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
        if "<" in text:  # entities that encoded markup (&lt;strong&gt;)
            text = _TAG_RE.sub(" ", text)
    text = _WS_RE.sub(" ", text).strip()
    if not text:
        return None
    if len(text) > max_length:
        text = text[: max_length - 1].rstrip() + "…"
    return text
