"""Rules written to hold on shops never seen (issue 17): each with a small page written here.

No page of the data sets is copied: the pages below describe how shops in general lay out a
product page, in several languages.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from extraction.deterministic import extract_deterministic
from extraction.heuristics import (
    PageText,
    build_page_text,
    detect_availability,
    find_buy_buttons,
    place_streamed_segments,
)


def page_of(html: str, *hints: str) -> tuple[Any, PageText]:
    tree = etree.fromstring(html, etree.HTMLParser())
    return tree, build_page_text(tree, title_hints=list(hints))


def product_of(body: str, url: str = "https://shop.example/p/blue-kettle", **head: str) -> Any:
    """The extractor's product for a page with this body (and optional ``lang``)."""
    lang = head.get("lang", "en-GB")
    head_html = "<head><title>Blue Kettle | Shop</title></head>"
    html = f"<html lang='{lang}'>{head_html}<body>{body}</body></html>"
    return extract_deterministic(url=url, html=html).to_dict()["product"]


def text_product_of(text: str, url: str = "https://shop.example/p/blue-kettle") -> Any:
    return extract_deterministic(url=url, text=text).to_dict()["product"]


# --- the page itself ------------------------------------------------------------------------


def test_a_main_section_whose_class_mentions_cookies_is_still_read() -> None:
    _, page = page_of(
        "<html><body><section class='main product-card with-cookie-info'>"
        "<h1>Blue Kettle</h1><p>£24.99</p></section>"
        "<div class='cookie-banner'><p>We use cookies</p></div></body></html>",
        "Blue Kettle",
    )
    assert "Blue Kettle" in page.text and "£24.99" in page.text
    assert "We use cookies" not in page.text


def test_buy_buttons_of_other_products_in_a_carousel_do_not_make_it_in_stock() -> None:
    body = (
        "<main><h1>Blue Kettle</h1><p>£24.99</p><p>Currently unavailable online</p>"
        "<div class='rec-carousel'><div class='slide'><a>Red Kettle</a><p>£19.99</p>"
        "<button class='add-to-cart'>Add to cart</button></div></div></main>"
    )
    _, page = page_of(f"<html><body>{body}</body></html>", "Blue Kettle")
    buttons = find_buy_buttons(page)
    assert buttons == []
    guess = detect_availability(page, buttons=buttons, region=None)
    assert guess is not None and guess.value == "OutOfStock"
    assert product_of(body)["availability"] == "OutOfStock"


# --- availability ---------------------------------------------------------------------------


def availability_of(body: str) -> str | None:
    _, page = page_of(f"<html><body>{body}</body></html>")
    guess = detect_availability(page, buttons=find_buy_buttons(page), region=None)
    return guess.value if guess else None


@pytest.mark.parametrize(
    "message",
    ["Derzeit nicht verfügbar", "En rupture", "Sin existencias", "Sem estoque",
     "Tijdelijk uitverkocht", "Chwilowo niedostępny", "Ej i lager", "Ikke på lager", "在庫なし",
     "Notify me when available", "Discontinued"],
)  # fmt: skip
def test_out_of_stock_words_in_the_languages_shops_use(message: str) -> None:
    assert availability_of(f"<h1>Kettle</h1><p>{message}</p>") == "OutOfStock"


@pytest.mark.parametrize(
    ("message", "term"),
    [("Pre-order now", "PreOrder"), ("Vorbestellen", "PreOrder"), ("Précommande", "PreOrder"),
     ("予約受付中", "PreOrder"), ("Available from 12 March", "BackOrder"),
     ("Lieferbar ab 3. Mai", "BackOrder"), ("Disponible à partir du 2 mai", "BackOrder"),
     ("On back order", "BackOrder")],
)  # fmt: skip
def test_pre_order_and_back_order_are_orderable(message: str, term: str) -> None:
    assert availability_of(f"<h1>Kettle</h1><p>{message}</p>") == term
    # Next to an out-of-stock word, the order-ahead message says what the buyer can do.
    assert availability_of(f"<h1>Kettle</h1><p>Out of stock</p><p>{message}</p>") == term
    assert product_of(f"<h1>Blue Kettle</h1><p>£5.00</p><p>{message}</p>")["availability"] == (term)


def test_a_stock_word_inside_a_sentence_is_not_the_products_stock() -> None:
    prose = (
        "<p>The check of the stock in our stores is temporarily unavailable for this region;"
        " please try again later or ask the shop.</p>"
    )
    assert availability_of(f"<h1>Kettle</h1>{prose}") is None
    assert availability_of("<h1>Kettle</h1><p>Temporarily unavailable</p>") == "OutOfStock"
    text = "Blue Kettle\n£24.99\nAdd\n" + prose[3:-4] + "\n"
    assert text_product_of(text)["availability"] == "InStock"


@pytest.mark.parametrize(
    "store_line",
    ["The “Check in-store availability” option is temporarily unavailable.",
     "Click & Collect: out of stock", "Abholung im Markt: nicht verfügbar",
     "w sklepie Produkt niedostępny", "Retrait en magasin indisponible"],
)  # fmt: skip
def test_a_stock_word_about_the_shops_stores_is_not_the_products_stock(store_line: str) -> None:
    text = f"Blue Kettle\n£24.99\nChoose a size\n{store_line}\nDelivery and returns\n"
    assert text_product_of(text)["availability"] == "InStock"
    body = f"<h1>Blue Kettle</h1><p>£24.99</p><p>{store_line}</p>"
    assert product_of(body)["availability"] == "InStock"
    # Sold out online, with the stores named after it: still sold out.
    text = "Blue Kettle\n£24.99\nSold out online - try our stores\n"
    assert text_product_of(text)["availability"] == "OutOfStock"


def test_text_with_a_price_and_no_stock_message_is_in_stock_with_low_confidence() -> None:
    result = extract_deterministic(
        url="https://shop.example/p/blue-kettle", text="Blue Kettle\n£24.99\nA fine kettle.\n"
    )
    assert result.to_dict()["product"]["availability"] == "InStock"
    assert result.confidence("availability") < 0.5
    assert text_product_of("Blue Kettle\n£24.99\nSold out\n")["availability"] == "OutOfStock"


@pytest.mark.parametrize(
    "button", ["In winkelmand", "Přidat do košíku", "Adicionar à sacola", "Tambah ke troli",
               "Προσθήκη στο καλάθι"],
)  # fmt: skip
def test_buy_buttons_in_more_languages_make_it_in_stock(button: str) -> None:
    # A "sold out" word further down (another size) does not outweigh an enabled button.
    body = f"<h1>Blue Kettle</h1><p>€40,00</p><button>{button}</button><p>XL: Sold out</p>"
    assert product_of(body)["availability"] == "InStock"


# --- the price to pay -----------------------------------------------------------------------


def price_of(body: str, lang: str = "en-GB") -> Decimal | None:
    value = product_of(body, lang=lang)["price"]
    return None if value is None else Decimal(value)


@pytest.mark.parametrize(
    ("lang", "without", "with_vat"),
    [("en-GB", "£100.00 excl. VAT", "£120.00 incl. VAT"),
     ("de-DE", "100,00 € zzgl. MwSt.", "119,00 € inkl. MwSt."),
     ("fr-FR", "100,00 € HT", "120,00 € TTC"),
     ("es-ES", "100,00 € sin IVA", "121,00 € IVA incluido"),
     ("nl-NL", "€ 100,00 excl. btw", "€ 121,00 incl. btw")],
)  # fmt: skip
def test_the_price_with_vat_is_the_price_to_pay(lang: str, without: str, with_vat: str) -> None:
    expected = Decimal(re.sub(r"[^\d,.]", "", with_vat.split()[0] + with_vat.split()[1])
                       .replace(",", ".").strip("."))  # fmt: skip
    # Whichever comes first, and with the tax word before the amount too.
    assert price_of(f"<h1>Blue Kettle</h1><p>{without}</p><p>{with_vat}</p>", lang) == expected
    assert price_of(f"<h1>Blue Kettle</h1><p>{with_vat}</p><p>{without}</p>", lang) == expected
    text = f"Blue Kettle\n{without}\n{with_vat}\nAdd to basket\n"
    assert Decimal(text_product_of(text)["price"]) == expected


@pytest.mark.parametrize(
    ("lang", "without", "with_vat"),
    [("en-GB", "£100.00 +VAT", "£120.00"), ("fr-BE", "100,00 € HTVA", "121,00 € TVAC"),
     ("es-ES", "100,00 € + IVA", "121,00 €"),
     ("it-IT", "100,00 € IVA esclusa", "122,00 € IVA compresa"),
     ("pt-PT", "100,00 € s/ IVA", "123,00 € c/ IVA"), ("hu-HU", "100 Ft + ÁFA", "127 Ft"),
     ("hu-HU", "Nettó ár: 100 Ft", "Bruttó ár: 127 Ft"),
     ("ro-RO", "100,00 lei fără TVA", "119,00 lei cu TVA"),
     ("nb-NO", "100 kr eks. mva", "125 kr inkl. mva"),
     ("fi-FI", "100,00 € (veroton)", "124,00 € (sis. ALV 24%)"),
     ("fi-FI", "100,00 € alv 0 %", "124,00 € sis. alv"),
     ("el-GR", "100,00 € χωρίς ΦΠΑ", "124,00 € με ΦΠΑ"),
     ("hr-HR", "100,00 € bez PDV-a", "125,00 € s PDV-om"),
     ("sl-SI", "100,00 € brez DDV", "122,00 € z DDV"),
     ("bg-BG", "100,00 лв. без ДДС", "120,00 лв. с ДДС"),
     ("lt-LT", "100,00 € be PVM", "121,00 € su PVM"),
     ("lv-LV", "100,00 € bez PVN", "121,00 € ar PVN"),
     ("et-EE", "100,00 € km-ta", "122,00 € km-ga"),
     ("tr-TR", "100,00 TL + KDV", "120,00 TL KDV dahil"),
     ("en-IN", "₹100 + GST", "₹118 incl. GST")],
)  # fmt: skip
def test_tax_words_of_more_languages(lang: str, without: str, with_vat: str) -> None:
    expected = Decimal(re.search(r"\d+", with_vat).group(0))  # type: ignore[union-attr]
    for lines in ((without, with_vat), (with_vat, without)):
        body = "<h1>Blue Kettle</h1>" + "".join(f"<div>{x}</div>" for x in lines)
        assert Decimal(int(price_of(body + "<button>Buy</button>", lang) or 0)) == expected
        text = "Blue Kettle | Shop\nBlue Kettle\n" + "\n".join(lines) + "\nAdd to cart\n"
        assert Decimal(int(Decimal(text_product_of(text)["price"]))) == expected


