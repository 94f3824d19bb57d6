"""Heuristics over the visible page, for what the structured data does not give.

One module per step: :mod:`.page_text` (the walk), :mod:`.anchors` (title and buy button),
:mod:`.price`, :mod:`.currency` (what a shared sign means), :mod:`.availability`,
:mod:`.labels` (identifiers and brand), :mod:`.identifiers` (an SKU no label prints),
:mod:`.brand` (a brand no label prints) and :mod:`.plain_text` (the same rules on plain
text). The names below are the package's API.

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
      old/was/compare/strike/regular/original/list/rrp/msrp/uvp, after words like "was",
      "instead of", "statt", "UVP", "avant", "prima", "PVP", "Ord. pris", "Vejl. pris",
      "原價", between "van ... voor" (nl) or "de ... por" (pt), or after the EU's "lowest
      price of the last 30 days" in its languages (a "was" price is only taken when
      nothing else is there), also when the label is a short line of its own above the
      amount; a label of the price to pay after it ("Regular price Sale price $40") ends it,
      and an amount followed at once by itself labelled "was" (a struck price spoken again
      for screen readers) is the former price;
    * a per-unit price (``/kg``, ``per 100 g``, ``/l``, ``€/m²``) or a tariff (``/min``,
      ``per day``);
    * a price "excl. VAT" ("zzgl. MwSt", "HT", "sin IVA", "excl. btw", "税抜", "未稅") when
      the page also shows one with VAT or an unmarked one: the buyer pays the VAT-inclusive
      price (an ex-VAT price alone is still taken); "incl. VAT" marks the price to pay;
    * a threshold ("free delivery on orders of 50 € or more"), an auction's estimate or
      starting bid ("Estimate", "Schätzpreis", "mise à prix", "starting bid"): an auction
      page with nothing else has no price (a current bid or a buy-it-now price is taken);
    * a number written with a leading zero ("05 TOP" in a name);
    * an instalment (``4 x``, ``/mo``, "per month", "monatlich", "每期", "4 interest-free
      payments of");
    * a shipping cost or free-shipping threshold ("shipping", "Versand", "livraison", "運費");
    * an offer in another condition ("Used for $...", "Refurbished from", "Gebraucht ab");
    * a saving or a discount ("you save", "sparen", "économisez", ``-20 %``, ``-€5``; a
      dash between words and the amount, "Add to cart - $40", is a separator);
    * what is left to spend for free shipping ("$25 more for free shipping");
    * an amount the words right after it (on its line) name a discount, a shipping cost, a
      deposit or a rebate ("$5.00 off", "4,95 € Versand", "10,00 € gespart");
    * in a related-products carousel, the header, navigation, footer or mini cart (a block
      whose class says "listing" or "slider" but that holds the product's title is the
      product's own, not a carousel), or after a heading of other products ("You may also
      like", "Pairs well with", "Passend dazu"...) that follows the title.

    With no title, the nearest price before the buy button is taken; with neither, the first
    price in an element whose class or itemprop says "price". Two prices side by side are a
    sale price and its original (the lower one is taken) unless either is labelled (a "was"
    or an ex-VAT price); three or more in a row are a list (a gift card's amounts), not a
    pair. Tax words belong to the nearest amount: "£40.00 £33.33 ex VAT" says nothing of
    the £40.00. A number before a currency sign glued to another
    amount is not an amount ("4.8 $40.00": the rating, then the price). A range ("10,00 - 14,50 €")
    gives its low end and "from 10 €" is taken as written: the price from which the product
    is sold, as a JSON-LD AggregateOffer's lowPrice. When the visible page has no price, the
    page's inline script state is read (:mod:`.script_state`, low confidence).

    In plain text, a price after an other-products heading ("Similar products", "Ähnliche
    Produkte", "関連商品"...) does not count as following the title, nor does one after a
    line matching the title far less well than the best title line does (a related item,
    another size of the same range), and an "incl. VAT" price scores higher.

Availability
    An enabled add-to-cart/buy button (matched by its text in many languages, or by its
    class, id, name or form action; not one in a carousel of other products) means in stock;
    an out-of-stock message in the product region ("out of stock", "sold out", "ausverkauft",
    "épuisé", "agotado", "esaurito", "品切れ", "품절"...) on a status line (not in running
    prose, nor after a mention of the shop's stores: "In-store pickup: unavailable") and no
    enabled button means out of stock; "pre-order" and "available from
    <date>"/back-order messages give PreOrder/BackOrder. A back-in-stock sign-up on a status
    line ("Notify me when it's back", not hidden by class) means out of stock whatever
    button the markup still carries, and a button wrapper is as enabled as the button
    inside it. The phrases are in :mod:`buyhive.product.availability`.

Identifiers and brand
    Labelled text: "SKU", "Article no.", "Art.-Nr.", "Item number", "Product code",
    "Référence", "Codice articolo", "Kód produktu", "商品編號", "商品コード", "Κωδικός",
    "Mã sản phẩm"... -> sku (a value with a digit; after "SKU" itself, a code in capitals
    may have none: "SKU: KETTLE-BLUE"); "EAN", "GTIN", "ISBN", "UPC", "JAN" -> gtin (check
    digit verified); "MPN", "Model number", "Part number", "Mfr #" -> mpn; "Brand:",
    "Marke:", "Marque :", "Výrobca:"... -> brand; with no label, the element beside the
    title that the theme names for the brand ("product__vendor", "pdp-brand") or a link there
    to a brand's page ("/brands/casio"), outside the site's menus and other products' cards
    (:mod:`.brand`). The article number that ends the page's
    address, as the page prints it in groups ("804.023.81", "7901/312"), is the
    sku when the markup has none or has one shown nowhere; then a ``#`` label under the
    title ("Item #A12-345"), the numeric id that ends the address or is a whole segment of
    its path when the page repeats it (in plain text, unconfirmed, when it ends the address
    or follows a segment naming a product page: ``/listing/615442107/...``), the
    add-to-cart form's ``data-sku``/product id, and last the first ``"sku"`` of the page's
    inline scripts (:mod:`.identifiers`).

No rule names a shop: they describe how shops in general lay out a product page.
"""

