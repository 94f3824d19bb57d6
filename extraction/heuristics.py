"""Heuristics over the visible page, for what the structured data does not give.

The page is walked once (:func:`build_page_text`) into the text a reader sees, each piece
linked to the element that shows it and each element to its place in that text. Navigation,
footers, cookie/consent dialogs, scripts, templates, ``<select>`` options and hidden elements
are left out. Everything else works on that text, so the same rules run on HTML and on the
plain text the extension may send (:func:`extract_from_text`). Scans are limited to the
product's region of the page (from a little before the title to a little after the buy
button), which keeps them fast on 2 MB pages.

Price
    The main price is the first price written after the product title (the ``<h1>``, or the
    element whose text matches the page title), no further than the buy button's
    neighbourhood, that is not:

    * a "was" price: inside ``<del>``/``<s>``/``<strike>``, in an element whose class says
      old/was/compare/strike/regular/original/list/rrp/msrp/uvp, or after words like "was",
      "instead of", "statt", "UVP", "avant", "prima", "原價" (a "was" price is only taken when
      nothing else is there);
    * a per-unit price (``/kg``, ``per 100 g``, ``/l``, ``€/m²``);
    * an instalment (``4 x``, ``/mo``, "per month", "monatlich", "每期");
    * a shipping cost or free-shipping threshold ("shipping", "Versand", "livraison", "運費");
    * a saving or a discount ("you save", "sparen", "économisez", ``-20 %``);
    * in a related-products carousel, the header, navigation, footer or mini cart.

    With no title, the nearest price before the buy button is taken; with neither, the first
    price in an element whose class or itemprop says "price".

Availability
    An enabled add-to-cart/buy button (matched by its text in many languages, or by its
    class, id, name or form action) means in stock; an out-of-stock message in the product
    region ("out of stock", "sold out", "ausverkauft", "épuisé", "agotado", "esaurito",
    "品切れ", "품절"...) and no enabled button means out of stock.

Identifiers and brand
    Labelled text: "SKU", "Article no.", "Art.-Nr.", "Item number", "Product code",
    "Référence", "Codice articolo", "Kód produktu", "商品編號"... -> sku; "EAN", "GTIN",
    "ISBN", "UPC" -> gtin (check digit verified); "MPN", "Model number", "Part number" ->
    mpn; "Brand:", "Marke:", "Marque :", "Výrobca:"... -> brand. As a last resort, the
    numeric id that ends the page's address is the sku when the page repeats it.

No rule names a shop: they describe how shops in general lay out a product page.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from lxml import etree

from buyhive.product.text import ADD_TO_CART_PHRASES, BUY_LABEL_WORDS
from extraction.normalize import (
    PageLocale,
    PriceMatch,
    clean_identifier,
    decimal_separator_for,
    find_prices,
    normalize_gtin,
    phrase_pattern,
)

__all__ = [
    "Anchor",
    "Button",
    "Guess",
    "PageText",
    "build_page_text",
    "detect_availability",
    "extract_from_text",
    "find_buy_buttons",
    "find_labelled",
    "find_title_anchor",
    "pick_price",
    "text_page",
    "title_hints",
    "url_identifier",
]

#: The walk stops collecting text past this many characters.
MAX_TEXT_CHARS = 1_000_000
#: Label and stock-message scans look at most this far past the product region.
LABEL_SCAN_CHARS = 150_000

_SKIP_TAG_NAMES = """script style noscript template svg head iframe object select textarea
    math canvas video audio nav footer dialog"""
_SKIP_TAGS = frozenset(_SKIP_TAG_NAMES.split())
_BLOCK_TAG_NAMES = """p div li ul ol h1 h2 h3 h4 h5 h6 tr td th table tbody thead tfoot section
    article header footer nav aside main form br dt dd dl button option fieldset figure figcaption
    blockquote pre address hr label legend details summary caption center body html"""
_BLOCK_TAGS = frozenset(_BLOCK_TAG_NAMES.split())
_CONTAINER_TAGS = frozenset({"div", "section", "aside", "form", "ul", "header"})
# A property name starts the declaration: "-webkit-backface-visibility: hidden" hides nothing.
_HIDDEN_STYLE_RE = re.compile(r"(?<![-\w])(?:display\s*:\s*none|visibility\s*:\s*hidden)", re.I)
# Overlays that are not the page: cookie and consent banners, newsletter pop-ups.
_OVERLAY_WORDS = ("cookie", "consent", "gdpr", "onetrust", "cookiebot", "newsletter-popup")


def _lower_same_length(text: str) -> str:
    """``text.lower()`` with the same length (so offsets stay valid): a character whose lower
    case is longer ("İ") is left as it is."""
    lower = text.lower()
    if len(lower) == len(text):
        return lower
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


@dataclass(slots=True)
class PageText:
    """The visible text of a page and, for each piece, the element that shows it."""

    text: str
    starts: list[int] = field(default_factory=list)
    owners: list[Any] = field(default_factory=list)
    order: dict[Any, int] = field(default_factory=dict)
    offsets: list[int] = field(default_factory=list)  # element index -> text offset
    clickables: list[tuple[int, Any]] = field(default_factory=list)  # links, buttons...
    headings: list[tuple[int, Any]] = field(default_factory=list)  # <h1>
    titled: list[tuple[int, Any, str]] = field(default_factory=list)  # own text ~ title
    images: list[tuple[int, Any]] = field(default_factory=list)
    _lower: str | None = None
    _context_cache: dict[Any, tuple[frozenset[str], str]] = field(default_factory=dict)

    @property
    def lower(self) -> str:
        if self._lower is None:
            self._lower = _lower_same_length(self.text)
        return self._lower

    def owner_at(self, offset: int) -> Any:
        if not self.starts:
            return None
        i = bisect.bisect_right(self.starts, offset) - 1
        while i >= 0 and self.owners[i] is None:
            i -= 1
        return self.owners[i] if i >= 0 else None

    def index_at(self, offset: int) -> int | None:
        owner = self.owner_at(offset)
        return self.order.get(owner) if owner is not None else None

    def offset_of(self, index: int) -> int:
        """Text offset where the element with this index starts (clamped)."""
        if not self.offsets:
            return 0
        return self.offsets[max(0, min(index, len(self.offsets) - 1))]

    def span(self, region: tuple[int, int] | None, *, extra: int = 0) -> tuple[int, int]:
        """Text offsets of an element-index region (the whole text when None)."""
        if region is None:
            return 0, len(self.text)
        start = self.offset_of(region[0])
        end = len(self.text) if region[1] >= len(self.offsets) else self.offset_of(region[1])
        return start, min(len(self.text), end + extra)

    def context(self, element: Any, levels: int = 8) -> tuple[frozenset[str], str]:
        """Tags and lower-cased class/id/itemprop words of an element and its ancestors."""
        key = (element, levels)
        cached = self._context_cache.get(key)
        if cached is not None:
            return cached
        tags: set[str] = set()
        words: list[str] = []
        node = element
        for _ in range(levels):
            if node is None:
                break
            tag = node.tag if isinstance(node.tag, str) else ""
            tags.add(tag)
            for attr in ("class", "id", "itemprop"):
                value = node.get(attr)
                if value:
                    words.append(value.lower())
            node = node.getparent()
        result = (frozenset(tags), " ".join(words))
        self._context_cache[key] = result
        return result


_CLICKABLE_TAGS = frozenset({"a", "button", "input"})
_CLICKABLE_WORDS = ("cart", "buy", "basket", "purchase")


_OVERLAY_RE = re.compile("|".join(_OVERLAY_WORDS))
_CLICKABLE_RE = re.compile("|".join(_CLICKABLE_WORDS))


def _is_site_header(el: Any) -> bool:
    """A ``<header>`` that is the site's (logo, menu, mini cart), not a product's or an
    article's: outside main/article/section, and without an ``<h1>`` of its own."""
    if any(a.tag in ("main", "article", "section") for a in el.iterancestors()):
        return False
    return el.find(".//h1") is None