def test_an_ex_vat_price_alone_is_still_taken() -> None:
    assert price_of("<h1>Blue Kettle</h1><p>£100.00 excl. VAT</p>") == Decimal("100.00")


@pytest.mark.parametrize(
    "noise",
    ["Free delivery on orders of £50.00 or more", "Lieferung frei ab 50,00 € oder mehr",
     "Estimate: £800 - £1,200", "Starting bid: £1.00", "Schätzpreis: 800 €",
     "Calls cost £0.45/min", "Hire: £12.00 per day", "Reference 05 TOP"],
)  # fmt: skip
def test_thresholds_estimates_starting_bids_and_tariffs_are_not_the_price(noise: str) -> None:
    assert price_of(f"<h1>Blue Kettle</h1><p>{noise}</p><p>£24.99</p>") == Decimal("24.99")


def test_an_auction_page_with_only_an_estimate_has_no_price() -> None:
    assert price_of("<h1>Blue Kettle</h1><p>Estimate: £800 - £1,200</p>") is None
    # A current bid is what the buyer would pay now: it is taken.
    body = "<h1>Blue Kettle</h1><p>Estimate: £800 - £1,200</p><p>Current bid: £650.00</p>"
    assert price_of(body) == Decimal("650.00")


def test_a_range_gives_its_low_end() -> None:
    assert price_of("<h1>Blue Kettle</h1><p>24,50 - 31,00 zł</p>", "pl-PL") == Decimal("24.50")
    assert price_of("<h1>Blue Kettle</h1><p>1.024,50 – 1.310,00 €</p>", "de-DE") == Decimal(
        "1024.50"
    )
    assert price_of("<h1>Blue Kettle</h1><p>From £19.99</p>") == Decimal("19.99")


def test_text_prices_after_an_other_products_heading_are_not_the_products() -> None:
    text = (
        "Blue Kettle 1.7 litre\nSimilar products\nRed Kettle\n£9.99\nBlue Kettle 1.7 litre\n"
        "£24.99\nAdd to basket\n"
    )
    url = "https://shop.example/p/blue-kettle-1-7-litre"
    assert Decimal(text_product_of(text, url)["price"]) == Decimal("24.99")


def test_text_prices_after_a_weak_match_of_the_title_are_another_products() -> None:
    # Other sizes of the same range, each with its own button, share most of the title's
    # words; the product's own price follows the title line itself, with no button near.
    text = (
        "Wool Panel Navy 60 x 30 cm | Shop\nHome\nWool Panel Navy 60 x 30 cm\nSize\n"
        "Wool Panel Navy 60 x 30 cm\n£32.00\nMore in this range\n"
        "Wool Panel Grey 30 x 30 cm\n£25.99\nAdd to basket\n"
        "Wool Panel Beige 90 x 15 cm\n£34.99\nAdd to basket\n"
    )
    url = "https://shop.example/p/wool-panel-navy-60-x-30-cm"
    assert text_product_of(text, url)["price"] == "32.00"


# --- identifiers ----------------------------------------------------------------------------


def test_the_address_article_number_as_the_page_prints_it() -> None:
    from extraction.heuristics import printed_url_identifier

    url = "https://shop.example/p/oak-table-30129377/"
    assert printed_url_identifier(url, "Oak table\n301.293.77\n£99") == "301.293.77"
    assert printed_url_identifier("https://shop.example/t-shirt-p04402310.html", "Red - 4402/310")
    assert printed_url_identifier(url, "Oak table 30129377") is None  # printed as in the URL
    assert printed_url_identifier(url, "Call 301.293.771") is None  # a longer number
    assert printed_url_identifier("https://shop.example/p/oak-table", "301.293.77") is None


def test_in_plain_text_the_printed_address_id_beats_a_labelled_number_further_down() -> None:
    url = "https://shop.example/p/oak-table-30129377/"
    text = (
        "Oak table | Shop\nOak table\n301.293.77\n£99.00\nAdd to basket\nPackages\n"
        "Oak table top Article no.: 501.100.20\n"
    )
    assert text_product_of(text, url=url)["sku"] == "301.293.77"
    # Without the address's id printed, the label gives it.
    assert text_product_of(text.replace("301.293.77\n", ""), url=url)["sku"] == "501.100.20"


def test_a_printed_article_number_beats_a_hidden_markup_sku_and_fills_a_missing_one() -> None:
    ld = (
        '<script type="application/ld+json">{"@type": "Product", "name": "Blue Kettle",'
        ' "sku": "88811122-100-7", "offers": {"price": "24.99", "priceCurrency": "GBP"}}'
        "</script>"
    )
    url = "https://shop.example/p/blue-kettle-40230190"
    body = "<h1>Blue Kettle</h1><p>£24.99</p><p>Blue - 402.301.90</p>"
    assert product_of(ld + body, url=url)["sku"] == "402.301.90"
    assert product_of(body, url=url)["sku"] == "402.301.90"
    # A markup SKU the page shows stays.
    shown = ld.replace("88811122-100-7", "BK-17") + body + "<p>BK-17</p>"
    assert product_of(shown, url=url)["sku"] == "BK-17"
    assert text_product_of("Blue Kettle\n£24.99\nArt. 402.301.90\n", url)["sku"] == "402.301.90"


# --- several offers -------------------------------------------------------------------------


_OFFERS = (
    '<script type="application/ld+json">{"@type": "Product", "name": "Blue Kettle",'
    ' "offers": ['
    '{"@type": "Offer", "price": "20.00", "priceCurrency": "GBP", "sku": "BK-S",'
    ' "url": "https://shop.example/p/blue-kettle?variant=111"},'
    '{"@type": "Offer", "price": "30.00", "priceCurrency": "GBP", "sku": "BK-L",'
    ' "url": "https://shop.example/p/blue-kettle?variant=222"}]}</script>'
    "<h1>Blue Kettle</h1>"
)


def test_the_offer_of_the_variant_the_address_selects() -> None:
    base = "https://shop.example/p/blue-kettle"
    assert product_of(_OFFERS, url=f"{base}?variant=222")["price"] == "30.00"
    assert product_of(_OFFERS, url=f"{base}?variant=111&utm_source=x")["price"] == "20.00"
    assert product_of(_OFFERS, url=f"{base}?sku=BK-L")["price"] == "30.00"
    # No variant in the address: the first offer, the one shops show first.
    assert product_of(_OFFERS, url=base)["price"] == "20.00"
    assert product_of(_OFFERS, url=f"{base}?variant=999")["price"] == "20.00"


# --- a price only scripts show --------------------------------------------------------------


def test_a_price_only_the_page_state_holds_is_taken_with_low_confidence() -> None:
    state = (
        '<script>window.__STATE__ = {"product": {"name": "Blue Kettle",'
        ' "salePrice": 24.99, "listPrice": 30.00, "currency": "GBP"}};</script>'
    )
    html = f"<html><body><h1>Blue Kettle</h1><div id='app'></div>{state}</body></html>"
    result = extract_deterministic(url="https://shop.example/p/blue-kettle", html=html)
    product = result.to_dict()["product"]
    assert (Decimal(product["price"]), product["currency"]) == (Decimal("24.99"), "GBP")
    assert result.confidence("price") < 0.5


def test_a_script_price_takes_the_sign_the_page_prints_with_the_same_amount() -> None:
    state = '<script>var s = {"product": {"name": "Blue Kettle", "price": 1024.5}};</script>'
    # The mini-basket's amount is no price of the product's, but it shows the page's sign.
    basket = "<div class='minicart'><p>Subtotal A$1,024.50</p></div>"
    html = f"<html lang='en'><body><h1>Blue Kettle</h1><div id='app'></div>{basket}{state}"
    result = extract_deterministic(url="https://shop.example/p/blue-kettle", html=html)
    product = result.to_dict()["product"]
    assert (product["price"], product["currency"]) == ("1024.50", "AUD")
    assert result.confidence("price") < 0.5  # the script's price, not the basket's


def test_one_stray_number_in_a_script_is_not_a_price() -> None:
    state = '<script>var cfg = {"price": 4.95, "shippingPrice": 3.5};</script>'
    html = f"<html><body><h1>Blue Kettle</h1>{state}</body></html>"
    assert (
        extract_deterministic(url="https://shop.example/p/k", html=html).to_dict()["product"][
            "price"
        ]
        is None
    )
    # The visible price wins over any script.
    html = f"<html><body><h1>Blue Kettle</h1><p>£19.99</p>{state}{state}</body></html>"
    product = extract_deterministic(url="https://shop.example/p/k", html=html).to_dict()["product"]
    assert Decimal(product["price"]) == Decimal("19.99")


def test_a_price_written_once_in_the_products_own_state_object_is_taken() -> None:
    def state_price(state: str) -> str | None:
        html = (
            "<html><head><title>Blue Kettle | Shop</title></head><body><h1>Blue Kettle</h1>"
            f"<div id='app'></div><script type='application/json'>{state}</script></body></html>"
        )
        product = extract_deterministic(url="https://shop.example/p/k", html=html)
        return product.to_dict()["product"]["price"]

    # Once, beside the product's own name, as a number or inside an object.
    assert state_price('{"product": {"name": "Blue Kettle", "price": 24.99}}') == "24.99"
    assert state_price('{"item": {"title": "Blue Kettle", "price": {"value": 24.99}}}') == ("24.99")
    # Once, beside another product's name: nothing.
    assert state_price('{"related": [{"name": "Red Kettle", "price": 19.99}]}') is None


