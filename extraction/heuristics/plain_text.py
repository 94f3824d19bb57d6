"""The same heuristics on plain text (what the extension sends when it has no HTML): the title
line, the price after it, the buy button line, the stock messages and the labels."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote, urlsplit

from extraction.heuristics.anchors import (
    BUY_BUTTON_PHRASES,
    match_score,
    title_hints,
)
from extraction.heuristics.availability import (
    IN_STOCK_RE,
    OUT_OF_STOCK_RE,
    order_ahead_term,
    phrase_at,
)
from extraction.heuristics.identifiers import hash_labelled_sku
from extraction.heuristics.labels import find_labelled
from extraction.heuristics.page_text import (
    OTHER_PRODUCTS_HEADING_RE,
    Guess,
    fold_for_match,
    site_folds,
    text_page,
)
from extraction.heuristics.price import (
    PriceCandidate,
    first_price_after,
    free_slot,
    price_candidates,
    sale_of_pair,
)
from extraction.normalize import PageLocale, find_prices, phrase_pattern

#: A title line scoring this much less than the best one does not mark the product's price.
TITLE_SCORE_MARGIN = 0.5

_CART_PHRASE_RE = re.compile(r"(?:" + phrase_pattern(BUY_BUTTON_PHRASES) + r")(?!\w)")


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


def _first_line(text: str) -> str:
    """The text's first line of three characters or more, or ""."""
    return next((line for line in text.split("\n", 50) if len(line.strip()) >= 3), "")


def _title_lines(
    lower: str, url: str | None, doc_title: str | None = None
) -> list[tuple[int, float]]:
    """Lines that look like the product title, with a score: lines sharing most of the
    address slug's words, and lines repeating the document title ("Product name | Shop"):
    ``doc_title`` when the page's title came with its text (the extension sends it beside
    the body's text, which does not hold it), else the text's first line, often that title
    when the text was read from the whole document."""
    slug = _slug_words(url)
    first_line = doc_title.lower() if doc_title is not None else _first_line(lower)
    hints = [fold_for_match(h) for h in title_hints(first_line)] if first_line else []
    # The shop's name in "Name | Shop" is not the product's: the piece that spells the host.
    site = set(site_folds(url) or ())
    hints = [h for h in hints if h not in site]
    found: list[tuple[int, float]] = []
    offset = 0
    # With the title given, every line of the text may repeat it; else the first line is it.
    first_seen = doc_title is not None
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
                folded = fold_for_match(line)
                score = max(score, match_score(folded, hints))
                if folded in hints:
                    score += 0.25  # the document title's product part, exactly
            elif not first_seen and line.strip() == first_line.strip():
                first_seen = True
                score = min(score, 0.5)  # the first line itself
            if score >= 0.5:
                found.append((offset, score))
        offset += size + 1
    return found


_CRUMB_SPLIT_RE = re.compile(r"\s+[>›»]\s+")
_DOC_TITLE_RE = re.compile(r"\S\s+[-|–—:»·•]\s+\S|\S\s*[|｜]\s*\S")


def _title_of(
    text: str, titles: list[tuple[int, float]], doc_title: str | None = None
) -> str | None:
    """The product's name: the best title line (after the first one when the text's first
    line stands for the document title, "Name | Shop"); else the document title without the
    shop's part."""
    given = doc_title is not None
    best = max((t for t in titles if t[0] > 0 or given), key=lambda t: t[1], default=None)
    if best is not None:
        end = text.find("\n", best[0])
        line = " ".join(text[best[0] : end if end >= 0 else len(text)].split())
        # A breadcrumb trail ("All Games > Action Games > Blue Game") ends with the page's
        # own name.
        crumbs = _CRUMB_SPLIT_RE.split(line)
        if len(crumbs) > 1 and len(crumbs[-1].strip()) >= 3:
            line = crumbs[-1].strip()
        if 3 <= len(line) <= 300:
            return line
    first = " ".join(doc_title.split()) if doc_title is not None else _first_line(text).strip()
    if not _DOC_TITLE_RE.search(first) or find_prices(first, limit=1):
        return None  # not a document title ("Name | Shop"): maybe a price or a menu line
    pieces = title_hints(first)
    return pieces[1] if len(pieces) > 1 else None


