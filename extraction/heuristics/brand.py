"""The brand when no label prints it and no structured data carries it.

Shop themes show the brand next to the product's title in an element their templates name
for it (``<a class="product__vendor">``, ``<div class="pdp-brand">``), often a link to the
brand's page (``/brands/casio``). Only the few pieces of text just around the title are read
(the brand sits on the line above or below it); elements in blocks showing other products
(a carousel's cards each name their brand) and in the site's header or navigation (a menu
of brands, Bootstrap's ``navbar-brand`` logo) are passed over. The value must look like a
name: one to five words, a letter among them, no amount, no date, not a phrase of the
navigation ("All brands", "Shop by brand").
"""

from __future__ import annotations

import bisect
import re
from typing import Any
from urllib.parse import urlsplit

from extraction.heuristics.anchors import Anchor
from extraction.heuristics.page_text import PageText
from extraction.normalize import clean_text

#: How far before and after the title's text the brand is looked for (characters of text).
BEFORE_TITLE_CHARS = 300
AFTER_TITLE_CHARS = 600

#: A word of a class or id naming the brand: between separators or camel-case humps
#: ("product-brand", "brand_name", "productVendor", "pdp__manufacturer").
_BRAND_WORD_RE = re.compile(
    r"(?:^|[^a-z])(?:brand|brandname|vendor|manufacturer|maker|marque|marca|marke|hersteller)"
    r"(?:$|[^a-z])"
)
#: Class words of elements that name the *site's* brand or a menu, not the product's.
_NOT_PRODUCT_BRAND_RE = re.compile(
    r"(?:^|[^a-z])(?:navbar|nav|menu|header|footer|logo|site|store|filter|facet|"
    r"breadcrumbs?|carousel|slider|recommend\w*|related)(?:$|[^a-z])"
)
#: A path segment of a brand's page ("/brands/casio", "/marque/babybjorn", "/vendors?q=x").
_BRAND_PATH_RE = re.compile(
    r"/(?:brands?|marques?|marcas?|marken?|merken?|manufacturers?|hersteller|vendors?|"
    r"designers?)(?:/|\?|=|-|_)",
    re.I,
)
#: Link texts of the navigation, not a brand's name.
_NAV_PHRASE_RE = re.compile(
    r"(?i)\b(?:all|shop|browse|more|see|view|visit|check|other|brands|outlet|guarantee|"
    r"warranty|collection)\b"
)
#: Class words of the site's own header, menus and footer.
_CHROME_WORD_RE = re.compile(
    r"(?:^|[^a-z])(?:nav|navbar|navigation|menu|megamenu|header|footer)(?:$|[^a-z])"
)
#: "By Almondina", "von Bosch", "par Casio": the word before the brand's name.
_BY_RE = re.compile(r"^(?:by|from|von|par|de|di|door|av|af)\s+", re.I)
#: An amount, a date or a time ("£5", "12/09", "10:00"): a promotion or a badge, not a name.
_AMOUNT_OR_DATE_RE = re.compile(r"\d+\s?[.,:/]\s?\d+|[$€£¥₩%]")


def _class_words(element: Any) -> str:
    marker = f"{element.get('class') or ''} {element.get('id') or ''}"
    return re.sub(r"([a-z])([A-Z])", r"\1-\2", marker).lower()


def _looks_like_name(text: str) -> bool:
    words = text.split()
    if not 1 <= len(words) <= 5 or len(text) > 60:
        return False
    letters = sum(c.isalpha() for c in text)
    if letters < sum(c.isdigit() for c in text) or _AMOUNT_OR_DATE_RE.search(text):
        return False
    return not _NAV_PHRASE_RE.search(text)


def _names_brand(element: Any) -> bool:
    """Whether the element's class or id names a brand, or it is a link to a brand's page."""
    words = _class_words(element)
    if _BRAND_WORD_RE.search(words) and not _NOT_PRODUCT_BRAND_RE.search(words):
        return True
    if element.tag == "a":
        path = urlsplit((element.get("href") or "").strip()).path
        return bool(_BRAND_PATH_RE.search(path + "/"))
    return False


def marked_brand(page: PageText, anchor: Anchor | None) -> str | None:
    """The brand shown in an element named for it (or a link to the brand's page) in the
    few lines around the product's title; None when there is no title to look around."""
    if anchor is None:
        return None
    title_offset = page.offset_of(anchor.index)
    start = max(0, title_offset - BEFORE_TITLE_CHARS)
    end = min(len(page.text), title_offset + len(anchor.text) + AFTER_TITLE_CHARS)
    first = max(0, bisect.bisect_right(page.starts, start) - 1)
    last = bisect.bisect_left(page.starts, end)
    seen: set[Any] = set()
    for owner in page.owners[first:last]:
        if owner is None or owner in seen or owner in page.title_path:
            continue
        seen.add(owner)
        element = owner
        for _ in range(3):  # the element showing the text, its parent and grandparent
            if element is None or not isinstance(element.tag, str):
                break
            if element in page.title_path:
                break
            if _names_brand(element):
                if page.in_other_products(element) or _in_site_chrome(element, page):
                    break
                shown = _BY_RE.sub("", " ".join("".join(element.itertext()).split()))
                name = clean_text(shown, max_length=60)
                if name and _looks_like_name(name):
                    return name
                break
            element = element.getparent()
    return None


def _in_site_chrome(element: Any, page: PageText, levels: int = 10) -> bool:
    """Whether the element sits in the site's header, navigation or footer: a ``<header>``
    or such a class word on it or an ancestor below the first ancestor holding the product's
    title (that block is the product's own, whatever its class says: "product-header").
    ``<nav>`` and ``<footer>`` need no check: the page text leaves them out, so no text
    looked at here is inside one."""
    node = element
    for _ in range(levels):
        if node is None or not isinstance(node.tag, str) or node in page.title_path:
            return False
        if node.tag == "header" or _CHROME_WORD_RE.search(_class_words(node)):
            return True
        node = node.getparent()
    return False