def test_text_only_gives_the_title_line() -> None:
    text = "Blue Kettle 1.7 litre | Shop\nMenu\nBlue Kettle 1.7 litre\n£24.99\nAdd to basket\n"
    url = "https://shop.example/p/blue-kettle-1-7-litre"
    assert text_product_of(text, url)["title"] == "Blue Kettle 1.7 litre"
    # No line repeats the first one: the first line without the shop's part.
    assert text_product_of("Red Kettle | Shop\n£9.99\n", "https://shop.example/x")["title"] == (
        "Red Kettle"
    )
    # A first line that is not a document title gives no title.
    assert text_product_of("Price 12.00 EUR\n", "https://shop.example/x")["title"] is None


# --- the product's own block ----------------------------------------------------------------


def test_an_h1_whose_words_the_document_title_spells_out_with_more_is_the_title() -> None:
    # The document title adds words in the middle of the name; a list item of the
    # description repeats the longer name without the brand.
    html = (
        "<html><head><title>Acme K-2 Classic Cordless Electric Kettle – Kettles.example</title>"
        "</head><body><h1>Acme K-2 Classic Kettle</h1><p>$79.00</p>"
        "<button>Add to cart</button><h5>What's included?</h5><ul>"
        "<li><span>K-2 Classic cordless electric kettle</span></li><li>Base</li></ul>"
        "</body></html>"
    )
    product = extract_deterministic(url="https://kettles.example/p/k2", html=html).to_dict()
    assert product["product"]["title"] == "Acme K-2 Classic Kettle"
    # Fewer than 60 % of the title's words, or out of order: not the product's name.
    for h1 in ("Acme Kettle", "Kettle Classic Acme K-2"):
        page = html.replace("Acme K-2 Classic Kettle", h1)
        got = extract_deterministic(url="https://kettles.example/p/k2", html=page).to_dict()
        title = got["product"]["title"]
        assert title != h1, h1


def test_a_block_holding_the_title_is_the_products_own_whatever_its_class_says() -> None:
    # "listing" and "slider" are words of product grids and carousels, but a block holding the
    # product's title is the product's own: its price and buy button count.
    body = (
        "<div class='listing-page-buybox'><p>Price: USD 42.00</p><h1>Blue Kettle</h1>"
        "<button class='add-to-cart'>Add to cart</button></div>"
        "<div class='similar-listings'><a>Red Kettle</a><p>USD 19.00</p>"
        "<button class='add-to-cart'>Add to cart</button></div>"
    )
    product = product_of(body)
    assert product["price"] == "42.00" and product["currency"] == "USD"
    assert product["availability"] == "InStock"
    # Without the title inside it, the same block is another product's.
    other = product_of(
        "<h1>Blue Kettle</h1><p>Sold out</p>"
        "<div class='listing-page-buybox'><p>Price: USD 42.00</p>"
        "<button class='add-to-cart'>Add to cart</button></div>"
    )
    assert other["price"] is None and other["availability"] == "OutOfStock"


def test_a_product_block_shipped_hidden_for_scripts_to_reveal_is_read() -> None:
    body = (
        "<div class='deferred' style='display: none'><h1>Blue Kettle</h1><p>€24.99</p>"
        "<ul><li>Product code: <span>BK-20417</span></li></ul></div>"
        "<div style='display:none'><p>Sign up and get €5.00 off</p></div>"
    )
    product = product_of(body)
    assert product["title"] == "Blue Kettle"
    assert product["price"] == "24.99" and product["sku"] == "BK-20417"
    _, page = page_of(f"<html><body>{body}</body></html>", "Blue Kettle")
    assert "Sign up" not in page.text  # a hidden block without the title stays hidden


def test_blocks_a_streamed_page_sends_late_are_read_where_its_script_puts_them() -> None:
    body = (
        "<main><h1>Blue Kettle</h1><div><template id='B:0'></template><p>Loading</p></div>"
        "<button>Add to cart</button><h2>You may also like</h2><p>Red Kettle £9.99</p></main>"
        "<div hidden id='S:0'><p>£24.99</p><p>SKU: BK-20417</p></div>"
        "<div hidden id='S:9'><p>Sign up and get £5.00 off</p></div>"
    )
    product = product_of(body)
    assert (product["price"], product["sku"]) == ("24.99", "BK-20417")
    tree, page = page_of(f"<html><body>{body}</body></html>", "Blue Kettle")
    assert "£24.99" not in page.text  # as served, the segment is hidden
    assert place_streamed_segments(tree) == 1
    page = build_page_text(tree, title_hints=["Blue Kettle"])
    assert page.text.index("£24.99") < page.text.index("Add to cart")
    assert "Sign up" not in page.text  # a hidden block with no placeholder stays hidden


# --- identifiers no label names -------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "label"),
    [("es-ES", "Ref: 100234"), ("sv-SE", "Art.nr: 100234"), ("it-IT", "Cod. 100234"),
     ("pt-BR", "Cód.: 100234"), ("ja-JP", "商品コード：100234"), ("en-US", "Style No. 100234"),
     ("el-GR", "Κωδικός προϊόντος: 100234"), ("vi-VN", "Mã sản phẩm: 100234"),
     ("et-EE", "Tootekood: 100234"), ("hr-HR", "Šifra proizvoda: 100234")],
)  # fmt: skip
def test_article_number_labels_in_the_languages_shops_use(lang: str, label: str) -> None:
    body = f"<h1>Blue Kettle</h1><p>€40.00</p><p>{label}</p><button>Add to cart</button>"
    assert product_of(body, lang=lang)["sku"] == "100234"
    assert text_product_of(f"Blue Kettle\n€40.00\n{label}\n")["sku"] == "100234"


def test_an_sku_label_may_hold_letters_only_other_labels_need_a_digit() -> None:
    body = "<h1>Blue Kettle</h1><p>$40.00</p><p>SKU: KETTLE-BLUE</p><button>Add to cart</button>"
    assert product_of(body)["sku"] == "KETTLE-BLUE"
    for label in ("SKU: N/A", "SKU: Select a size", "Ref: ABCD", "Cod. 12", "Ref. A12"):
        body = f"<h1>Blue Kettle</h1><p>$40.00</p><p>{label}</p><button>Add to cart</button>"
        assert product_of(body)["sku"] is None, label
    # A short label followed by a colon is a label: its value needs one digit, not four.
    body = "<h1>Blue Kettle</h1><p>40,00 €</p><p>Référence : demo_1</p><button>Ajouter</button>"
    assert product_of(body, lang="fr-FR")["sku"] == "demo_1"


@pytest.mark.parametrize(
    ("line", "sku"),
    [("SKU: 100234 Category: Kettles", "100234"),
     ("SKU: BK-100234 Categories: Kettles, Home", "BK-100234"),
     ("SKU: 100234 (Blue)", "100234"), ("SKU: 100234, Size: M", "100234"),
     ("SKU: 100234 Availability: In stock", "100234"),
     ("Product code: TK 40 PRO XL", "TK 40 PRO XL"),
     # a size, a colour or a badge after a number is not part of it
     ("SKU: 100234 XL", "100234"), ("Art.-Nr.: BK-100234 SCHWARZ", "BK-100234"),
     ("Item code: 100234 NEW", "100234"), ("SKU: 100 234 XL", "100 234")],
)  # fmt: skip
def test_a_labelled_value_ends_where_the_next_label_or_words_start(line: str, sku: str) -> None:
    body = f"<h1>Blue Kettle</h1><p>£24.99</p><p>{line}</p><button>Add to basket</button>"
    assert product_of(body)["sku"] == sku
    assert text_product_of(f"Blue Kettle | Shop\nBlue Kettle\n£24.99\n{line}\n")["sku"] == sku


@pytest.mark.parametrize(
    ("lang", "label"),
    [("en-US", "Item: 100234"), ("en-US", "Cat. No. 100234"), ("en-US", "Prod. No. 100234"),
     ("en-US", "Article: 100234"), ("en-US", "Web ID: 100234"), ("en-US", "Style: BK-100234"),
     ("de-DE", "Bestellnr.: 100234"), ("de-DE", "Best.-Nr.: 100234"),
     ("fr-FR", "Réf : 100234"), ("cs-CZ", "Kat. číslo: 100234"),
     ("en-US", "ASIN: B0BK100234")],
)  # fmt: skip
def test_more_catalogue_and_order_number_labels(lang: str, label: str) -> None:
    value = label.split()[-1]
    body = f"<h1>Blue Kettle</h1><p>€40.00</p><p>{label}</p><button>Add to cart</button>"
    assert product_of(body, lang=lang)["sku"] == value
    assert text_product_of(f"Blue Kettle\n€40.00\n{label}\n")["sku"] == value


def test_a_label_that_is_an_ordinary_word_needs_its_colon() -> None:
    for line in ("Item 5 of 12 in Kettles", "Style 12 tips for tea", "Article 13 of the terms"):
        body = f"<h1>Blue Kettle</h1><p>£24.99</p><p>{line}</p>"
        assert product_of(body)["sku"] is None, line


@pytest.mark.parametrize(
    "lines",
    ["Save 5% on this item\n$185.25 (Save 5%) $195.00",  # "item" ending a sentence
     "Item: $24.99", "Style: £24.99",  # an amount is no identifier
     "Article 2024 of our terms applies"],
)  # fmt: skip
def test_an_ordinary_word_label_takes_no_amount_and_needs_its_colon(lines: str) -> None:
    body = "<h1>Blue Kettle</h1><p>£24.99</p>" + "".join(f"<p>{x}</p>" for x in lines.split("\n"))
    assert product_of(body)["sku"] is None
    assert text_product_of(f"Blue Kettle | Shop\nBlue Kettle\n£24.99\n{lines}\n")["sku"] is None


@pytest.mark.parametrize(
    "attribute", ["Style: 3/4 Sleeve", "Style: 5-Pocket", "Item: 2-Pack", "Style: 2024 Collection"]
)
def test_an_ordinary_word_label_before_an_attribute_gives_no_sku(attribute: str) -> None:
    # Fashion shops list "Style:", "Fit:", "Colour:" as attributes of the product.
    lines = f"Fit: Regular\n{attribute}\nColour: Navy"
    body = "<h1>Blue Shirt</h1><p>£24.99</p>" + "".join(f"<p>{x}</p>" for x in lines.split("\n"))
    assert product_of(body)["sku"] is None
    assert text_product_of(f"Blue Shirt | Shop\nBlue Shirt\n£24.99\n{lines}\n")["sku"] is None
    # A code after the same word is the SKU.
    code = attribute.split(":")[0] + ": BK-100234"
    assert text_product_of(f"Blue Shirt\n£24.99\n{code}\n")["sku"] == "BK-100234"