from __future__ import annotations

from extraction.heuristics.anchors import (
    Anchor,
    Button,
    find_buy_buttons,
    find_title_anchor,
    title_hints,
)
from extraction.heuristics.availability import detect_availability, has_out_of_stock_message
from extraction.heuristics.brand import marked_brand
from extraction.heuristics.currency import currency_of_sign
from extraction.heuristics.identifiers import (
    buy_form_sku,
    hash_labelled_sku,
    marked_sku,
    script_sku,
)
from extraction.heuristics.labels import (
    address_end_id,
    address_product_id,
    find_labelled,
    printed_url_identifier,
    url_identifier,
)
from extraction.heuristics.page_text import (
    Guess,
    PageText,
    build_page_text,
    place_streamed_segments,
    text_page,
)
from extraction.heuristics.plain_text import extract_from_text
from extraction.heuristics.price import pick_price
from extraction.heuristics.script_state import price_from_scripts

__all__ = [
    "Anchor",
    "Button",
    "Guess",
    "PageText",
    "address_end_id",
    "address_product_id",
    "build_page_text",
    "buy_form_sku",
    "currency_of_sign",
    "detect_availability",
    "extract_from_text",
    "find_buy_buttons",
    "find_labelled",
    "find_title_anchor",
    "has_out_of_stock_message",
    "hash_labelled_sku",
    "marked_brand",
    "marked_sku",
    "pick_price",
    "place_streamed_segments",
    "price_from_scripts",
    "printed_url_identifier",
    "script_sku",
    "text_page",
    "title_hints",
    "url_identifier",
]