def _skip(el: Any, tag: str, keys: list[str]) -> bool:
    """Whether an element's subtree is not part of the page a buyer reads."""
    if tag in _SKIP_TAGS:
        return True
    if tag == "header" and _is_site_header(el):
        return True
    if not keys:
        return False
    if "hidden" in keys or ("aria-modal" in keys and el.get("aria-modal") == "true"):
        return True
    if "style" in keys:
        style = el.get("style")
        if style and _HIDDEN_STYLE_RE.search(style):
            return True
    if tag in _CONTAINER_TAGS and ("id" in keys or "class" in keys):
        marker = ((el.get("id") or "") + " " + (el.get("class") or "")).lower()
        if _OVERLAY_RE.search(marker):
            return True
    return False


def build_page_text(
    tree: Any, *, title_hints: list[str] | None = None, max_chars: int = MAX_TEXT_CHARS
) -> PageText:
    """Walk the page once: visible text in reading order, owners and element offsets, and on
    the way the elements later steps look at (links and buttons, ``<h1>``, ``<img>``, and
    elements whose own text looks like one of ``title_hints``).

    Block elements start a new line; text split across inline elements is joined as a
    browser shows it (``€<span>20,-</span>`` -> ``€20,-``).
    """
    page = PageText(text="")
    parts: list[str] = []
    starts, owners, offsets, order = page.starts, page.owners, page.offsets, page.order
    clickables, headings, titled, images = page.clickables, page.headings, page.titled, page.images
    hint_lengths = [len(h) for h in (title_hints or []) if h]
    min_title = max(3, min(hint_lengths) // 2) if hint_lengths else 10**9
    max_title = min(400, 2 * max(hint_lengths) + 20) if hint_lengths else 0
    total = 0
    last = "\n"
    index = 0
    try:
        walker = etree.iterwalk(tree, events=("start", "end"))
        for event, el in walker:
            tag = el.tag
            if event == "start":
                if not isinstance(tag, str):
                    continue
                order[el] = index
                offsets.append(total)
                keys = el.keys()
                if _skip(el, tag, keys):
                    index += 1
                    walker.skip_subtree()
                    continue
                if tag in _CLICKABLE_TAGS:
                    clickables.append((index, el))
                elif keys:
                    if "role" in keys and el.get("role") == "button":
                        clickables.append((index, el))
                    elif "class" in keys or "id" in keys:
                        marker = ((el.get("class") or "") + " " + (el.get("id") or "")).lower()
                        if _CLICKABLE_RE.search(marker):
                            clickables.append((index, el))
                if tag == "h1":
                    headings.append((index, el))
                elif tag == "img":
                    images.append((index, el))
                if tag in _BLOCK_TAGS and last != "\n":
                    parts.append("\n")
                    total += 1
                    last = "\n"
                text = el.text
                owner = el
                if tag == "sup" and last.isdigit() and text and len(text) == 2 and text.isdigit():
                    parts.append(".")  # "173<sup>34</sup> Lei": superscript cents
                    total += 1
                    last = "."
                if text and len(text) >= min_title and max_title:
                    own = text.strip() if len(text) < 2000 else ""
                    if min_title <= len(own) <= max_title:
                        titled.append((index, el, own))
                index += 1
            else:
                if tag in _BLOCK_TAGS and last != "\n":
                    parts.append("\n")
                    total += 1
                    last = "\n"
                text = el.tail
                owner = el.getparent()
            if not text or total >= max_chars:
                continue
            if text.isspace():
                if last not in " \n":
                    parts.append(" ")
                    total += 1
                    last = " "
                continue
            starts.append(total)
            owners.append(owner)
            parts.append(text)
            total += len(text)
            last = text[-1]
    except (etree.LxmlError, ValueError, RecursionError):  # pragma: no cover - defensive
        pass
    page.text = "".join(parts)
    return page


def text_page(text: str, *, max_chars: int = MAX_TEXT_CHARS) -> PageText:
    """A :class:`PageText` for plain text (no elements)."""
    return PageText(text=(text or "")[:max_chars].replace("\x00", ""))


# --------------------------------------------------------------------------------------------
# Anchors: the product title and the buy button
# --------------------------------------------------------------------------------------------

_TITLE_SPLIT_RE = re.compile(r"\s+[-|–—:»·•]\s+|\s*[|｜]\s*|\s+::\s+")
_TAG_PREFIX_RE = re.compile(r"^\s*(?:\[[^\]]{1,40}\]|【[^】]{1,40}】|\([^)]{1,40}\))\s*")


def title_hints(*titles: str | None, site_name: str | None = None) -> list[str]:
    """Title strings to look for in the page: each title whole, without a leading tag such
    as "[Shop]", and cut at each separator (" - ", " | ", " : "...) keeping either side, since
    shops add their name before or after the product's. The site's name alone is not a hint."""
    hints: list[str] = []
    site = _norm(site_name) if site_name else None

    def add(candidate: str) -> None:
        candidate = candidate.strip()
        if len(candidate) >= 3 and candidate not in hints and _norm(candidate) != site:
            hints.append(candidate)

    for title in titles:
        if not title:
            continue
        title = " ".join(title.split())
        for variant in (title, _TAG_PREFIX_RE.sub("", title)):
            add(variant)
            for sep in _TITLE_SPLIT_RE.finditer(variant):
                add(variant[: sep.start()])
                add(variant[sep.end() :])
            for piece in _TITLE_SPLIT_RE.split(variant):
                add(piece)
    return hints


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def _match_score(norm: str, hints_norm: list[str]) -> float:
    """How well a normalised text matches one of the normalised title hints (0..1).

    Equality scores 1, containment the ratio of the lengths. A match on a very short piece
    (a title cut at a separator can leave just the brand) counts for less.
    """
    if len(norm) < 3:
        return 0.0
    best = 0.0
    for hint in hints_norm:
        if not hint:
            continue
        if norm == hint:
            score = 1.0
        elif norm in hint or hint in norm:
            score = min(len(norm), len(hint)) / max(len(norm), len(hint))
        else:
            continue
        if min(len(norm), len(hint)) < 8:
            score *= 0.6
        best = max(best, score)
    return best


@dataclass(slots=True)
class Anchor:
    element: Any
    index: int
    text: str
    score: float


_TITLE_CLASS_RE = re.compile(r"title|name|heading|headline")
_NOT_TITLE_RE = re.compile(r"breadcrumb|\bnav|menu|footer|logo|related|recommend|carousel")


def _score_title(el: Any, text: str, hints_norm: list[str], page: PageText) -> float:
    norm = _norm(text)
    score = _match_score(norm, hints_norm)
    if score <= 0:
        return 0.0
    score += min(len(norm), 80) / 800  # a longer match is more likely the product's name
    tag = el.tag
    if tag == "h1":
        score += 0.3
    elif tag in ("h2", "h3"):
        score += 0.1
    else:
        marker = ((el.get("class") or "") + " " + (el.get("id") or "")).lower()
        if not _TITLE_CLASS_RE.search(marker) and el.get("itemprop") != "name":
            score -= 0.2
    tags, words = page.context(el, levels=6)
    if "a" in tags or _NOT_TITLE_RE.search(words):
        score -= 0.5
    return score


def find_title_anchor(tree: Any, page: PageText, hints: list[str]) -> Anchor | None:
    """The element showing the product title: the ``<h1>`` that matches the title hints best,
    else a heading or title-like element that matches well, else the only ``<h1>``.

    ``page`` must come from :func:`build_page_text` called with the same hints.
    """
    hints_norm = [_norm(h) for h in hints]
    best: Anchor | None = None

    def consider(index: int, el: Any, text: str) -> None:
        nonlocal best
        score = _score_title(el, text, hints_norm, page)
        if score > 0 and (best is None or score > best.score + 1e-9):
            best = Anchor(el, index, text, score)

    h1s: list[tuple[int, Any, str]] = []
    for index, el in page.headings:
        text = " ".join("".join(el.itertext()).split())
        if 3 <= len(text) <= 400:
            h1s.append((index, el, text))
            consider(index, el, text)
    if best is not None and best.score >= 0.85:
        return best
    for index, el, own in page.titled:
        if el.tag != "h1":
            consider(index, el, " ".join(own.split()))
    if best is not None and best.score >= 0.55:
        return best
    if h1s and (len(h1s) == 1 or not hints_norm):
        index, el, text = h1s[0]
        return Anchor(el, index, text, 0.4)
    return None


# A buy button's label starts with one of these (see buyhive.product.text).
_CART_PHRASES = ADD_TO_CART_PHRASES + BUY_LABEL_WORDS
_CART_TEXT_RE = re.compile(r"^\W{0,3}(?:" + phrase_pattern(_CART_PHRASES) + r")(?!\w)")
_CART_ATTR_RE = re.compile(
    r"add[-_ ]?to[-_ ]?(?:cart|bag|basket|trolley)|addtocart|add2cart|addtobag|addtobasket|"
    r"buy[-_ ]?(?:now|button|btn)|btn[-_ ]?(?:buy|cart)|cart[-_ ]?(?:add|button|btn)|"
    r"basket[-_ ]?(?:add|button)|product[-_ ]?add|purchase[-_ ]?button"
)
_CART_ACTION_RE = re.compile(
    r"(?:cart|basket|bag|checkout)[^\s\"']*(?:add|insert)|addtocart|add[-_]?to[-_]?cart|"
    r"/cart/?$|/basket/?$"
)


@dataclass(slots=True)
class Button:
    element: Any
    index: int
    active: bool


def find_buy_buttons(page: PageText, *, window: tuple[int, int] | None = None) -> list[Button]:
    """Add-to-cart / buy buttons in page order (within ``window``, element indexes, when
    given), with whether they look enabled."""
    buttons: list[Button] = []
    for index, el in page.clickables:
        if window is not None and not window[0] <= index <= window[1]:
            continue
        tag = el.tag
        attrib = el.attrib
        attrs = " ".join(
            attrib.get(a) or "" for a in ("class", "id", "name", "data-action", "title")
        ).lower()
        if tag == "input":
            if (attrib.get("type") or "").lower() not in ("submit", "button", "image"):
                continue
            label = attrib.get("value") or attrib.get("alt") or ""
        else:
            label = el.text or ""
            if not label.strip():
                label = next((t for t in el.itertext() if t.strip()), "")
            label = label.strip()[:80]
        matched = bool(_CART_ATTR_RE.search(attrs)) or bool(_CART_TEXT_RE.search(label.lower()))
        if not matched and tag in ("button", "input"):
            form = next(el.iterancestors("form"), None)
            if form is not None and _CART_ACTION_RE.search((form.get("action") or "").lower()):
                matched = True
        if not matched:
            continue
        nested = tag in ("div", "span", "li", "p") and bool(buttons)
        if nested and buttons[-1].element in set(el.iterancestors()):
            continue  # the inside of a button already found
        _, words = page.context(el, levels=6)
        if "minicart" in words or "mini-cart" in words:
            continue
        disabled = (
            "disabled" in attrib
            or (attrib.get("aria-disabled") or "").lower() == "true"
            or bool(re.search(r"\bdisabled\b|\bis-disabled\b|sold-?out|out-?of-?stock", attrs))
        )
        buttons.append(Button(el, index, not disabled))
    return buttons


# --------------------------------------------------------------------------------------------
# Price
# --------------------------------------------------------------------------------------------

_OLD_WORDS_RE = re.compile(
    r"(?:\bwas\b|instead\s+of|\bstatt\b|\buvp\b|\brrp\b|\bmsrp\b|list\s+price|regular\s+price|"
    r"\breg\.|original(?:ly)?\b|\bbefore\b|compare\s+at|\bavant\b|au\s+lieu\s+de|"
    r"prix\s+barr[ée]|\bantes\b|precio\s+anterior|\bprima\b|invece\s+di|zamiast|"
    r"poprzednia|p[ôo]vodn[áa]|p[uů]vodn[ěí]|pre[tț]\s+vechi|原價|原价|建議售價|建议售价|"
    r"定價|市價|市价|정가|통상가|參考價|参考价|通常価格|定価|السعر\s+الأصلي|старая\s+цена|"
    r"было)\s*[:：]?\s*\D{0,12}$"
)
_OLD_CLASS_RE = re.compile(
    r"old|\bwas\b|was[-_]|before|compare|strike|crossed|regular|original|list[-_]?price|"
    r"listprice|\brrp|msrp|\buvp|previous|retail|reference[-_]?price|price[-_]?ref|"
    r"non[-_]?sale|full[-_]?price|initial"
)
_UNIT_AFTER_RE = re.compile(
    r"^\s*(?:\*\s*)?(?:/|per\b|pro\b|je\b|par\b|za\b|al\b|за\b|по\b)\s*(?:\d+(?:[.,]\d+)?\s*)?"
    r"(?:kg|g|gr|gram|grams|l|ltr|liter|litre|ml|cl|dl|m|m2|m²|m³|qm|cm|mm|lb|lbs|oz|"
    r"kilo|kilogram|100\s*g|100\s*ml|meter|metre|sq\.?\s*ft|公斤|克|升)\b"
)
_UNIT_BEFORE_RE = re.compile(
    r"(?:unit\s+price|price\s+per|per\s+unit|grundpreis|prix\s+au\s+(?:kg|kilo|litre)|"
    r"prix\s+unitaire|precio\s+por|cena\s+za\s+(?:kg|1)|jednostkowa)\W{0,5}$"
)
_INSTALMENT_BEFORE_RE = re.compile(
    r"(?:\b\d{1,2}\s*[x×]\s*(?:de\s+)?|\b\d{1,2}\s+(?:rat|raty|rate|raten|cuotas|"
    r"mensualit[ée]s|installments|instalments|payments|splátk\w*|期)\b\D{0,15}|"
    r"monthly|per\s+month|每期|每月|월)\s*$"
)
_INSTALMENT_AFTER_RE = re.compile(
    r"^\s*(?:/\s*(?:mo|mth|month|mon|mes|mois|monat|mese|mies|měs|月|월)\b|"
    r"(?:per|a|al|par|pro|im|x|×)\s*(?:month|mes|mois|monat|mese|miesiąc)|monthly|"
    r"mtl\.|monatlich|mensile|mensual|mensuel|miesięcznie|mesačne|měsíčně|/\s*月|/\s*월)"
)
_SHIPPING_RE = re.compile(
    r"(?:shipping|delivery|deliver|postage|\bpost\b|versand|lieferung|livraison|"
    r"env[ií]o|spedizion|verzend|bezorg|dostaw|doprav|frakt|toimitus|leverans|forsendelse|"
    r"доставк|kargo|運費|运费|配送|送料|배송|التوصيل|الشحن|free\s+over|orders?\s+over|"
    r"orders?\s+(?:from|above)|ab\s+einem|à\s+partir\s+de\s+\d|a\s+partir\s+de\s+\d)"
    r"[^\n]{0,30}$"
)
_SAVING_RE = re.compile(
    r"(?:you\s+save|\bsave\b|sparen|ersparnis|économ|ahorr|risparm|oszczęd|ušetr|"
    r"bespaar|\bspar\b|säästä|экономи|現省|省下|节省|절약|할인금액|\boff\b|discount|rabatt|"
    r"remise|descuento|sconto|zľava|sleva|reducere)\s*[:：]?\s*\D{0,6}$"
)
_HEADER_WORDS_RE = re.compile(
    r"minicart|mini-cart|mini_cart|cart-total|cart_total|basket-total|header|navbar|"
    r"\bnav\b|navigation|\bmenu|footer|breadcrumb|topbar|top-bar|newsletter"
)
_RELATED_WORDS_RE = re.compile(
    r"related|recommend|similar|upsell|up-sell|cross-?sell|recent|viewed|also[-_]|"
    r"carousel|slider|swiper|slick|teaser|accessor|bundle|suggest|complete[-_]the|"
    r"product[-_]?list|listing|grid[-_]item|\btile|best[-_]?sell"
)
_PRICE_WORDS_RE = re.compile(
    r"price|preis|prix|precio|prezzo|cena|cijena|pret|pris|hinta|fiyat|цена|價|价|가격|"
    r"amount|sale|special|offer|deal|current|final"
)


@dataclass(slots=True)
class PriceCandidate:
    match: PriceMatch
    index: int | None
    old: bool
    priced_context: bool


@dataclass(slots=True)
class Guess:
    """A heuristic value with its confidence and where in the page it was found."""

    value: Any
    confidence: float
    index: int | None = None
    symbol: str | None = None


def _price_candidates(
    page: PageText, locale: PageLocale | None, start: int = 0, end: int | None = None
) -> list[PriceCandidate]:
    text, lower = page.text, page.lower
    found: list[PriceCandidate] = []
    for match in find_prices(
        text, decimal_separator=decimal_separator_for(locale), limit=300, start=start, end=end
    ):
        if match.amount <= 0:
            continue
        line_start = max(lower.rfind("\n", 0, match.start) + 1, match.start - 40)
        before = lower[line_start : match.start]
        after = lower[match.end : match.end + 30]
        if _UNIT_AFTER_RE.search(after) or _UNIT_BEFORE_RE.search(before):
            continue
        if _INSTALMENT_BEFORE_RE.search(before) or _INSTALMENT_AFTER_RE.search(after):
            continue
        if _SHIPPING_RE.search(before) or _SAVING_RE.search(before):
            continue
        if re.match(r"\s*%", after) or re.search(r"[-−–]\s*$", before):
            continue  # "-20 %" or "-€5": a discount
        old = bool(_OLD_WORDS_RE.search(before))
        index: int | None = None
        priced = False
        owner = page.owner_at(match.start + len(match.text) // 2)
        if owner is not None:
            index = page.order.get(owner)
            tags, words = page.context(owner)
            if tags & {"del", "s", "strike"}:
                continue
            if _HEADER_WORDS_RE.search(words) or _RELATED_WORDS_RE.search(words):
                continue
            _, near_words = page.context(owner, levels=3)
            if _OLD_CLASS_RE.search(near_words):
                old = True
            priced = bool(_PRICE_WORDS_RE.search(words))
        found.append(PriceCandidate(match, index, old, priced))
    return found


def _first_current(cands: list[PriceCandidate]) -> PriceCandidate | None:
    """The first candidate that is not a "was" price, else the first one."""
    for cand in cands:
        if not cand.old:
            return cand
    return cands[0] if cands else None


def _sale_of_pair(
    page: PageText, chosen: PriceCandidate, cands: list[PriceCandidate]
) -> PriceCandidate:
    """Two prices side by side (nothing but spaces between them) are a sale price and the
    original it replaces, in either order: the lower one is the price to pay."""
    text = page.text
    for other in cands:
        if other is chosen or other.match.symbol != chosen.match.symbol:
            continue
        first, second = sorted((chosen, other), key=lambda c: c.match.start)
        gap = text[first.match.end : second.match.start]
        if len(gap) <= 3 and not gap.strip():
            return min((chosen, other), key=lambda c: c.match.amount)
    return chosen


def _guess(cand: PriceCandidate, confidence: float) -> Guess:
    return Guess(cand.match.amount, confidence, cand.index, cand.match.symbol)


def pick_price(
    page: PageText,
    *,
    locale: PageLocale | None,
    title_index: int | None,
    buy_index: int | None,
) -> Guess | None:
    """The main price of the page (see the module docstring)."""
    if title_index is not None:
        limit = title_index + 600
        if buy_index is not None and buy_index > title_index:
            limit = min(limit, buy_index + 120)
        start, end = page.span((title_index, limit))
        after = _price_candidates(page, locale, start, end)
        chosen = _first_current(after)
        if chosen is not None:
            chosen = _sale_of_pair(page, chosen, after)
            return _guess(chosen, 0.7 if chosen.priced_context else 0.6)
        start, end = page.span((max(0, title_index - 250), title_index))
        before = _price_candidates(page, locale, start, end)
        before.reverse()
        chosen = _first_current(before)
        if chosen is not None:
            return _guess(chosen, 0.5)
    if buy_index is not None:
        start, end = page.span((max(0, buy_index - 300), buy_index))
        before = _price_candidates(page, locale, start, end)
        before.reverse()
        chosen = _first_current(before)
        if chosen is not None:
            return _guess(chosen, 0.55)
    candidates = _price_candidates(page, locale, 0, min(len(page.text), 300_000))
    chosen = _first_current([c for c in candidates if c.priced_context])
    if chosen is not None:
        return _guess(chosen, 0.45)
    return None


# --------------------------------------------------------------------------------------------
# Availability
# --------------------------------------------------------------------------------------------

_OOS_PHRASES = (
    "out of stock", "sold out", "soldout", "currently unavailable", "no longer available",
    "temporarily unavailable", "unavailable online", "not available online", "not in stock",
    "ausverkauft", "nicht verfügbar", "nicht mehr verfügbar", "nicht lieferbar",
    "nicht mehr lieferbar", "nicht vorrätig", "nicht auf lager", "derzeit nicht verfügbar",
    "vergriffen", "épuisé", "rupture de stock", "indisponible", "plus disponible", "agotado",
    "sin stock", "no disponible", "fuera de stock", "esgotado", "indisponível", "esaurito",
    "esaurita", "non disponibile", "uitverkocht", "niet op voorraad", "niet leverbaar",
    "niet beschikbaar", "niedostępny", "niedostępne", "wyprzedany", "wyprzedane",
    "brak w magazynie", "brak towaru", "vypredané", "vypredaný", "nedostupné", "nedostupný",
    "vyprodáno", "vyprodané", "není skladem", "nie je skladom", "stoc epuizat", "indisponibil",
    "nu este în stoc", "elfogyott", "nincs készleten", "slutsåld", "slut i lager", "udsolgt",
    "utsolgt", "ei varastossa", "loppuunmyyty", "нет в наличии", "распродан",
    "немає в наявності", "stokta yok", "tükendi", "在庫切れ", "売り切れ", "品切れ", "完売",
    "售完", "已售完", "缺貨", "缺货", "已售罄", "售罄", "補貨中", "补货中", "품절", "일시품절",
    "재고 없음", "재고없음", "نفذت الكمية", "نفذ من المخزون", "غير متوفر", "אזל מהמלאי",
    "hết hàng", "stok habis", "สินค้าหมด",
)  # fmt: skip
_IN_STOCK_PHRASES = (
    "in stock", "available now", "available online", "auf lager", "sofort lieferbar",
    "vorrätig", "en stock", "en existencia", "op voorraad", "na stanie", "na sklade",
    "skladem", "skladom", "în stoc", "in stoc", "raktáron", "i lager", "på lager",
    "varastossa", "в наличии", "stokta var", "在庫あり", "有現貨", "有货", "현재 구매가능",
    "재고 있음", "متوفر", "במלאי", "còn hàng", "tersedia",
)  # fmt: skip
# No leading look-behind: it would stop ``re`` from skipping ahead by first character. The
# word boundary before a phrase is checked by _phrase_at instead.
_OOS_RE = re.compile(r"(?:" + phrase_pattern(_OOS_PHRASES) + r")(?!\w)")
_IN_STOCK_RE = re.compile(r"(?:" + phrase_pattern(_IN_STOCK_PHRASES) + r")(?!\w)")


def _phrase_at(pattern: re.Pattern[str], lower: str, start: int, end: int) -> int | None:
    """Offset of the first whole-word match of ``pattern`` in ``lower[start:end]``."""
    for match in pattern.finditer(lower, start, end):
        at = match.start()
        if at == 0 or not (lower[at - 1].isalnum() or lower[at - 1] == "-"):
            return at
    return None


def _phrase_in(pattern: re.Pattern[str], page: PageText, start: int, end: int) -> int | None:
    return _phrase_at(pattern, page.lower, start, end)


def detect_availability(
    page: PageText, *, buttons: list[Button], region: tuple[int, int] | None
) -> Guess | None:
    """InStock / OutOfStock from the buy button and the stock messages near the product."""
    start, end = page.span(region)
    end = min(end, start + LABEL_SCAN_CHARS)
    oos = _phrase_in(_OOS_RE, page, start, end)
    if region is not None:
        active = [b for b in buttons if b.active and region[0] <= b.index <= region[1] + 400]
    else:
        active = [b for b in buttons if b.active]
    if oos is not None and not active:
        return Guess("OutOfStock", 0.6, page.index_at(oos))
    if active:
        return Guess("InStock", 0.6 if oos is None else 0.45, active[0].index)
    in_stock = _phrase_in(_IN_STOCK_RE, page, start, end)
    if in_stock is not None:
        return Guess("InStock", 0.5, page.index_at(in_stock))
    return None


def has_out_of_stock_message(page: PageText, region: tuple[int, int] | None) -> bool:
    start, end = page.span(region)
    return _phrase_in(_OOS_RE, page, start, min(end, start + LABEL_SCAN_CHARS)) is not None


# --------------------------------------------------------------------------------------------
# Labelled identifiers and brand
# --------------------------------------------------------------------------------------------

_SKU_LABELS = (
    "sku", "item number", "item no.", "item no", "item nr.", "item #", "item code", "item id",
    "product code", "product number", "product no.", "product no", "product id", "product #",
    "article number", "article no.", "article no", "article nr.", "article code", "art. no.",
    "art. no", "art.no.", "art. nr.", "art.nr.", "art.-nr.", "art.-nr", "art-nr.", "art nr",
    "stock code", "catalog number", "catalogue number", "catalog no.", "style number",
    "artikelnummer", "artikel-nummer", "artikel-nr.", "artikelnr.", "artikelnr", "bestellnummer",
    "bestell-nr.", "produktnummer", "produkt-nr.", "référence produit", "référence", "reference",
    "réf.", "code article", "code produit", "numéro d'article", "numéro d’article",
    "numéro de l'objet", "numéro de l’objet", "numero oggetto", "codice articolo",
    "codice prodotto", "cod. articolo", "código de producto", "código do produto",
    "código del producto", "código", "referencia", "referência", "número de artículo",
    "artikelcode", "kod produktu", "nr ref.", "nr. ref.", "numer referencyjny",
    "numer katalogowy", "numer produktu", "kód produktu", "katalógové číslo",
    "katalogové číslo", "objednací číslo", "číslo produktu", "cod produs", "cod produs:",
    "cikkszám", "termékkód", "tuotenumero", "tuotekoodi", "varenummer", "varenr.",
    "artikkelnummer", "артикул", "код товара", "ürün kodu", "stok kodu", "商品編號", "商品编号",
    "商品代碼", "商品代码", "貨號", "货号", "商品番号", "品番", "상품번호", "품번",
    # "deal number": the product id of Korean deal-style shops
    "딜번호", "رقم المنتج", "رمز المنتج", "ref.", "art.",
)  # fmt: skip
_WEAK_SKU_LABELS = frozenset({"ref.", "art.", "código", "reference", "référence"})
_GTIN_LABELS = (
    "ean", "ean13", "ean-13", "ean code", "ean-code", "gtin", "gtin13", "gtin-13", "upc",
    "isbn", "isbn13", "isbn-13", "barcode", "kód ean", "código ean", "código de barras",
    "код ean", "штрихкод",
)  # fmt: skip
_MPN_LABELS = (
    "mpn", "manufacturer part number", "mfr part number", "mfr. part no.", "part number",
    "part no.", "model number", "model no.", "model nr.", "herstellernummer", "hersteller-nr.",
    "herstellerartikelnummer", "hersteller-artikelnummer", "référence fabricant",
    "numéro de modèle", "型號", "型号", "型番", "모델명",
)  # fmt: skip
_BRAND_LABELS = (
    "brand", "brand name", "marke", "marque", "marca", "merk", "marka", "značka", "márka",
    "merkki", "varumärke", "manufacturer", "hersteller", "fabricant", "fabricante",
    "produttore", "producent", "výrobca", "výrobce", "gyártó", "valmistaja", "производитель",
    "бренд", "üretici", "品牌", "ブランド", "브랜드", "الماركة", "العلامة التجارية",
)  # fmt: skip


def _label_re(labels: tuple[str, ...], *, need_colon: bool = False) -> re.Pattern[str]:
    # "Label: value", "Label value", or the value on the next line (a table or a list of
    # definitions; at most one empty line in between).
    gap = r"[ \t]*(?:\n[ \t]*){0,2}"
    separator = rf"[ \t]*[:：]{gap}" if need_colon else rf"[ \t]*[:：#]?{gap}"
    return re.compile(
        rf"(?P<label>{phrase_pattern(labels)})(?![^\W\d_]){separator}(?P<value>[^\n]{{1,80}})"
    )


_LABEL_RES = {
    "sku": _label_re(_SKU_LABELS),
    "gtin": _label_re(_GTIN_LABELS),
    "mpn": _label_re(_MPN_LABELS),
    "brand": _label_re(_BRAND_LABELS, need_colon=True),
}
_CLOSERS = ".,;)]}>〉》）」』】"


def _clean_label_value(field_name: str, label: str, raw: str) -> str | None:
    value = raw.strip().strip(":：#").strip()
    value = re.split(r"\s{2,}|\s[|·•/]\s|\t", value)[0].strip()
    if not value:
        return None
    if field_name == "brand":
        value = value.strip(" .,;")
        words = value.split()
        if not words or len(words) > 5 or len(value) > 60 or re.search(r"\d{4,}", value):
            return None
        if not value[0].isalnum():
            return None
        return clean_identifier(value, max_length=60)
    if field_name == "gtin":
        digits = re.match(r"[\d\s-]{8,20}", value)
        return normalize_gtin(digits.group(0).strip()) if digits else None
    words = value.split()
    if len(words) > 4:
        value = words[0]
    value = value.strip(_CLOSERS).lstrip("〈《（「『【([")
    if len(value) < 3 or len(value) > 40 or not re.search(r"\d", value):
        return None
    if field_name == "sku" and label in _WEAK_SKU_LABELS and len(re.findall(r"\d", value)) < 4:
        return None
    if re.fullmatch(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}", value):  # a date
        return None
    return clean_identifier(value, max_length=40)


def find_labelled(
    page: PageText, field_name: str, *, region: tuple[int, int] | None = None, limit: int = 3
) -> list[Guess]:
    """Values printed after a label ("SKU: 123", "EAN 400..."): in the product region first,
    then in the rest of the main text."""
    pattern = _LABEL_RES[field_name]
    text, lower = page.text, page.lower
    start, end = page.span(region)
    spans = [(start, min(end, start + LABEL_SCAN_CHARS))]
    if region is not None and field_name != "brand":
        spans.append((end, min(len(text), end + LABEL_SCAN_CHARS)))
        spans.append((max(0, start - 20_000), start))
    found: list[Guess] = []
    for span_start, span_end in spans:
        for match in pattern.finditer(lower, span_start, span_end):
            label_start = match.start("label")
            if label_start > 0 and lower[label_start - 1].isalnum():
                continue
            value_start, value_end = match.span("value")
            value = _clean_label_value(
                field_name, match.group("label"), text[value_start:value_end]
            )
            if not value:
                continue
            found.append(Guess(value, 0.6, page.index_at(label_start)))
            if len(found) >= limit:
                return found
    return found


_URL_ID_RE = re.compile(r"(?:^|[-_/.,=])(?P<id>[A-Za-z]{0,2}\d{5,14})(?:\.[a-z]{2,5})?/?$")
_ID_QUERY_KEYS = frozenset(
    {"sku", "pid", "productid", "product_id", "itemid", "item_id", "articleid", "article", "id"}
)


def url_identifier(url: str | None, page_source: str | None) -> str | None:
    """The product id that ends the page address (``...-112949990.html``, ``/itm/3024...``)
    or sits in an id parameter, when the page repeats it outside an address (in a form
    field, a data attribute, a script, the text)."""
    if not url or not page_source:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    candidates: list[str] = []
    match = _URL_ID_RE.search(unquote(parts.path))
    if match:
        candidates.append(match.group("id"))
    for key, value in parse_qsl(parts.query):
        is_id = key.lower() in _ID_QUERY_KEYS and re.fullmatch(r"[A-Za-z0-9-]{4,20}", value)
        if is_id and re.search(r"\d", value):
            candidates.append(value)
    for candidate in candidates:
        # Inside an address the id follows "/", "-" or "."; elsewhere a quote, ">" or space.
        pattern = re.compile(rf"(?<![\w/.%=-]){re.escape(candidate)}(?![\w-])")
        if pattern.search(page_source):
            return candidate
    return None


# --------------------------------------------------------------------------------------------
# Plain text
# --------------------------------------------------------------------------------------------


_CART_PHRASE_RE = re.compile(r"(?:" + phrase_pattern(_CART_PHRASES) + r")(?!\w)")


def _cart_lines(lower: str, limit: int = 50) -> list[int]:
    """Offsets of lines that start with a buy/add-to-cart phrase (buttons, in plain text)."""
    found: list[int] = []
    for match in _CART_PHRASE_RE.finditer(lower):
        at = match.start()
        line_start = lower.rfind("\n", 0, at) + 1
        prefix = lower[line_start:at]
        if len(prefix) <= 3 and not any(c.isalnum() for c in prefix):
            line_end = lower.find("\n", at)
            line_end = len(lower) if line_end < 0 else line_end
            if line_end - at <= 40:  # a button's label, not a sentence
                found.append(at)
                if len(found) >= limit:
                    break
    return found


_GERMAN_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def _fold(word: str) -> set[str]:
    """A word, without accents, and with German transliteration (ö -> oe), so that an
    address slug matches the visible title ("moeckelby" ~ "MÖCKELBY")."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
    return {word, plain, word.translate(_GERMAN_FOLD)}


def _slug_words(url: str | None) -> set[str]:
    """Words of the address's last meaningful path segment (``/garni-570-easy-ii``)."""
    if not url:
        return set()
    try:
        path = unquote(urlsplit(url).path)
    except ValueError:
        return set()
    for segment in reversed([s for s in path.split("/") if s]):
        segment = re.sub(r"\.[a-z]{2,5}$", "", segment.lower())
        words = {w for w in re.split(r"[^\w]+|_", segment) if len(w) > 2 and not w.isdigit()}
        if len(words) >= 2:
            return words
    return set()


def _title_lines(lower: str, url: str | None) -> list[tuple[int, float]]:
    """Lines that look like the product title, with a score: lines sharing most of the
    address slug's words, and later lines repeating the text's first line (often the
    document title, "Product name | Shop")."""
    slug = _slug_words(url)
    first_line = next((line for line in lower.split("\n", 50) if len(line.strip()) >= 3), "")
    hints = [_norm(h) for h in title_hints(first_line)] if first_line else []
    found: list[tuple[int, float]] = []
    offset = 0
    first_seen = False
    for n, line in enumerate(lower.split("\n")):
        if n > 5000:
            break
        size = len(line)
        if 3 <= size < 300 and line.strip():
            score = 0.0
            if len(slug) >= 2:
                words: set[str] = set()
                for word in re.findall(r"\w+", line):
                    if len(word) > 2:
                        words |= _fold(word)
                score = len(words & slug) / len(slug)
            if first_seen and hints:
                score = max(score, _match_score(_norm(line), hints))
            elif not first_seen and line.strip() == first_line.strip():
                first_seen = True
                score = min(score, 0.5)  # the first line itself
            if score >= 0.5:
                found.append((offset, score))
        offset += size + 1
    return found


def extract_from_text(text: str, *, url: str | None, locale: PageLocale | None) -> dict[str, Guess]:
    """Price (with its currency mark), availability and labelled identifiers from plain text.

    Each current price is scored: being the first price after a line that looks like the
    product title counts most, being the last price before a buy button next; ties go to
    the earlier price. With neither clue, the first current price is taken (low confidence).
    """
    page = text_page(text)
    lower = page.lower
    guesses: dict[str, Guess] = {}
    titles = _title_lines(lower, url)
    carts = _cart_lines(lower)
    candidates = [c for c in _price_candidates(page, locale) if not c.old]
    starts = [c.match.start for c in candidates]
    best_score = 0.0
    chosen: PriceCandidate | None = None
    for i, cand in enumerate(candidates):
        previous = starts[i - 1] if i > 0 else -1
        following = starts[i + 1] if i + 1 < len(starts) else len(lower)
        score = 0.0
        title_scores = [
            t_score for t_offset, t_score in titles
            if previous < t_offset < cand.match.start <= t_offset + 1500
        ]  # fmt: skip
        if title_scores:
            score += 1.5 + max(title_scores)
        if any(cand.match.end <= c < min(following, cand.match.end + 600) for c in carts):
            score += 2.0
        if score > best_score:
            best_score, chosen = score, cand
    confidence = 0.55
    if chosen is None and candidates:
        chosen, confidence = candidates[0], 0.35
    if chosen is not None:
        chosen = _sale_of_pair(page, chosen, candidates)
        guesses["price"] = Guess(chosen.match.amount, confidence, None, chosen.match.symbol)
    start = titles[0][0] if titles else 0
    end = min(len(lower), start + 20_000)
    oos = _phrase_at(_OOS_RE, lower, start, end)
    cart = next((c for c in carts if c >= start), None)
    if oos is not None and cart is None:
        guesses["availability"] = Guess("OutOfStock", 0.5)
    elif cart is not None:
        guesses["availability"] = Guess("InStock", 0.5)
    elif _phrase_at(_IN_STOCK_RE, lower, start, end) is not None:
        guesses["availability"] = Guess("InStock", 0.45)
    for name in ("sku", "gtin", "mpn", "brand"):
        found = find_labelled(page, name, limit=1)
        if found:
            guesses[name] = Guess(found[0].value, 0.5)
    return guesses