def test_an_empty_sku_field_does_not_take_the_next_label() -> None:
    # Shop themes print every field of a details table, empty or not.
    table = "<dl><dt>SKU:</dt><dd></dd><dt>UPC:</dt><dd>036000291452</dd></dl>"
    product = product_of(f"<h1>Blue Kettle</h1><p>$24.99</p>{table}<button>Add to cart</button>")
    assert (product["sku"], product["gtin"]) == (None, "036000291452")
    product = text_product_of("Blue Kettle | Shop\nBlue Kettle\n$24.99\nSKU:\nUPC: 036000291452\n")
    assert (product["sku"], product["gtin"]) == (None, "036000291452")


def test_in_plain_text_identifiers_are_read_from_the_products_title_line_on() -> None:
    # A basket preview above the product prints its own product's number.
    text = (
        "Blue Kettle | Shop\nYour basket (1)\nRed Kettle\nSKU: RK-100200\nEAN 4006381333931\n"
        "£19.99\nRemove\nBlue Kettle\n£24.99\nAdd to basket\nSKU: BK-100234\n"
        "EAN 5012345678900\n"
    )
    product = text_product_of(text)
    assert (product["sku"], product["gtin"]) == ("BK-100234", "5012345678900")
    # With none printed after the title, one above it is still taken.
    product = text_product_of(text.replace("SKU: BK-100234\nEAN 5012345678900\n", ""))
    assert product["sku"] == "RK-100200"
    # A label ending the lines above the title, its value on the line above the title.
    assert text_product_of("Blue Kettle | Shop\nSKU:\nBK-100234\nBlue Kettle\n£24.99\n")["sku"] == (
        "BK-100234"
    )
    # A code line right above the title is the product's.
    above = "Blue Kettle | Shop\nHome > Kettles\nSKU: BK-100234\nBlue Kettle\n£24.99\n"
    assert text_product_of(above + "Lid (sold separately) Art. no.: 501.100.20\n")["sku"] == (
        "BK-100234"
    )


def test_a_letters_only_sku_must_be_on_the_labels_line() -> None:
    # An empty SKU field, then the next section's heading in capitals.
    for after in ("SKU:\n\nDESCRIPTION\nA kettle for every kitchen.", "SKU\nREVIEWS (12)"):
        text = f"Blue Kettle | Shop\nBlue Kettle\n$24.99\n{after}\n"
        assert text_product_of(text)["sku"] is None, after
        body = "<h1>Blue Kettle</h1><p>$24.99</p>" + "".join(
            f"<p>{x}</p>" for x in after.split("\n") if x
        )
        assert product_of(body)["sku"] is None, after
    assert text_product_of("Blue Kettle\n$24.99\nSKU: KETTLEBLUE\n")["sku"] == "KETTLEBLUE"
    assert text_product_of("Blue Kettle\n$24.99\nSKU:\nBK-100234\n")["sku"] == "BK-100234"


def test_a_bracketed_word_after_the_label_renames_it() -> None:
    text = "Blue Kettle | Shop\nBlue Kettle\n$24.99\n{line}\n"
    # Another catalogue's id ("Product ID (Catalog ID)") is not the shop's SKU ...
    assert text_product_of(text.format(line="Product ID (Catalog ID) 27038656990"))["sku"] is None
    # ... an SKU named again is.
    assert text_product_of(text.format(line="Item number (SKU): 100234"))["sku"] == "100234"


def test_invisible_direction_marks_around_a_value_are_no_part_of_it() -> None:
    rows = "<tr><th>ASIN</th><td>\u200eB0BK100234</td></tr><tr><th>Model</th><td>\u200f</td></tr>"
    body = f"<h1>Blue Kettle</h1><p>$24.99</p><table>{rows}</table><button>Add to cart</button>"
    assert product_of(body)["sku"] == "B0BK100234"
    assert text_product_of("Blue Kettle\n$24.99\nASIN \u200eB0BK100234\n")["sku"] == "B0BK100234"


@pytest.mark.parametrize(
    "label",
    ["Model: BK-100", "Model No.: BK-100", "Item model number: BK-100", "MPN: BK-100",
     "Mfr. Part #: BK-100", "Part #: BK-100", "Modell: BK-100", "Modèle : BK-100",
     "Modelo: BK-100", "Modello: BK-100", "Typ: BK-100", "Hersteller-Nr: BK-100"],
)  # fmt: skip
def test_model_and_part_number_labels_give_the_mpn_not_the_sku(label: str) -> None:
    body = f"<h1>Blue Kettle</h1><p>£24.99</p><p>{label}</p><button>Add to basket</button>"
    product = product_of(body)
    assert (product["mpn"], product["sku"]) == ("BK-100", None)
    product = text_product_of(f"Blue Kettle\n£24.99\n{label}\n")
    assert (product["mpn"], product["sku"]) == ("BK-100", None)


def test_a_model_word_without_a_colon_or_with_a_measure_is_no_mpn() -> None:
    for line in ("Model wears size M", "Model is 185 cm tall", "Model: 185cm", "Typ A 2000"):
        body = f"<h1>Blue Kettle</h1><p>£24.99</p><p>{line}</p>"
        assert product_of(body)["mpn"] is None, line


def test_a_hash_label_under_the_title_is_the_sku_and_a_model_number_is_not() -> None:
    product = product_of("<h1>Blue Kettle</h1><div>Item #KT-20417 • Model #WK-9</div><p>£24.99</p>")
    assert product["sku"] == "KT-20417"
    assert product_of("<h1>Blue Kettle</h1><div>Model #WK-9040</div><p>£24.99</p>")["sku"] is None
    text = "Blue Kettle | Shop\nHome\nBlue Kettle\nItem #KT-20417 • Mfr #WK-9\n£24.99\n"
    assert text_product_of(text)["sku"] == "KT-20417"


def test_an_element_whose_class_names_an_sku_shows_it_without_a_label() -> None:
    for shown in ("<span class='product-sku'>BK-20417</span>",
                  "<div id='variantSku'>BK-20417</div>",
                  "<p class='sku-line'>SKU BK-20417</p>"):  # fmt: skip
        body = f"<h1>Blue Kettle</h1><p>£24.99</p>{shown}<button>Add to basket</button>"
        assert product_of(body)["sku"] == "BK-20417", shown
    # Not a word, not a hidden element, not a class that only looks like it.
    for shown in ("<span class='product-sku'>Select a size</span>",
                  "<span class='product-sku' hidden>BK-20417</span>",
                  "<span class='skull-icon'>BK-20417</span>"):  # fmt: skip
        body = f"<h1>Blue Kettle</h1><p>£24.99</p>{shown}<button>Add to basket</button>"
        assert product_of(body)["sku"] is None, shown


def test_sku_letters_inside_a_generated_class_name_mark_nothing() -> None:
    # CSS-in-JS and CSS modules write class names of random letters and digits.
    for shown in ("<div class='Qw6mvRoX0xm5QsSku4hy'>6-person</div>",
                  "<div class='a8sku3xq'>3-season</div>",
                  "<span class='skus-list'>BK-1</span>"):  # fmt: skip
        body = f"<h1>Blue Kettle</h1><p>£24.99</p>{shown}<button>Add to basket</button>"
        assert product_of(body)["sku"] is None, shown
    for shown in ("<span class='pdpSKU'>BK-20417</span>", "<span class='sku'>BK-20417</span>",
                  "<span class='product__sku--value'>BK-20417</span>"):  # fmt: skip
        body = f"<h1>Blue Kettle</h1><p>£24.99</p>{shown}<button>Add to basket</button>"
        assert product_of(body)["sku"] == "BK-20417", shown


def test_an_id_segment_inside_the_address_is_the_sku_when_the_page_repeats_it() -> None:
    url = "https://shop.example/items/4471029/blue-kettle"
    body = "<h1>Blue Kettle</h1><p>£24.99</p><button data-item-id='4471029'>Save</button>"
    assert product_of(body, url=url)["sku"] == "4471029"
    # Not repeated by the page: an address alone does not make an identifier.
    assert product_of("<h1>Blue Kettle</h1><p>£24.99</p>", url=url)["sku"] is None


def test_the_add_to_cart_forms_posted_product_id_is_the_sku_when_nothing_else_is() -> None:
    body = (
        "<h1>Blue Kettle</h1><p>£24.99</p><form class='cart' method='post'>"
        "<input type='hidden' name='add-to-cart' value='8812'>"
        "<button type='submit' class='add-to-cart'>Add to basket</button></form>"
    )
    assert product_of(body)["sku"] == "8812"
    button_sku = (
        "<h1>Blue Kettle</h1><p>£24.99</p>"
        "<button class='add-to-cart' data-sku='BK-1-BLUE'>Add to basket</button>"
    )
    assert product_of(button_sku)["sku"] == "BK-1-BLUE"


def test_the_first_sku_of_the_inline_product_state_is_the_last_resort() -> None:
    body = (
        "<h1>Blue Kettle</h1><p>£24.99</p>"
        '<script>window.state = {"product": {"variants": [{"sku": "BK-100-BL"},'
        ' {"sku": "BK-100-RD"}]}, "upsell": {"sku": "none"}};</script>'
    )
    assert product_of(body)["sku"] == "BK-100-BL"
    # A word is not an identifier.
    assert product_of(body.replace("BK-100-BL", "default"))["sku"] == "BK-100-RD"
    # The key names shop systems use for it, and a JSON number.
    for state in ('{"skuId": "10124570"}', '{"productSku": 10124570, "qty": 1}',
                  '{"sku_id": 10124570}'):  # fmt: skip
        body = f"<h1>Blue Kettle</h1><p>£24.99</p><script>var p = {state};</script>"
        assert product_of(body)["sku"] == "10124570", state


def test_a_buy_button_wrapper_is_as_enabled_as_the_button_inside_it() -> None:
    body = (
        "<h1>Blue Kettle</h1><p>$60.00</p><p>Sold out</p>"
        "<div class='product-add-to-cart'><button class='cart-button' disabled>"
        "<span>Sold out</span></button></div>"
    )
    _, page = page_of(f"<html><body>{body}</body></html>", "Blue Kettle")
    assert [b.active for b in find_buy_buttons(page)] == [False, False]  # wrapper, button
    assert product_of(body)["availability"] == "OutOfStock"
    enabled = body.replace(" disabled>", ">").replace("Sold out", "Add to cart")
    assert product_of(enabled)["availability"] == "InStock"


