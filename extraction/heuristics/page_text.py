"""The visible text of a page, walked once, with each piece linked to the element showing it.

Every other heuristic works on this text (:class:`PageText`), so the same rules run on HTML
and on the plain text the extension may send (:func:`text_page`). Navigation, footers,
cookie/consent dialogs, scripts, templates, ``<select>`` options and hidden elements are left
out (a hidden block holding an ``<h1>`` is kept: pages whose scripts reveal the product
block ship it hidden). :class:`Guess` is what a heuristic answers: a value, its confidence
and where it was seen.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from extraction.normalize import phrase_pattern

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
    #: The product title's element and its ancestors, once the title is found (see
    #: :meth:`in_other_products`).
    title_path: frozenset[Any] = frozenset()
    #: The product title's text, letters and digits folded (see :meth:`block_says`).
    title_folded: str = ""
    _lower: str | None = None
    _context_cache: dict[Any, tuple[frozenset[str], str]] = field(default_factory=dict)
    _title_copy_cache: dict[Any, bool] = field(default_factory=dict)

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

    def in_other_products(self, element: Any, levels: int = 8) -> bool:
        """Whether an element sits in a block showing other products (a carousel, "similar
        products", a grid): class/id words saying so on it or an ancestor, below the first
        ancestor that also holds the product's title. A block holding the title is the
        product's own, whatever its class says ("listing-page-cart", "product-slider-main")."""
        return self.block_says(element, RELATED_WORDS_RE, levels)

    def block_says(
        self, element: Any, pattern: re.Pattern[str], levels: int = 8, *, title_copy: bool = False
    ) -> bool:
        """Whether class/id words of an element or its ancestors match ``pattern``, below
        the first ancestor that also holds the product's title (that block is the
        product's own whatever its class says: "product-header", "listing-page-cart").
        With ``title_copy``, nor inside a small block that prints the title again: a sticky
        bar of the product ("Blue Kettle  $40  Buy now") whose theme calls it a navbar."""
        words = self.context(element, levels)[1]
        if not pattern.search(words):
            return False
        if not self.title_path:
            return True
        own: list[str] = []
        node = element
        for _ in range(levels):
            if node is None or node in self.title_path:
                break
            if title_copy and self.title_folded and self._prints_title(node):
                return False
            for attr in ("class", "id", "itemprop"):
                value = node.get(attr)
                if value:
                    own.append(value.lower())
            node = node.getparent()
        return bool(pattern.search(" ".join(own)))

    def _prints_title(self, node: Any) -> bool:
        """Whether a small block's text holds the title (letters and digits, case folded);
        once per element, so a page with many amounts in a large header reads it once."""
        cached = self._title_copy_cache.get(node)
        if cached is None:
            text = "".join(node.itertext())
            cached = len(text) <= _TITLE_COPY_MAX_CHARS * 4
            if cached:
                text = " ".join(text.split())
                cached = len(text) <= _TITLE_COPY_MAX_CHARS and self.title_folded in fold_for_match(
                    text
                )
            self._title_copy_cache[node] = cached
        return cached


#: A block printing the title again is a bar of the product's own up to this many characters.
_TITLE_COPY_MAX_CHARS = 600


def site_folds(url: str | None) -> tuple[str, str] | None:
    """The page's host folded for matching, whole and its name alone
    (``www.headphones.com`` -> ``("headphonescom", "headphones")``), or None."""
    try:
        host = (urlsplit(url or "").hostname or "").lower()
    except ValueError:
        return None
    labels = [x for x in host.split(".") if x and x != "www"]
    if not labels:
        return None
    name = labels[-2] if len(labels) >= 2 else labels[0]
    return fold_for_match("".join(labels)), fold_for_match(name)


def fold_for_match(text: str) -> str:
    """Letters and digits only, case folded ("Blue-Kettle 2" -> "bluekettle2")."""
    return re.sub(r"[\W_]+", "", text.casefold())


_CLICKABLE_TAGS = frozenset({"a", "button", "input"})
_CLICKABLE_WORDS = ("cart", "buy", "basket", "purchase")


# Headings of blocks showing other products: a price after one of them, with no title line in
# between, is another product's, whatever the title line before the heading says.
OTHER_PRODUCTS_PHRASES = (
    "similar products", "related products", "you may also like", "you might also like",
    "customers also bought", "customers also viewed", "customers who bought",
    "others also viewed", "others also bought", "frequently bought together",
    "recommended for you", "recently viewed", "complete the look", "more from this",
    "ähnliche produkte", "ähnliche artikel", "das könnte ihnen auch gefallen",
    "das könnte dir auch gefallen", "kunden kauften auch", "zuletzt angesehen",
    "produits similaires", "vous aimerez aussi", "vous aimerez peut-être aussi",
    "produits associés", "productos similares", "productos relacionados",
    "también te puede gustar", "prodotti simili", "prodotti correlati",
    "potrebbe interessarti", "vergelijkbare producten", "gerelateerde producten",
    "podobne produkty", "produkty powiązane", "produtos semelhantes", "produtos relacionados",
    "liknande produkter", "relaterade produkter", "lignende produkter", "relaterede produkter",
    "関連商品", "おすすめ商品", "相关商品", "相關商品", "推荐商品", "推薦商品", "추천 상품",
    "관련 상품", "منتجات مشابهة", "منتجات ذات صلة", "похожие товары", "с этим товаром покупают",
    "pairs well with", "goes well with", "shop the look", "complete your look",
    "complete the set", "similar items", "related items", "more like this", "you may also need",
    "people also bought", "people also viewed", "customers who viewed",
    "kunden kauften auch", "passend dazu", "dazu passt", "produits complémentaires",
    "on aime aussi", "te puede interesar", "completa el look", "potrebbero piacerti",
    "combinalo con", "past goed bij", "vaak samen gekocht", "może cię zainteresować",
    "passar bra med", "du kanske också gillar",
)  # fmt: skip
OTHER_PRODUCTS_HEADING_RE = re.compile(
    r"(?m)^\W{0,3}(?:" + phrase_pattern(OTHER_PRODUCTS_PHRASES) + r")(?!\w)"
)


_OVERLAY_RE = re.compile("|".join(_OVERLAY_WORDS))
#: Class/id words of a block showing other products (carousels, "similar", "also viewed"):
#: its prices and buy buttons are not the page's product's.
RELATED_WORDS_RE = re.compile(
    r"related|recommend|similar|upsell|up-sell|cross-?sell|recent|viewed|also[-_]|"
    r"carousel|slider|swiper|slick|teaser|accessor|bundle|suggest|complete[-_]the|"
    r"product[-_]?list|listing|grid[-_]item|\btile|best[-_]?sell"
)
_CLICKABLE_RE = re.compile("|".join(_CLICKABLE_WORDS))


def _is_site_header(el: Any, holders: frozenset[Any]) -> bool:
    """A ``<header>`` that is the site's (logo, menu, mini cart), not a product's or an
    article's: outside main/article/section, and without an ``<h1>`` of its own."""
    if any(a.tag in ("main", "article", "section") for a in el.iterancestors()):
        return False
    return el not in holders


def h1_holders(tree: Any) -> frozenset[Any]:
    """The elements holding an ``<h1>`` (its ancestors), found once instead of a subtree
    search per hidden or header element."""
    return frozenset(a for h1 in tree.iter("h1") for a in h1.iterancestors())


def hidden_by_markup(el: Any, holders: frozenset[Any]) -> bool:
    """Whether the page's own markup hides ``el`` from the buyer: its ``hidden`` attribute,
    or an inline ``display: none`` or ``visibility: hidden`` (a class that a style sheet
    hides cannot be told without the style sheet). A hidden block holding the ``<h1>``
    (``holders``: :func:`h1_holders`) is not: a page whose scripts reveal the product block
    once they run ships it hidden, and it is that block, not a closed pop-up."""
    if el.get("hidden") is None:
        style = el.get("style")
        if not (style and _HIDDEN_STYLE_RE.search(style)):
            return False
    return el not in holders


def _skip(el: Any, tag: str, keys: list[str], holders: frozenset[Any]) -> bool:
    """Whether an element's subtree is not part of the page a buyer reads (``holders``:
    the elements holding an ``<h1>``)."""
    if tag in _SKIP_TAGS:
        return True
    if tag == "header" and _is_site_header(el, holders):
        return True
    if not keys:
        return False
    if "aria-modal" in keys and el.get("aria-modal") == "true":
        return True
    if ("hidden" in keys or "style" in keys) and hidden_by_markup(el, holders):
        return True
    if tag in _CONTAINER_TAGS and ("id" in keys or "class" in keys):
        marker = ((el.get("id") or "") + " " + (el.get("class") or "")).lower()
        # A banner never holds the product's title: a main section whose class only says it
        # sits next to one ("with-cookie-info") is the page itself.
        if _OVERLAY_RE.search(marker) and el not in holders:
            return True
    return False


def place_streamed_segments(tree: Any) -> int:
    """Put the blocks a streamed page sends late where its scripts put them, and say how
    many were placed.

    A page rendered in pieces (React's streaming server rendering, used by many shop
    front-ends) first sends a placeholder, ``<template id="B:1">`` or ``<template
    id="P:1">``, and later, at the end of the document, the content in a hidden
    ``<div hidden id="S:1">`` that its script moves into the placeholder's place. The browser
    shows that content where the placeholder was; read as served, it is hidden and out of
    order. The tree is changed in place: each segment's children replace its placeholder.
    """
    holders: dict[str, Any] = {}
    for template in tree.iter("template"):
        name = template.get("id") or ""
        if name[:2] in ("B:", "P:"):
            holders.setdefault(name[2:], template)
    if not holders:
        return 0
    placed = 0
    for div in list(tree.iter("div")):
        name = div.get("id") or ""
        if div.get("hidden") is None or not name.startswith("S:"):
            continue
        holder = holders.get(name[2:])
        parent = holder.getparent() if holder is not None else None
        if holder is None or parent is None or holder in div.iterancestors():
            continue
        nodes = list(div)
        if div.text and div.text.strip():
            # Text before the segment's first element stays in place, as a span.
            span = etree.Element("span")
            span.text = div.text
            nodes.insert(0, span)
        at = parent.index(holder)
        tail = holder.tail  # lxml removes an element with its tail: keep the text after it
        parent.remove(holder)
        for offset, node in enumerate(nodes):
            parent.insert(at + offset, node)
        if tail:
            if nodes:
                nodes[-1].tail = (nodes[-1].tail or "") + tail
            elif at > 0:
                parent[at - 1].tail = (parent[at - 1].tail or "") + tail
            else:
                parent.text = (parent.text or "") + tail
        if div.getparent() is not None:
            div.getparent().remove(div)
        placed += 1
    return placed


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
    holders = h1_holders(tree)
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
                if _skip(el, tag, keys, holders):
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


@dataclass(slots=True)
class Guess:
    """A heuristic value with its confidence and where in the page it was found."""

    value: Any
    confidence: float
    index: int | None = None
    symbol: str | None = None