def extract_from_text(
    text: str, *, url: str | None, locale: PageLocale | None, title: str | None = None
) -> dict[str, Guess]:
    """Price (with its currency mark), availability and labelled identifiers from plain text;
    ``title`` is the page's document title when it came with the text.

    Each current price is scored: being the first price after a line that looks like the
    product title counts most, being the last price before a buy button next; ties go to
    the earlier price. With neither clue, the first current price is taken (low confidence).
    """
    page = text_page(text)
    lower = page.lower
    guesses: dict[str, Guess] = {}
    title = title if title and title.strip() else None
    titles = _title_lines(lower, url, title)
    # A line far weaker than the best title line is another product's name sharing words
    # with it (a related item, another size of the same range): a price after it is not
    # the product's.
    best_title = max((score for _, score in titles), default=0.0)
    price_titles = [t for t in titles if t[1] >= best_title - TITLE_SCORE_MARGIN]
    carts = _cart_lines(lower)
    candidates = [c for c in price_candidates(page, locale) if not c.old]
    starts = [c.match.start for c in candidates]
    others = [m.start() for m in OTHER_PRODUCTS_HEADING_RE.finditer(lower)]
    best_score = 0.0
    chosen: PriceCandidate | None = None
    for i, cand in enumerate(candidates):
        previous = starts[i - 1] if i > 0 else -1
        following = starts[i + 1] if i + 1 < len(starts) else len(lower)
        score = 0.0
        title_scores = [
            t_score for t_offset, t_score in price_titles
            if previous < t_offset < cand.match.start <= t_offset + 1500
            and not any(t_offset < o < cand.match.start for o in others)
        ]  # fmt: skip
        if title_scores:
            score += 1.5 + max(title_scores)
        if cand.with_vat:
            score += 1.0  # "incl. VAT": the page says this is the price to pay
        if any(cand.match.end <= c < min(following, cand.match.end + 600) for c in carts):
            score += 2.0
        if score > best_score:
            best_score, chosen = score, cand
    confidence = 0.55
    if chosen is None and candidates:
        chosen, confidence = candidates[0], 0.35
    if chosen is not None:
        # The best title line before it, the first of equals (a bundle's name sharing its
        # words scores lower).
        slot_title = max(
            (t for t in price_titles if t[0] < chosen.match.start),
            key=lambda t: (t[1], -t[0]),
            default=None,
        )
        if slot_title is not None and free_slot(
            lower, slot_title[0], first_price_after(candidates, slot_title[0])
        ):
            chosen = None  # the product's slot says "Free": the amounts after it are others'
    if chosen is not None:
        chosen = sale_of_pair(page, chosen, candidates)
        guesses["price"] = Guess(chosen.match.amount, confidence, None, chosen.match.symbol)
    name = _title_of(page.text, titles, title)
    if name:
        guesses["title"] = Guess(name, 0.4)
    start = titles[0][0] if titles else 0
    end = min(len(lower), start + 20_000)
    oos = phrase_at(OUT_OF_STOCK_RE, lower, start, end, status=True)
    cart = next((c for c in carts if c >= start), None)
    ahead = order_ahead_term(lower, start, end)
    if ahead is not None:
        guesses["availability"] = Guess(ahead[0], 0.5)
    elif oos is not None and cart is None:
        guesses["availability"] = Guess("OutOfStock", 0.5)
    elif cart is not None:
        guesses["availability"] = Guess("InStock", 0.5)
    elif phrase_at(IN_STOCK_RE, lower, start, end, status=True) is not None:
        guesses["availability"] = Guess("InStock", 0.45)
    elif "price" in guesses and oos is None:
        # A current price and no out-of-stock message: the page offers the product for sale,
        # as the HTML path concludes too (low confidence: the LLM step is asked when set up).
        guesses["availability"] = Guess("InStock", 0.35)
    # Identifiers from the line above the product's title line on first (a mini-basket or a
    # recently viewed product higher up prints its own "SKU:"; a code line may sit right
    # above the title), then anywhere.
    title_line = min((t[0] for t in price_titles if t[0] > 0), default=None)
    above = page.text.rfind("\n", 0, max(0, title_line - 1)) + 1 if title_line else 0
    for name in ("sku", "gtin", "mpn", "brand"):
        if above:
            found = find_labelled(page, name, limit=1, from_offset=above)
            # Then above it, into the first lines scanned already: a label just above may
            # print its value under it.
            found = found or find_labelled(page, name, limit=1, to_offset=above + 200)
        else:
            found = find_labelled(page, name, limit=1)
        if found:
            guesses[name] = Guess(found[0].value, 0.5)
    if "sku" not in guesses and titles:
        title_offset = max(titles, key=lambda t: t[1])[0]
        value = hash_labelled_sku(page.text, title_offset)
        if value:
            guesses["sku"] = Guess(value, 0.45)
    return guesses