@pytest.mark.parametrize(
    "signup",
    ["Get notified by email when this product is in stock.", "Notify me when it's back",
     "Email me once it is available again", "Benachrichtigen, wenn verfügbar",
     "Prévenez-moi lors du retour en stock", "Avísame cuando esté disponible"],
)  # fmt: skip
def test_a_back_in_stock_signup_means_out_of_stock_even_next_to_a_cart_button(
    signup: str,
) -> None:
    body = (
        f"<h1>Blue Kettle</h1><p>$9.99</p><p>Coming soon</p><p>{signup}</p>"
        "<div class='add-to-cart-button' role='button'>Add To Cart</div>"
    )
    assert product_of(body)["availability"] == "OutOfStock"


def test_a_hidden_or_explained_back_in_stock_signup_says_nothing() -> None:
    button = "<button class='add-to-cart'>Add to cart</button>"
    hidden = (
        "<h1>Blue Kettle</h1><p>$9.99</p>"
        f"<div class='restock-form hidden'><p>Notify me when back in stock</p></div>{button}"
    )
    assert product_of(hidden)["availability"] == "InStock"
    prose = (
        "<h1>Blue Kettle</h1><p>$9.99</p>"
        "<p>Something you want is not in stock? Simply click on 'Email me when back in stock'"
        " on its page and we will write to you as soon as it is available again.</p>"
        f"{button}"
    )
    assert product_of(prose)["availability"] == "InStock"


@pytest.mark.parametrize(
    "offer",
    ["Used for $1,149.95", "Refurbished from $1,149.95", "Open-box from $1,149.95",
     "Pre-owned starting at $1,149.95"],
)  # fmt: skip
def test_a_used_or_refurbished_offer_is_not_the_products_price(offer: str) -> None:
    sold = product_of(f"<h1>Blue Camera</h1><p>$1,499.00</p><p>{offer}</p>")
    assert sold["price"] == "1499.00"
    gone = product_of(f"<h1>Blue Camera</h1><p>No longer available</p><p>{offer}</p>")
    assert gone["price"] is None and gone["availability"] == "OutOfStock"
    assert text_product_of(f"Blue Camera\nNo longer available\n{offer}\n")["price"] is None


def test_a_number_before_a_glued_currency_sign_is_not_the_amount() -> None:
    # "4.8 $40.00" (a rating) and "Qty 1-9 $40.00": the sign marks the amount it touches.
    from extraction.normalize import find_prices

    assert [m.amount for m in find_prices("4.8 $40.00")] == [Decimal("40.00")]
    assert [m.amount for m in find_prices("Qty 1-9\n$40.00")] == [Decimal("40.00")]
    # A sign written after its amount still marks it ("40,00 $ 35,00 $").
    assert [m.amount for m in find_prices("40,00 $ 35,00 $")] == [Decimal("40"), Decimal("35")]
    body = "<h1>Blue Kettle</h1><p>4.8</p><p>$40.00</p><button>Add to cart</button>"
    assert product_of(body, lang="en-US")["price"] == "40.00"


def test_screen_reader_labels_of_a_sale_price_do_not_make_it_a_former_price() -> None:
    # Themes label both amounts for screen readers: "Regular price" then "Sale price" before
    # the price to pay, which html-text keeps on one line.
    text = (
        "Blue Kettle | Shop\nBlue Kettle\nRegular price $50.00 USD\n"
        "Regular price Sale price $50.00 USD\nAdd to cart\n"
    )
    assert text_product_of(text)["price"] == "50.00"
    sale = text.replace("Regular price $50.00", "Regular price $60.00")
    assert text_product_of(sale)["price"] == "50.00"


def test_a_former_price_label_on_its_own_line_marks_the_amount_under_it() -> None:
    for old, new in (("Regular price", "Sale price"), ("Was", "Now"), ("UVP", "Jetzt")):
        text = f"Blue Kettle\n{old}\n\n$50.00\n\n{new}\n\n$40.00\nAdd to cart\n"
        assert text_product_of(text)["price"] == "40.00"
    # A line that is not a label (a title, a sentence with figures) says nothing.
    text = "Blue Kettle\nBrewed before 2020\n$40.00\nAdd to cart\n"
    assert text_product_of(text)["price"] == "40.00"


def test_a_struck_price_spoken_again_for_screen_readers_is_the_former_price() -> None:
    text = (
        "Blue Kettle | Shop\nBlue Kettle\n$ 50.00 Original price was: $50.00. $ 40.00 Current"
        " price is: $40.00.\nAdd to cart\n"
    )
    assert text_product_of(text)["price"] == "40.00"


def test_a_dash_between_words_and_an_amount_is_not_a_minus_sign() -> None:
    body = "<h1>Blue Kettle</h1><p>Choose a size</p><button>Add to cart - $40.00</button>"
    assert product_of(body, lang="en-US")["price"] == "40.00"
    assert text_product_of("Blue Kettle\nChoose a size\nAdd to cart – $40.00\n")["price"] == (
        "40.00"
    )
    # A sign touching the amount is a discount.
    body = "<h1>Blue Kettle</h1><p>-$10.00</p><p>$40.00</p><button>Add to cart</button>"
    assert product_of(body, lang="en-US")["price"] == "40.00"


def test_three_prices_in_a_row_are_a_list_not_a_sale_and_its_original() -> None:
    body = (
        "<h1>Gift Card</h1><p class='price'>$40.00</p><div><button>$25</button>"
        "<button>$50</button></div><button class='add-to-cart'>Add to cart</button>"
    )
    assert product_of(body, lang="en-US")["price"] == "40.00"
    pair = "<h1>Blue Kettle</h1><p><span>$50.00</span> <span>$40.00</span></p><button>Buy</button>"
    assert product_of(pair, lang="en-US")["price"] == "40.00"


@pytest.mark.parametrize(
    ("lang", "page"),
    [("ja-JP", "<p>4,527円(税抜)</p><p>4,980円(税込)</p>"),
     ("zh-TW", "<p>NT$4,527 未稅</p><p>NT$4,980 含稅</p>"),
     ("ko-KR", "<p>4,527원 부가세 별도</p><p>4,980원 부가세 포함</p>")],
)  # fmt: skip
def test_tax_excluded_words_in_east_asian_shops(lang: str, page: str) -> None:
    assert price_of(f"<h1>Blue Kettle</h1>{page}<button>Buy</button>", lang) == Decimal(4980)


@pytest.mark.parametrize(
    "left",
    ["Spend $25.00 more for free shipping", "You are $25.00 away from free delivery",
     "Add $25.00 more to qualify for free shipping"],
)  # fmt: skip
def test_what_is_left_to_spend_for_free_shipping_is_not_the_price(left: str) -> None:
    body = f"<h1>Blue Kettle</h1><p>{left}</p><p>$40.00</p><button>Add to cart</button>"
    assert product_of(body, lang="en-US")["price"] == "40.00"


@pytest.mark.parametrize(
    ("lang", "lowest"),
    [("en-IE", "Lowest price in the last 30 days: €50.00"),
     ("de-DE", "Niedrigster Preis der letzten 30 Tage: 50,00 €"),
     ("pl-PL", "Najniższa cena z 30 dni przed obniżką: 50,00 zł"),
     ("fr-FR", "Prix le plus bas des 30 derniers jours : 50,00 €"),
     ("it-IT", "Prezzo più basso degli ultimi 30 giorni: 50,00 €")],
)  # fmt: skip
def test_the_lowest_price_of_the_last_30_days_is_a_former_price(lang: str, lowest: str) -> None:
    # The EU's rule for discounts: the label holds a number of its own ("30 days").
    current = "40,00 zł" if lang == "pl-PL" else "€40.00" if lang == "en-IE" else "40,00 €"
    body = f"<h1>Blue Kettle</h1><p>{lowest}</p><p>-20%</p><p>{current}</p><button>Buy</button>"
    assert price_of(body, lang) == Decimal(40)


@pytest.mark.parametrize(
    ("lang", "was", "now"),
    [("sv-SE", "Ord. pris 500 kr", "400 kr"), ("da-DK", "Vejl. pris 500 kr.", "400 kr."),
     ("nb-NO", "Veil. pris 500 kr", "400 kr"), ("fi-FI", "Norm. 500,00 €", "400,00 €"),
     ("es-ES", "PVP: 500,00 €", "400,00 €"), ("fr-FR", "Prix conseillé : 500,00 €", "400,00 €"),
     ("nl-NL", "Van € 500,00 voor", "€ 400,00"), ("pt-BR", "De R$ 500,00 por", "R$ 400,00")],
)  # fmt: skip
def test_former_price_words_of_more_languages(lang: str, was: str, now: str) -> None:
    # With a word between them, the two amounts are not a pair side by side.
    body = f"<h1>Blue Kettle</h1><p>{was}</p><p>Only today</p><p>{now}</p><button>Buy</button>"
    assert price_of(body, lang) == Decimal(400)


def test_a_price_per_count_of_a_pack_is_not_the_price() -> None:
    for unit in ("$0.33/count", "($0.33 / Count)", "$0.33/ct"):
        body = (
            f"<h1>Blue Kettle</h1><p>{unit}</p><p>Only today</p><p>$40.00</p><button>Buy</button>"
        )
        assert price_of(body, "en-US") == Decimal(40), unit
        text = f"Blue Kettle | Shop\nBlue Kettle\n{unit}\nOnly today\n$40.00\nAdd to cart\n"
        assert text_product_of(text)["price"] == "40.00", unit
    # The price of one piece sold by the piece is the price.
    body = "<h1>Blue Kettle</h1><p>400 zł /szt.</p><button>Do koszyka</button>"
    assert price_of(body, "pl-PL") == Decimal(400)


