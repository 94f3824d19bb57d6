"""The two anchors of a product page: its title (matched against the page's title hints)
and its buy button (matched by label, in many languages, by class/id or by form action)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from buyhive.product.text import ADD_TO_CART_PHRASES, BUY_LABEL_WORDS
from extraction.heuristics.page_text import PageText, fold_for_match
from extraction.normalize import phrase_pattern

_TITLE_SPLIT_RE = re.compile(r"\s+[-|–—:»·•]\s+|\s*[|｜]\s*|\s+::\s+")
_TAG_PREFIX_RE = re.compile(r"^\s*(?:\[[^\]]{1,40}\]|【[^】]{1,40}】|\([^)]{1,40}\))\s*")


def title_hints(*titles: str | None, site_name: str | None = None) -> list[str]:
    """Title strings to look for in the page: each title whole, without a leading tag such
    as "[Shop]", and cut at each separator (" - ", " | ", " : "...) keeping either side, since
    shops add their name before or after the product's. The site's name alone is not a hint."""
    hints: list[str] = []
    site = fold_for_match(site_name) if site_name else None

    def add(candidate: str) -> None:
        candidate = candidate.strip()
        if len(candidate) >= 3 and candidate not in hints and fold_for_match(candidate) != site:
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


def match_score(norm: str, hints_norm: list[str]) -> float:
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


_WORD_RE = re.compile(r"[^\W_]+")


def words_within_score(text: str, hints: list[str]) -> float:
    """How well a heading's words match a title hint that adds words among them: its words
    (three or more) all in the hint, in the same order, covering at least 60 % of the hint's
    words ("Audeze LCD-2 Classic Headphones" in "Audeze LCD-2 Classic Planar Magnetic
    Headphones"). The covered share, less a tenth: never as good as containment."""
    words = _WORD_RE.findall(text.casefold())
    if len(words) < 3:
        return 0.0
    best = 0.0
    for hint in hints:
        hint_words = _WORD_RE.findall(hint.casefold())
        if len(hint_words) <= len(words):
            continue
        remaining = iter(hint_words)
        if all(word in remaining for word in words):  # a subsequence, in order
            share = len(words) / len(hint_words)
            if share >= 0.6:
                best = max(best, share - 0.1)
    return best


@dataclass(slots=True)
class Anchor:
    element: Any
    index: int
    text: str
    score: float


_TITLE_CLASS_RE = re.compile(r"title|name|heading|headline")
# Blocks whose words say they hold no product title. An <h1> matching the title is the
# product's even in a block its theme calls a navbar or a menu (a product summary that turns
# into a sticky bar on scroll): only the first words rule it out.
_NOT_TITLE_WORDS = r"breadcrumb|footer|logo|related|recommend|carousel"
_NOT_TITLE_H1_RE = re.compile(_NOT_TITLE_WORDS)
_NOT_TITLE_RE = re.compile(_NOT_TITLE_WORDS + r"|\bnav|menu")


def _score_title(
    el: Any, text: str, hints_norm: list[str], page: PageText, hints: list[str] | None = None
) -> float:
    norm = fold_for_match(text)
    score = match_score(norm, hints_norm)
    if score <= 0 and el.tag == "h1" and hints:
        score = words_within_score(text, hints)
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
    if "a" in tags or (_NOT_TITLE_H1_RE if tag == "h1" else _NOT_TITLE_RE).search(words):
        score -= 0.5
    return score


def find_title_anchor(
    tree: Any, page: PageText, hints: list[str], *, site_names: frozenset[str] = frozenset()
) -> Anchor | None:
    """The element showing the product title: the ``<h1>`` that matches the title hints best,
    else a heading or title-like element that matches well, else the only ``<h1>``. An
    element reading only the site's name (``site_names``, folded: a logo in an ``<h1>``) is
    never the title, though a hint ("Name - Shop 7") holds it.

    ``page`` must come from :func:`build_page_text` called with the same hints.
    """
    hints_norm = [fold_for_match(h) for h in hints]
    best: Anchor | None = None

    def consider(index: int, el: Any, text: str) -> None:
        nonlocal best
        score = _score_title(el, text, hints_norm, page, hints)
        if score > 0 and (best is None or score > best.score + 1e-9):
            best = Anchor(el, index, text, score)

    h1s: list[tuple[int, Any, str]] = []
    for index, el in page.headings:
        text = " ".join("".join(el.itertext()).split())
        if 3 <= len(text) <= 400 and fold_for_match(text) not in site_names:
            h1s.append((index, el, text))
            consider(index, el, text)
    if best is not None and best.score >= 0.85:
        return best
    for index, el, own in page.titled:
        text = " ".join(own.split())
        if el.tag != "h1" and fold_for_match(text) not in site_names:
            consider(index, el, text)
    if best is not None and best.score >= 0.55:
        return best
    if h1s and (len(h1s) == 1 or not hints_norm):
        index, el, text = h1s[0]
        return Anchor(el, index, text, 0.4)
    return None


# A buy button's label starts with one of these (see buyhive.product.text).
# Button labels read by the extractor only (the page classifier's features use the shared
# lists above, on which its weights were trained): more languages' "add to cart".
_MORE_BUY_PHRASES = (
    "in winkelmand", "in winkelmandje", "přidat do košíku", "pridať do košíka",
    "adicionar à sacola", "adicionar ao saco", "tambah ke troli", "tambah ke keranjang",
    "lägg till i varukorgen", "dodaj u košaricu", "dodaj v košarico", "į krepšelį",
    "pievienot grozam", "lisa ostukorvi", "προσθήκη στο καλάθι", "додати в кошик",
)  # fmt: skip
BUY_BUTTON_PHRASES = ADD_TO_CART_PHRASES + BUY_LABEL_WORDS + _MORE_BUY_PHRASES
_CART_TEXT_RE = re.compile(r"^\W{0,3}(?:" + phrase_pattern(BUY_BUTTON_PHRASES) + r")(?!\w)")
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
        if page.in_other_products(el):
            continue  # a tile of another product ("similar", "also viewed", a carousel)
        disabled = _disabled(attrib, attrs)
        if not disabled and tag not in ("button", "input", "a"):
            # A wrapper ("product-add-to-cart") is as enabled as the button inside it.
            inner = next(el.iter("button"), None)
            if inner is not None:
                inner_attrs = " ".join(inner.get(a) or "" for a in ("class", "id", "name"))
                disabled = _disabled(inner.attrib, inner_attrs.lower())
        buttons.append(Button(el, index, not disabled))
    return buttons


_DISABLED_WORDS_RE = re.compile(r"\bdisabled\b|\bis-disabled\b|sold-?out|out-?of-?stock")


def _disabled(attrib: Any, attrs: str) -> bool:
    return (
        "disabled" in attrib
        or (attrib.get("aria-disabled") or "").lower() == "true"
        or bool(_DISABLED_WORDS_RE.search(attrs))
    )
