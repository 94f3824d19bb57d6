"""Labelled identifiers and the brand ("SKU:", "Art.-Nr.", "EAN", "Marke:"...), and the
numeric id at the end of the page's address."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit

from extraction.heuristics.page_text import LABEL_SCAN_CHARS, Guess, PageText
from extraction.normalize import clean_identifier, normalize_gtin, phrase_pattern

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
    "art.nr", "artnr.", "art nr.", "style no.", "style no", "style code", "style #",
    "product ref", "商品コード", "商品番号", "製品番号", "κωδικός προϊόντος",
    "κωδικός", "מק\"ט", "mã sản phẩm", "kode produk", "รหัสสินค้า", "tootekood",
    "prekės kodas", "preces kods", "šifra proizvoda", "šifra", "код на продукта",
    "ref", "cod.", "cód.", "cod", "cód",
    # more catalogue and order numbers; short words that are labels only before a colon
    "réf", "cat. no.", "cat. no", "cat no.", "cat. #", "prod. no.", "prod. nr.", "prod. #",
    "bestellnr.", "bestellnr", "best.-nr.", "best.nr.", "best. nr.", "kat. číslo",
    "kat. č.", "asin", "web id", "item", "article", "style",
)  # fmt: skip
#: Labels that are ordinary words too: their value needs four digits, or a colon after them
#: ("Référence : demo_1", "Item: 12345"; not "Item 5 of 12").
_WEAK_SKU_LABELS = frozenset(
    {"ref.", "art.", "código", "reference", "référence", "ref", "cod.", "cód.", "cod", "cód",
     "κωδικός", "šifra", "réf", "item", "article", "style"}
)  # fmt: skip
#: Ordinary words that are labels only before a colon ("Item: 12345", "Style: BK-100"; not
#: "Save 5% on this item" with "$185.25" on the next line, nor "Article 2024 of the terms").
_COLON_SKU_LABELS = frozenset({"item", "article", "style"})
#: What such a word's value must look like to be a code: four digits, or capitals and at
#: least two digits ("Style: FD2722-002", "Item: BK-100"), not an attribute ("Style: 3/4
#: Sleeve", "Style: 5-Pocket", "Item: 2-Pack") nor a year ("Style: 2024 Collection").
_CODE_RE = re.compile(
    r"(?!(?:19|20)\d\d$)(?=(?:\D*\d){4})\S+|(?=(?:\D*\d){2})(?=[^A-Z]*[A-Z])[A-Z0-9][A-Z0-9./_-]{3,}"
)
#: Labels that name the shop's SKU itself: their value may be letters only ("SKU: BKBLUE").
_EXPLICIT_SKU_LABELS = frozenset({"sku"})
_LETTER_SKU_RE = re.compile(r"[A-Z][A-Z0-9]{2,}(?:[-_.][A-Z0-9]+)*")
_NOT_AN_ID = frozenset({"N/A", "NA", "NONE", "NULL", "TBD", "TBA", "UNKNOWN", "DEFAULT"})
_GTIN_LABELS = (
    "ean", "ean13", "ean-13", "ean code", "ean-code", "gtin", "gtin13", "gtin-13", "upc",
    "isbn", "isbn13", "isbn-13", "barcode", "kód ean", "código ean", "código de barras",
    "код ean", "штрихкод", "jan", "janコード", "jan code",
)  # fmt: skip
_MPN_LABELS = (
    "mpn", "manufacturer part number", "mfr part number", "mfr. part no.", "part number",
    "part no.", "model number", "model no.", "model nr.", "model #", "mfr #", "mfr. #",
    "mfg #", "manufacturer #", "herstellernummer", "hersteller-nr.",
    "herstellerartikelnummer", "hersteller-artikelnummer", "référence fabricant",
    "numéro de modèle", "型號", "型号", "型番", "모델명", "item model number",
    "mfr. part #", "mfr part #", "mfr. part no.", "mfg. part #", "part #", "hersteller-nr",
    "model", "modell", "modèle", "modelo", "modello", "model nr", "modellnummer",
    "numero di modello", "número de modelo", "typ", "typenbezeichnung",
)  # fmt: skip
#: Manufacturer's-number labels that are ordinary words too ("Model wears size M", "Typ
#: A"): a label only when a colon follows it.
_COLON_MPN_LABELS = frozenset({"model", "modell", "modèle", "modelo", "modello", "typ"})
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
#: Invisible format characters (left-to-right marks, zero-width spaces, BOMs) shops put
#: around a value in tables of details; they are no part of it.
_FORMAT_CHARS_RE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
#: A bracketed word right after a label qualifies it ("Product ID (ePID) 2703...",
#: "Item number (SKU): 100234").
_QUALIFIER_RE = re.compile(r"^[(\[]([^\W\d_][^()\[\]\d]{0,15})[)\]]\s*[:：#]?\s*(?=\S)")
#: A currency sign: an amount is no identifier ("$185.25", "12,99 €").
_CURRENCY_SIGN_RE = re.compile(r"[$€£¥₩₹₽₺₴₪₫₱฿¢]|\bkr\b|\bzł\b")


_MEASURE_RE = re.compile(r"\d+(?:[.,]\d+)?(?:mm|cm|m|kg|g|in|ft|lbs?|oz|ml|l)", re.I)
_LOWER_RE = re.compile(r"[^\W\d_A-Z]")


def _identifier_words(value: str) -> str:
    """The identifier at the start of a label's value: its first word, and the words after
    it while they hold no lower-case letter ("GARNI 570 EASY II"), so that what follows on
    the same line is left out ("12345 Category: Kettles", "BK-12 (Blue)", "BK-12, Size: M").
    More than four words are a sentence: its first word is the identifier. Once a word with
    a digit starts it, a word without one is not part of it ("100234 XL", "BK-12 BLACK", "12345
    NEW": a size, a colour, a badge)."""
    words = value.split()
    if not words:
        return value
    if len(words) > 4:
        return words[0]
    kept = [words[0]]
    for word in words[1:]:
        if kept[-1][-1] in ",;:" or word[0] in "([{（〈《「" or word[-1] in ":：":
            break
        if _LOWER_RE.search(word) and not word[0].isdigit() and word.upper() != word:
            break
        if not any(c.isdigit() for c in word) and any(c.isdigit() for c in kept[0]):
            break
        kept.append(word)
    return " ".join(kept)


def _clean_label_value(
    field_name: str, label: str, raw: str, *, colon: bool = False, same_line: bool = True
) -> str | None:
    """The identifier or brand a label introduces, or None. A weak label ("Ref.",
    "Référence") needs four digits in its value, or a colon after it ("Référence : demo_1").
    A value of letters only after "SKU" must be on the label's line: on a line of its own it
    is as likely the next heading of an empty field ("SKU:" then "DESCRIPTION")."""
    value = _FORMAT_CHARS_RE.sub("", raw).strip()
    qualifier = _QUALIFIER_RE.match(value) if field_name == "sku" else None
    if qualifier is not None:
        # The bracketed word renames the label: read on only when it names an SKU itself.
        if " ".join(qualifier.group(1).lower().split()) not in _SKU_LABELS:
            return None
        value = value[qualifier.end() :]
    first = value.split(maxsplit=1)[0] if value.split() else ""
    if len(first) > 1 and first[-1] in ":：" and not first[0].isdigit():
        return None  # the field is empty and the next label follows ("SKU:" then "UPC:")
    value = value.strip(":：#").strip()
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
    if field_name == "sku" and label in _COLON_SKU_LABELS and not colon:
        return None
    value = _identifier_words(value)
    if _CURRENCY_SIGN_RE.search(value):
        return None
    value = value.strip(_CLOSERS).lstrip("〈《（「『【([")
    if (
        field_name == "sku"
        and label in _EXPLICIT_SKU_LABELS
        and same_line
        and value not in _NOT_AN_ID
        and _LETTER_SKU_RE.fullmatch(value)
    ):
        return clean_identifier(value, max_length=40)
    if len(value) < 3 or len(value) > 40 or not re.search(r"\d", value):
        return None
    if field_name == "sku" and label in _COLON_SKU_LABELS and not _CODE_RE.fullmatch(value):
        return None  # "Style: 3/4 Sleeve", "Style: 5-Pocket", "Item: 2-Pack": an attribute
    if (
        field_name == "sku"
        and label in _WEAK_SKU_LABELS
        and not colon
        and len(re.findall(r"\d", value)) < 4
    ):
        return None
    if field_name == "mpn" and label in _COLON_MPN_LABELS and not colon:
        return None
    if _MEASURE_RE.fullmatch(value):  # "Model: 185cm"
        return None
    if re.fullmatch(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}", value):  # a date
        return None
    return clean_identifier(value, max_length=40)


def find_labelled(
    page: PageText,
    field_name: str,
    *,
    region: tuple[int, int] | None = None,
    limit: int = 3,
    from_offset: int = 0,
    to_offset: int | None = None,
) -> list[Guess]:
    """Values printed after a label ("SKU: 123", "EAN 400..."): in the product region first,
    then in the rest of the main text. With no region, between ``from_offset`` and
    ``to_offset``."""
    pattern = _LABEL_RES[field_name]
    text, lower = page.text, page.lower
    start, end = page.span(region)
    if region is None:
        start = min(max(0, from_offset), end)
        if to_offset is not None:
            end = max(start, min(end, to_offset))
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
            colon = (
                ":" in lower[match.end("label") : value_start]
                or "：" in lower[match.end("label") : value_start]
            )
            value = _clean_label_value(
                field_name,
                match.group("label"),
                text[value_start:value_end],
                colon=colon,
                same_line="\n" not in lower[match.end("label") : value_start],
            )
            if not value:
                continue
            found.append(Guess(value, 0.6, page.index_at(label_start)))
            if len(found) >= limit:
                return found
    return found


_URL_ID_RE = re.compile(r"(?:^|[-_/.,=])(?P<id>[A-Za-z]{0,2}\d{5,14})(?:\.[a-z]{2,5})?/?$")
_URL_SEGMENT_ID_RE = re.compile(r"/(\d{5,14})(?=/[^/])")
_ID_QUERY_KEYS = frozenset(
    {"sku", "pid", "productid", "product_id", "itemid", "item_id", "articleid", "article", "id"}
)


def url_identifier(url: str | None, page_source: str | None) -> str | None:
    """The product id that ends the page address (``...-112949990.html``, ``/itm/3024...``),
    is a whole segment of its path (``/listing/615442107/blue-mug``) or sits in an id
    parameter, when the page repeats it outside an address (in a form field, a data
    attribute, a script, the text)."""
    if not url or not page_source:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    candidates: list[str] = []
    path = unquote(parts.path)
    match = _URL_ID_RE.search(path)
    if match:
        candidates.append(match.group("id"))
    # An id as a whole segment inside the path ("/listing/615442107/blue-mug").
    candidates.extend(m.group(1) for m in _URL_SEGMENT_ID_RE.finditer(path))
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


def _address_id_match(url: str | None) -> re.Match[str] | None:
    """The id ending the page address (``_URL_ID_RE``), or None (no URL, a malformed one)."""
    if not url:
        return None
    try:
        path = unquote(urlsplit(url).path)
    except ValueError:
        return None
    return _URL_ID_RE.search(path)


def address_end_id(url: str | None) -> str | None:
    """The all-digit id (6 to 14 digits) that ends the page address (``.../562225800``,
    ``...-112949990.html``), unconfirmed: for plain text, where the page's markup cannot
    repeat it."""
    match = _address_id_match(url)
    if match is None or not re.fullmatch(r"\d{6,14}", match.group("id")):
        return None
    return match.group("id")


# A path segment naming a product page, in the words shop systems use in addresses.
_PRODUCT_SEGMENT_ID_RE = re.compile(
    r"/(?:listings?|products?|items?|itm|p|dp|ip|artikel|produkt|produit|produits|"
    r"producto|productos|prodotto|prodotti|produto|produtos|tovar|goods|deal)/(\d{6,14})(?=/|$)",
    re.IGNORECASE,
)


def address_product_id(url: str | None) -> str | None:
    """:func:`address_end_id`, or else the all-digit id that is the path segment right
    after one naming a product page (``/listing/615442107/blue-mug``), unconfirmed."""
    value = address_end_id(url)
    if value is not None or not url:
        return value
    try:
        path = unquote(urlsplit(url).path)
    except ValueError:
        return None
    match = _PRODUCT_SEGMENT_ID_RE.search(path)
    return match.group(1) if match else None


_SEPARATOR = r"[./ \-]?"


def printed_url_identifier(url: str | None, text: str | None) -> str | None:
    """The id that ends the page address as the page prints it for buyers, when it prints
    it with separators ("80402381" in the address, "804.023.81" on the page; "p07901312"
    and "7901/312"): the same digits, leading zeros aside, split by ".", "/", "-" or a space.

    Shops write an article number in groups for people and without them in addresses; the
    printed form is the one a buyer would search for or quote.
    """
    match = _address_id_match(url) if text else None
    if match is None or not text:
        return None
    digits = re.sub(r"\D", "", match.group("id")).lstrip("0")
    if len(digits) < 5:
        return None
    pattern = re.compile(r"(?<![\w./-])0*" + _SEPARATOR.join(digits) + r"(?![\w]|[./-]\d)")
    for found in pattern.finditer(text):
        value = found.group(0)
        if re.search(r"[./ -]", value):
            return value
    return None