@pytest.mark.parametrize(
    ("lang", "between"),
    [("en-US", "-20%"), ("en-US", "Save 20%"), ("en-US", "20% off"), ("en-US", "(20% off)"),
     ("de-DE", "−20 %"), ("en-US", "Save $10.00"), ("en-US", "You save $10.00 (20%)"),
     ("en-US", "-$10.00"), ("de-DE", "-10,00 €"), ("en-US", "→")],
)  # fmt: skip
def test_two_amounts_with_only_a_discount_between_them_are_a_sale(lang: str, between: str) -> None:
    was, now = ("$50.00", "$40.00") if lang == "en-US" else ("50,00 €", "40,00 €")
    amounts = f"<div>{was}</div><div>{between}</div><div>{now}</div>"
    body = f"<h1>Blue Kettle</h1>{amounts}<button>Buy</button>"
    assert price_of(body, lang) == Decimal(40)
    text = f"Blue Kettle | Shop\nBlue Kettle\n{was}\n{between}\n{now}\nAdd to cart\n"
    assert Decimal(text_product_of(text)["price"]) == Decimal(40)
    # Words between them are not a discount: two prices of two things.
    body = body.replace(between, "Matching lid")
    assert price_of(body, lang) == Decimal(50)


def test_the_first_amounts_currency_code_between_a_sale_and_its_original_is_no_word() -> None:
    body = "<h1>Blue Kettle</h1><div>$50.00 USD</div><div>$40.00 USD</div><button>Buy</button>"
    assert price_of(body, "en-US") == Decimal(40)
    text = "Blue Kettle | Shop\nBlue Kettle\n$50.00 USD\n$40.00 USD\nAdd to cart\n"
    assert text_product_of(text)["price"] == "40.00"


def test_a_subscription_or_membership_price_is_not_the_one_off_price() -> None:
    for line in ("$38.00 with subscription", "$38.00 for members", "$38.00 with trade-in"):
        body = f"<h1>Blue Kettle</h1><p>$40.00</p><p>{line}</p><button>Add to cart</button>"
        assert price_of(body, "en-US") == Decimal(40), line


def test_indias_maximum_retail_price_is_a_former_price() -> None:
    for mrp in ("MRP ₹500", "M.R.P.: ₹500", "M.R.P ₹500"):
        body = (
            f"<h1>Blue Kettle</h1><p>{mrp}</p><p>Deal of the day</p><p>₹400</p><button>Buy</button>"
        )
        assert price_of(body, "en-IN") == Decimal(400), mrp


@pytest.mark.parametrize(
    "now",
    ["Sale: $40.00", "Now $40.00", "Sale price $40.00", "Deal Price $40.00",
     "Discounted price $40.00", "Sale price</p><p>$40.00"],
)  # fmt: skip
def test_an_amount_followed_by_a_lower_one_labelled_as_the_price_now_is_the_former(
    now: str,
) -> None:
    body = f"<h1>Blue Kettle</h1><p>$50.00</p><p>{now}</p><button>Add to cart</button>"
    assert price_of(body, "en-US") == Decimal(40)
    label_line = now.replace("</p><p>", "\n")
    text = f"Blue Kettle | Shop\nBlue Kettle\n$50.00\n{label_line}\nAdd to cart\n"
    assert text_product_of(text)["price"] == "40.00"
    # A higher labelled amount, a "buy now" button, or a label of its own on the first amount
    # change nothing.
    for other in (now.replace("40", "60"), "Buy now $40.00", "Sale ends Sunday</p><p>$40.00"):
        body = f"<h1>Blue Kettle</h1><p>$50.00</p><p>{other}</p><button>Add to cart</button>"
        assert price_of(body, "en-US") == Decimal(50), other
    body = f"<h1>Blue Kettle</h1><p>Member price $50.00</p><p>{now}</p>"
    assert price_of(body, "en-US") == Decimal(50)


# --- currency -------------------------------------------------------------------------------


def test_a_shared_sign_is_the_one_code_the_page_names_when_its_locale_does_not_say() -> None:
    text = "Blue Kettle | Shop\nYou are shopping in AUD\nBlue Kettle\n$40.00\nAdd to cart\n"
    product = text_product_of(text)
    assert (product["price"], product["currency"]) == ("40.00", "AUD")
    # A picker naming several dollar currencies says nothing: the sign's usual meaning.
    picker = text.replace("You are shopping in AUD", "Currency: AUD CAD USD")
    assert text_product_of(picker)["currency"] == "USD"
    # The page's country comes first.
    assert text_product_of(text, url="https://shop.example.ca/p/blue-kettle")["currency"] == "CAD"
    body = "<p>Prices in NZD</p><h1>Blue Kettle</h1><p>$40.00</p><button>Add to cart</button>"
    assert product_of(body, lang="en")["currency"] == "NZD"
    # A code that is not named as a currency says nothing.
    cad = text.replace("You are shopping in AUD", "Exports CAD drawings to your printer")
    assert text_product_of(cad)["currency"] == "USD"
    assert text_product_of(cad.replace("Exports", "Prices in CAD\nExports"))["currency"] == "CAD"


@pytest.mark.parametrize(
    ("text", "currency"),
    [("青いやかん\n¥4,000\nカートに入れる\n", "JPY"), ("蓝色水壶\n¥400\n加入购物车\n", "CNY"),
     ("Синий чайник\n4 000 руб.\nВ корзину\n", "RUB"),
     ("Blå vattenkokare\n400 kr\nLägg i varukorgen\nFri frakt över 500 kr för alla köp\n", "SEK"),
     ("Blå elkedel\n400 kr\nLæg i kurv\nLevering af varen på 2 dage\n", "DKK"),
     ("Blå vannkoker\n400 kr\nLegg i handlekurven\nLevering av varen på 2 dager\n", "NOK")],
)  # fmt: skip
def test_in_plain_text_a_shared_sign_follows_the_language_the_letters_show(
    text: str, currency: str
) -> None:
    assert text_product_of(text, url="https://shop.example/p/4471029")["currency"] == currency


def test_plain_english_text_leaves_kr_and_yen_unresolved() -> None:
    for amount in ("400 kr", "¥400"):
        text = f"Blue Kettle\n{amount}\nAdd to cart\n"
        assert text_product_of(text)["currency"] is None, amount


@pytest.mark.parametrize(
    ("lang", "price", "plan"),
    [("en-US", "$40.00", "or $10.00 today and 3 more payments"),
     ("en-GB", "£40.00", "Or pay £13.33 x 3 months"),
     ("en-AU", "$40.00", "Own it from $10/wk"), ("en-AU", "$40.00", "$10.00 fortnightly"),
     ("fr-FR", "40,00 €", "Payez en 4 fois 10,00 €"), ("es-ES", "40,00 €", "o 3 plazos de 13,33 €"),
     ("nl-NL", "€ 40,00", "of 3 termijnen van € 13,33"),
     ("sv-SE", "400 kr", "Delbetala från 33 kr/mån"), ("nb-NO", "400 kr", "fra 33 kr/mnd"),
     ("da-DK", "400 kr", "Fra 33 kr./md."), ("fi-FI", "40,00 €", "alk. 3,33 €/kk"),
     ("es-MX", "$400.00", "12 meses sin intereses de $33.33"),
     ("tr-TR", "400 TL", "3 taksit 133,33 TL")],
)  # fmt: skip
def test_instalments_in_more_languages_and_shapes_are_not_the_price(
    lang: str, price: str, plan: str
) -> None:
    for lines in ((plan, price), (price, plan)):
        body = "<h1>Blue Kettle</h1>" + "".join(f"<div>{x}</div>" for x in lines)
        product = product_of(body + "<button>Add to cart</button>", lang=lang)
        assert product["price"] is not None
        assert Decimal(product["price"]) in (Decimal(40), Decimal(400)), lines


def test_a_warranty_in_months_before_the_price_is_no_instalment() -> None:
    body = (
        "<h1>Blue Kettle</h1><div>Garantía 24 meses</div><div>40,00 €</div><button>Comprar</button>"
    )
    assert price_of(body, "es-ES") == Decimal(40)


@pytest.mark.parametrize(
    ("lang", "was", "now"),
    [("en-US", "Reg: $500.00", "$400.00"), ("en-US", "Orig. $500.00", "$400.00"),
     ("en-US", "Retail Price: $500.00", "$400.00"), ("en-US", "SRP $500.00", "$400.00"),
     ("en-US", "List: $500.00", "$400.00"), ("en-US", "Typical price $500.00", "$400.00"),
     ("de-DE", "Bisher 500,00 €", "400,00 €"), ("de-DE", "Streichpreis 500,00 €", "400,00 €"),
     ("fr-FR", "Ancien prix 500,00 €", "400,00 €"),
     ("es-ES", "Precio habitual 500,00 €", "400,00 €"),
     ("it-IT", "Prezzo di listino 500,00 €", "400,00 €"),
     ("pl-PL", "Cena regularna 500,00 zł", "400,00 zł"),
     ("cs-CZ", "Běžná cena 500 Kč", "400 Kč"), ("hu-HU", "Eredeti ár 5000 Ft", "4000 Ft"),
     ("sv-SE", "Tidigare pris 500 kr", "400 kr"), ("tr-TR", "Eski fiyat 500 TL", "400 TL"),
     ("el-GR", "Αρχική τιμή 500,00 €", "400,00 €"), ("id-ID", "Harga normal Rp 500", "Rp 400"),
     ("ja-JP", "メーカー希望小売価格 500円", "400円")],
)  # fmt: skip
def test_still_more_former_price_words(lang: str, was: str, now: str) -> None:
    body = f"<h1>Blue Kettle</h1><p>{was}</p><p>Only today</p><p>{now}</p><button>Buy</button>"
    assert int(price_of(body, lang) or 0) in (400, 4000)
    text = f"Blue Kettle | Shop\nBlue Kettle\n{was}\nOnly today\n{now}\nAdd to cart\n"
    assert int(Decimal(text_product_of(text)["price"])) in (400, 4000)


def test_a_gallery_button_or_a_retailer_above_the_price_is_no_former_price_label() -> None:
    # (Were $40.00 taken for a former price, the lid's would be the price.)
    lid = "<div>Matching lid</div><div>$10.00</div>"
    for above in ("Previous", "Retailer: Acme"):
        body = f"<h1>Blue Kettle</h1><div>{above}</div><div>$40.00</div>{lid}<button>Buy</button>"
        assert price_of(body, "en-US") == Decimal(40), above


def test_an_instalment_with_words_between_its_count_and_its_name_is_not_the_price() -> None:
    for plan in ("Pay in 4 interest-free installments of $10.00",
                 "3 cuotas sin interés de $10.00"):  # fmt: skip
        body = f"<h1>Blue Kettle</h1><p>{plan}</p><p>$40.00</p><button>Add to cart</button>"
        assert product_of(body, lang="en-US")["price"] == "40.00", plan


@pytest.mark.parametrize(
    ("lang", "line"),
    [("en-US", "$40.00 $5.00 off"), ("en-US", "$40.00 <span>$10 OFF</span>"),
     ("en-US", "$40.00 $10.00 saved"), ("en-US", "$40.00 <span>$5.99 delivery</span>"),
     ("en-US", "$40.00 <span>$10.00 deposit</span>"),
     ("en-US", "$40.00 <span>$10 mail-in rebate</span>"),
     ("de-DE", "40,00 € <span>4,95 € Versand</span>"),
     ("de-DE", "40,00 € <span>10,00 € gespart</span>"),
     ("fr-FR", "40,00 € <span>4,95 € de livraison</span>")],
)  # fmt: skip
def test_an_amount_named_a_discount_or_a_cost_by_the_words_after_it(lang: str, line: str) -> None:
    # Side by side with the price, it would otherwise pass for a sale price and its original.
    body = f"<h1>Blue Kettle</h1><p>{line}</p><button>Add to cart</button>"
    assert price_of(body, lang) == Decimal(40)
    text = f"Blue Kettle\n{line.replace('<span>', '').replace('</span>', '')}\nAdd to cart\n"
    assert Decimal(text_product_of(text)["price"]) == Decimal(40)
    # On the next line the word is not the amount's: "£5,100.00" then a "shipping" link.
    assert text_product_of("Blue Kettle\n£5,100.00\nshipping\n")["price"] == "5100.00"


@pytest.mark.parametrize(
    ("lang", "price", "cost"),
    [("en-US", "$40.00", "$5.99 Standard Shipping"), ("en-US", "$40.00", "Flat rate $5.99"),
     ("en-GB", "£40.00", "£3.95 Click & Collect"), ("en-GB", "£40.00", "Next day £5.99"),
     ("pl-PL", "40,00 zł", "Kurier 9,99 zł"), ("da-DK", "400 kr", "Levering 49 kr"),
     ("en-US", "$40.00", "Gift wrap +$4.99"), ("en-US", "$40.00", "Assembly: $19.99"),
     ("en-GB", "£40.00", "Add a 3-year guarantee £4.99"), ("de-DE", "40,00 €", "Pfand 0,25 €"),
     ("en-US", "$40.00", "+ $0.25 bottle deposit"), ("en-US", "$40.00", "Earn $2.00 in rewards"),
     ("en-US", "$40.00", "Get a $10 gift card")],
)  # fmt: skip
def test_shipping_add_ons_deposits_and_rewards_are_not_the_price(
    lang: str, price: str, cost: str
) -> None:
    for lines in ((cost, price), (price, cost)):
        body = "<h1>Blue Kettle</h1>" + "".join(f"<div>{x}</div>" for x in lines)
        product = product_of(body + "<button>Add to cart</button>", lang=lang)
        assert Decimal(product["price"]) in (Decimal(40), Decimal(400)), lines
        text = "Blue Kettle | Shop\nBlue Kettle\n" + "\n".join(lines) + "\nAdd to cart\n"
        assert Decimal(text_product_of(text)["price"]) in (Decimal(40), Decimal(400)), lines


def test_a_price_with_free_shipping_after_it_is_still_the_price() -> None:
    for line in ("$40.00 free shipping", "$40.00 incl. shipping", "$40.00 FREE Shipping",
                 "$40.00 Next day delivery available", "No deposit needed $40.00",
                 "Price match guarantee, $40.00"):  # fmt: skip
        body = f"<h1>Blue Kettle</h1><p>{line}</p><button>Add to cart</button>"
        assert price_of(body, "en-US") == Decimal(40), line


def test_a_tax_word_after_the_next_amount_is_that_amounts() -> None:
    # "£40.00 £33.33 ex VAT": the ex-VAT label is the second amount's, and the pair is not
    # a sale and its original.
    body = "<h1>Blue Kettle</h1><p>£40.00 £33.33 ex VAT</p><button>Add to basket</button>"
    assert price_of(body) == Decimal(40)
    assert text_product_of("Blue Kettle\n£40.00 £33.33 ex VAT\nAdd to basket\n")["price"] == (
        "40.00"
    )


def test_utility_classes_bold_and_line_through_say_what_they_say() -> None:
    # "font-bold" holds "old" but says nothing of a former price; "line-through" does.
    body = (
        "<h1>Blue Kettle</h1><div><span class='text-gray-500 line-through'>$50.00</span>"
        "<span class='text-xl font-bold'>$40.00</span> <span>20% off</span></div>"
        "<button>Add to cart</button>"
    )
    assert product_of(body, lang="en-US")["price"] == "40.00"
    body = (
        "<h1>Blue Kettle</h1><p class='price font-regular'>$40.00</p><p>Descaler: $5.00</p>"
        "<button>Buy</button>"
    )
    assert product_of(body, lang="en-US")["price"] == "40.00"
    # The number after the cents ("20" of "20% off") is not part of the amount.
    from extraction.normalize import find_prices

    assert [m.text for m in find_prices("$40.00 20% off")] == ["$40.00"]


def test_a_block_holding_the_title_may_call_itself_a_header() -> None:
    # The site's header (mini cart) is left out; the product's own "header" block is not.
    for block in ("product-header", "pdp__header", "product newsletter-signup-enabled"):
        body = (
            "<header class='site-header'><a>Cart $0.00</a></header>"
            f"<div class='{block}'><h1>Blue Kettle</h1><span class='price'>$40.00</span></div>"
            "<button>Add to cart</button>"
        )
        assert product_of(body, lang="en-US")["price"] == "40.00", block


def test_a_heading_of_other_products_ends_the_products_price_window() -> None:
    # The price is above the title; after the title, only other products have prices.
    body = (
        "<div class='price'>$40.00</div><h1>Blue Kettle</h1><p>A kettle.</p>"
        "<button>Add to cart</button><section><h2>You may also like</h2><div><a>Red Kettle</a>"
        "<span>$30.00</span></div></section>"
    )
    assert product_of(body, lang="en-US")["price"] == "40.00"
    body = body.replace("You may also like", "Pairs well with")
    assert product_of(body, lang="en-US")["price"] == "40.00"


def test_cents_split_from_the_point_in_the_text_stay_cents() -> None:
    # "$<span>79.</span><span>99</span>" becomes "$ 79. 99" in the text a browser extension
    # sends; "$5, 10 or 20" is still a list.
    assert text_product_of("Blue Kettle\n$ 79. 99\nAdd to cart\n")["price"] == "79.99"
    assert text_product_of("Blue Kettle\n79. 99 €\nAdd to cart\n")["price"] == "79.99"
    assert text_product_of("Blue Kettle\n$5, 10 or 20\nAdd to cart\n")["price"] == "5.00"
    # "40,<sup>99</sup> €" likewise after a decimal comma, when the currency mark follows.
    assert text_product_of("Blue Kettle\n40, 99 €\nIn den Warenkorb\n")["price"] == "40.99"


def test_in_plain_text_the_all_digit_id_ending_the_address_is_the_sku() -> None:
    text = "Blue Kettle | Shop\nBlue Kettle\n£24.99\nAdd to basket\n"
    assert text_product_of(text, url="https://shop.example/p/blue-kettle/4471029")["sku"] == (
        "4471029"
    )
    # Not on a page that sells nothing, and not a short number or a word-like code.
    assert (
        text_product_of("Blue Kettle\nA story\n", url="https://x.example/a/4471029")["sku"] is None
    )
    assert text_product_of(text, url="https://shop.example/p/kettle-2024")["sku"] is None
    # The id right after a segment naming a product page, with the slug after it.
    url = "https://shop.example/listing/4471029/blue-kettle"
    assert text_product_of(text, url=url)["sku"] == "4471029"
    # Not an id in a segment that names something else (a category, a year).
    assert text_product_of(text, url="https://shop.example/c/4471029/kettles")["sku"] is None


# --- title ----------------------------------------------------------------------------------


def test_in_plain_text_the_title_is_the_document_titles_product_part_not_shop_or_crumbs() -> None:
    text = (
        "Blue Kettle – Kettleshop.com\nSkip to content\nKettleshop.com\nHome\n"
        "Shop › Blue Kettle\nBlue Kettle\n£24.99\nAdd to basket\n"
    )
    url = "https://www.kettleshop.com/products/blue-kettle"
    assert text_product_of(text, url=url)["title"] == "Blue Kettle"
    assert text_product_of(text.replace("Blue Kettle\n£", "£"), url=url)["title"] != (
        "Kettleshop.com"
    )


# --- the brand shown beside the title (no label, no markup) --------------------------------


@pytest.mark.parametrize(
    "brand_html",
    [
        "<div class='product__vendor'>Kettlecraft</div>",
        "<p class='pdp-brand-name'><a href='/kettlecraft'>Kettlecraft</a></p>",
        "<span class='productManufacturer'>Kettlecraft</span>",
        "<a href='/brands/kettlecraft'>Kettlecraft</a>",
        "<a href='https://shop.example/marques/kettlecraft/'>Kettlecraft</a>",
        "<div class='item-brand'>By Kettlecraft</div>",
    ],
)
def test_the_brand_beside_the_title_is_read_from_an_element_named_for_it(
    brand_html: str,
) -> None:
    product = product_of(
        f"<main><div class='product-info'>{brand_html}<h1>Blue Kettle</h1>"
        "<p>£24.99</p><button>Add to basket</button></div></main>"
    )
    assert product["brand"] == "Kettlecraft"


def test_the_brand_menu_the_navbar_logo_and_other_products_cards_are_not_the_brand() -> None:
    product = product_of(
        "<header><a class='navbar-brand' href='/'>Kettle Shop</a>"
        "<div class='menu'><a href='/brands/'>Our brands</a>"
        "<a href='/brands/steamco'>Steamco</a></div></header>"
        "<main><h1>Blue Kettle</h1><p>£24.99</p><button>Add to basket</button>"
        "<div class='related-products'><div class='card'><div class='card-brand'>Steamco</div>"
        "<a href='/p/red-kettle'>Red Kettle</a><p>£19.99</p></div></div></main>"
    )
    assert product["brand"] is None


def test_a_brand_navigation_phrase_or_an_amount_is_not_a_brand() -> None:
    for brand_html in (
        "<a class='brand-link' href='/brands'>Shop all brands</a>",
        "<div class='brand-badge'>12/09 (Wed)</div>",
        "<div class='brand-promo'>Save £5 today</div>",
    ):
        product = product_of(
            f"<main>{brand_html}<h1>Blue Kettle</h1><p>£24.99</p>"
            "<button>Add to basket</button></main>"
        )
        assert product["brand"] is None, brand_html


def test_a_labelled_brand_comes_before_an_element_named_for_it() -> None:
    product = product_of(
        "<main><div class='brand'>Steamco</div><h1>Blue Kettle</h1><p>£24.99</p>"
        "<p>Brand: Kettlecraft</p><button>Add to basket</button></main>"
    )
    assert product["brand"] == "Kettlecraft"


def test_structured_data_brand_wins_over_the_page() -> None:
    product = product_of(
        '<script type="application/ld+json">{"@context": "https://schema.org", '
        '"@type": "Product", "name": "Blue Kettle", "brand": {"@type": "Brand", '
        '"name": "Kettlecraft"}, "offers": {"@type": "Offer", "price": "24.99", '
        '"priceCurrency": "GBP"}}</script>'
        "<main><div class='brand'>Steamco</div><h1>Blue Kettle</h1><p>£24.99</p></main>"
    )
    assert product["brand"] == "Kettlecraft"


# --- rules from the labelled page-types pages' tune half (bench/data/page_types_labels.json) --


@pytest.mark.parametrize(
    "words",
    ["$900 instant trade-in credit", "Get $50 store credit", "up to $80 reserve credit",
     "companies with over $1 million in revenue", "backed by $2 billion"],
)  # fmt: skip
def test_a_credit_or_a_sum_in_millions_is_not_the_price(words: str) -> None:
    body = f"<h1>Blue Kettle</h1><p>{words}</p><p>$40.00</p><button>Add to cart</button>"
    assert price_of(body, "en-US") == Decimal(40)
    # Alone after the title, it is no price at all.
    assert price_of(f"<h1>Blue Kettle</h1><p>{words}</p><p>Great kettle.</p>", "en-US") is None
    assert text_product_of(f"Blue Kettle\n{words}\nGreat kettle.\n")["price"] is None


def test_a_vat_label_on_the_line_after_an_amount_is_that_amounts() -> None:
    # The amount marked "incl. VAT" on the next line is the one to pay; an offer far below
    # the title is not, though a title-like line sits just above it.
    text = (
        "Blue Kettle 2000\nGreat kettle, 1.7 litres.\n" + "Specifications line\n" * 80
        + "£169\nAll prices incl. VAT\nAdd to basket\n"
        + "Blue Kettle 2000 bundles\nstarting from £1,029\n"
    )  # fmt: skip
    assert Decimal(text_product_of(text)["price"]) == 169
    # A label holding an amount of its own is that amount's ("Gross: 127"), not the line's
    # above: tested in test_tax_words_of_more_languages (hu-HU).


@pytest.mark.parametrize("offer", ["B-Stock available from £585", "Ex-demo from £585",
                                   "Outlet from £585"])  # fmt: skip
def test_an_ex_demo_or_b_stock_offer_is_not_the_price(offer: str) -> None:
    text = f"Blue Kettle\n{offer}\n£675\nIn stock\nAdd to basket\n"
    assert Decimal(text_product_of(text)["price"]) == 675


def test_a_sticky_bar_a_theme_calls_a_navbar_holds_the_products_price() -> None:
    body = (
        "<nav class='top-navigation'><a>Home</a><a>Kettles</a></nav>"
        "<section class='floating-navigation'><div class='floating-navigation__header'>"
        "<span>Blue Kettle</span><ul class='floating-navigation__list'><li>"
        "<a href='#buy'>From $40.00</a></li></ul></div></section>"
        "<main><h1>Blue Kettle</h1><p>Boils fast.</p><button>Buy now</button></main>"
    )
    assert price_of(body, "en-US") == Decimal(40)
    # A navbar without the product's name is the site's: its amount is no price.
    other = body.replace("<span>Blue Kettle</span>", "<span>Offers</span>")
    assert price_of(other, "en-US") is None


def test_an_h1_in_a_block_its_theme_calls_a_navbar_is_still_the_title() -> None:
    body = (
        "<h1 class='menu-title'>Menu</h1>"
        "<div class='summary offer-holder-sticky-navbar'><h1>Blue Kettle</h1>"
        "<div class='product-price'><span>$40.00</span></div></div>"
        "<div class='footer'><h1>Newsletter</h1></div>"
    )
    # The document title adds the maker's name and a line: the <h1> matches it in part only.
    html = (
        "<html lang='en-US'><head><title>Acme Blue Kettle 1.7 L | Shop</title></head>"
        f"<body>{body}</body></html>"
    )
    product = extract_deterministic(url="https://shop.example/p/1", html=html).to_dict()["product"]
    assert product["title"] == "Blue Kettle"
    assert product["price"] == "40.00"


@pytest.mark.parametrize("slot", ["Free To Play", "Free", "Free download", "Kostenlos"])
def test_a_product_whose_price_slot_says_free_has_no_price(slot: str) -> None:
    body = (
        f"<h1>Blue Game</h1><div class='purchase'><h2>Play Blue Game</h2><div>{slot}</div>"
        "<a class='btn'>Play Game</a></div>"
        "<div class='purchase'><h2>Buy Blue Game Bundle</h2><div>€19.50</div>"
        "<a class='btn'>Add to Cart</a></div>"
    )
    assert product_of(body, lang="en-IE")["price"] is None
    # In plain text a bundle whose name holds the game's would pass for the title line, and
    # its price for the game's: there the rule reads the slot after the best title line only.
    text = f"Blue Game\n{slot}\nPlay Game\nBuy Starter Pack\n€19.50\nAdd to Cart\n"
    assert text_product_of(text, url="https://games.example/app/blue-game")["price"] is None


def test_free_delivery_or_returns_in_the_products_block_leave_its_price() -> None:
    for label in ("Delivery", "Returns"):
        body = f"<h1>Blue Kettle</h1><div>{label}</div><div>Free</div><div>€40.00</div>"
        body += "<button>Add to cart</button>"
        assert price_of(body, "en-IE") == Decimal(40), label


def test_an_h1_reading_only_the_sites_name_is_a_logo_not_the_title() -> None:
    head = (
        "<head><title></title><meta property='og:title' "
        "content='Blue Kettle 2000 with Glass Body - Megashop 7'/></head>"
    )
    body = "<header><h1>Megashop</h1></header><div class='shell'>Loading</div>"
    html = f"<html lang='en-GB'>{head}<body>{body}</body></html>"
    product = extract_deterministic(url="https://www.megashop.com/item/1", html=html).to_dict()
    assert product["product"]["title"].startswith("Blue Kettle 2000 with Glass Body")
    # A product page whose <h1> is the product's name, on a site named otherwise, keeps it.
    kept = html.replace("<h1>Megashop</h1>", "<h1>Blue Kettle 2000 with Glass Body</h1>")
    kept_product = extract_deterministic(url="https://www.megashop.com/item/1", html=kept)
    assert kept_product.to_dict()["product"]["title"] == "Blue Kettle 2000 with Glass Body"


@pytest.mark.parametrize(
    ("lang", "ceiling", "price"),
    [("en-US", "Save up to $250 with trade-in", "$899.99"),
     ("en-US", "Get up to $700 off", "$899.99"),
     ("de-DE", "Sparen Sie bis zu 50 €", "899,99 €"),
     ("fr-FR", "Jusqu'à 50 € remboursés", "899,99 €")],
)  # fmt: skip
def test_an_amount_after_up_to_is_a_ceiling_not_the_price(
    lang: str, ceiling: str, price: str
) -> None:
    body = f"<h1>Blue Phone</h1><p>{ceiling}</p><p>{price}</p><button>Buy</button>"
    assert price_of(body, lang) == Decimal("899.99")
    assert price_of(f"<h1>Blue Phone</h1><p>{ceiling}</p><p>Great phone.</p>", lang) is None


def test_a_free_line_after_the_products_first_price_is_another_things() -> None:
    # The price slot ends at the first amount after the title: a "Free" below it (a gift, a
    # plug-in offer) does not make the product free when a later copy of the price is taken.
    text = (
        "Blue Kettle 2000\nItem ID: BK2000\n$40.00\nA gift with every order\nFree\n"
        + "Details line\n" * 20 + "Price\n$40.00 incl. VAT\nAdd to cart\n"
    )  # fmt: skip
    assert Decimal(text_product_of(text)["price"]) == 40


def test_in_plain_text_a_breadcrumb_trail_gives_its_last_crumb_as_the_title() -> None:
    for sep in (">", "›", "»"):
        text = (
            f"Blue Kettle 2000 | Shop\nHome {sep} Kitchen {sep} Kettles {sep} Blue Kettle 2000\n"
            "£40.00\nAdd to basket\n"
        )
        assert text_product_of(text)["title"] == "Blue Kettle 2000", sep
    # A name holding a slash or a dash is not a trail.
    assert text_product_of("Blue / Red Kettle | Shop\nBlue / Red Kettle\n£40.00\n")["title"] == (
        "Blue / Red Kettle"
    )


def test_a_currency_code_inside_prose_names_no_currency() -> None:
    # "3D CAD" is a drawing, not Canadian dollars: a code names the currency only beside an
    # amount or a sign ("40 CAD", "CAD $40"), or after "in" / "currency".
    text = "Blue Tablet\nTurn a scan into a 3D CAD project.\n$999.00\nAdd to cart\n"
    assert text_product_of(text)["currency"] == "USD"
    named = "Blue Tablet\nAll prices in CAD.\n$999.00\nAdd to cart\n"
    assert text_product_of(named)["currency"] == "CAD"
