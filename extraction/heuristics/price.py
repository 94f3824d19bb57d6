"""The main price of the visible page (rules in :mod:`extraction.heuristics`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import pairwise

from extraction.heuristics.page_text import OTHER_PRODUCTS_HEADING_RE, Guess, PageText
from extraction.normalize import (
    PageLocale,
    PriceMatch,
    decimal_separator_for,
    find_prices,
)

_OLD_WORDS_RE = re.compile(
    r"(?:\bwas\b|instead\s+of|\bstatt\b|\buvp\b|\brrp\b|\bmsrp\b|list\s+price|regular\s+price|"
    r"\breg\.|original(?:ly)?\b|\bbefore\b|compare\s+at|\bavant\b|au\s+lieu\s+de|"
    r"prix\s+barr[ée]|\bantes\b|precio\s+anterior|\bprima\b|invece\s+di|zamiast|"
    r"poprzednia|p[ôo]vodn[áa]|p[uů]vodn[ěí]|pre[tț]\s+vechi|原價|原价|建議售價|建议售价|"
    r"定價|市價|市价|정가|통상가|參考價|参考价|通常価格|定価|السعر\s+الأصلي|старая\s+цена|"
    r"было|ord(?:inarie)?\.?\s*pris|normalpris|\bnorm\.|veil(?:edende)?\.?\s*pris|"
    r"vejl(?:edende)?\.?\s*pris|\bf[øo]r\b|tidligere\s+pris|\baiemmin\b|\bennen\b|"
    r"\bpvp\b|\bpvpr\b|prix\s+conseill[ée]|prezzo\s+consigliato|adviesprijs|"
    # India's printed maximum retail price
    r"\bm\.?\s?r\.?\s?p\b\.?|"
    r"\breg\b\.?|regularly|\borig\b\.?|\bretail\b(?:\s+price|\s+value)?|\bmarket\s+price|"
    r"comp(?:are|\.)?\s+value|suggested\s+retail(?:\s+price)?|\bsrp\b|typical\s+price|"
    r"\blist\s*[:：]|previous\s+price|previously|former\s+price|formerly|\bold\s+price|"
    r"full\s+price|price\s+before|\bbisher|urspr[üu]nglich|alter\s+preis|streichpreis|"
    r"listenpreis|preisempf(?:ehlung|\.)|\bfr[üu]her|prix\s+(?:initial|de\s+r[ée]f[ée]rence|"
    r"public|habituel)|ancien\s+prix|precio\s+(?:habitual|de\s+referencia|normal|regular|"
    r"original)|prezzo\s+(?:di\s+listino|originale|pieno|precedente)|oude\s+prijs|"
    r"pre[çc]o\s+(?:original|anterior|antigo|de\s+tabela)|cena\s+(?:regularna|katalogowa|"
    r"poprzednia)|stara\s+cena|\bby[łl]o\b|b[ěe][žz]n[áa]\s+cena|eredeti\s+[áa]r|"
    r"r[ée]gi\s+[áa]r|kor[áa]bbi\s+[áa]r|pre[țţt]\s+ini[țţt]ial|tidigare\s+pris|\bovh\b\.?|"
    r"ohjehinta|стара\s+ціна|було|eski\s+fiyat|piyasa\s+fiyat\w*|liste\s+fiyat\w*|"
    r"αρχική\s+τιμή|παλιά\s+τιμή|מחיר\s+קודם|מחיר\s+מקורי|harga\s+(?:normal|asli|coret)|"
    r"giá\s+(?:gốc|cũ|niêm\s+yết)|ราคาปกติ|ราคาเดิม|希望小売価格|参考価格)"
    r"\s*[:：]?\s*\D{0,12}$"
)
# "Van € 50,00 voor € 40,00" (nl), "De R$ 50,00 por R$ 40,00" (pt): from ... for ...
_FROM_FOR_BEFORE_RE = re.compile(r"\b(?:van|de)\s*$")
_FROM_FOR_AFTER_RE = re.compile(r"^\s*(?:voor|por)\b")
# The EU's "lowest price of the last 30 days" before a discount: a former price, whose label
# holds a number of its own.
_LOWEST_BEFORE_RE = re.compile(
    r"(?:lowest\s+price|niedrigste[rn]?\s+(?:gesamt)?preis|najni[żz]sza\s+cena|"
    r"prix\s+le\s+plus\s+bas|precio\s+m[aá]s\s+bajo|prezzo\s+pi[uù]\s+basso|"
    r"laagste\s+prijs|nejni[žz]š[ií]\s+cena|najni[žz]šia\s+cena|legalacsonyabb\s+[aá]r|"
    r"cel\s+mai\s+mic\s+pre[țt]|l[äa]gsta\s+pris|laveste\s+pris|alin\s+hinta|"
    r"najni[žz][ae]\s+cijena|najni[žz]ja\s+cena|preço\s+mais\s+baixo|zemākā\s+cena|"
    r"mažiausia\s+kaina|madalaim\s+hind|χαμηλότερη\s+τιμή|най-ниска\s+цена)"
    r"[^\n]{0,60}$"
)
# A label naming the price to pay now: after a "was" word it ends the "was" price's label
# ("Regular price Sale price $40": the screen-reader labels of a sale price).
_CURRENT_LABEL_RE = re.compile(
    r"(?:\b(?:sale|special|offer|deal|our|your|current|member|promo|now|discounted|reduced|"
    r"final)\s+price|\bprice\s+with\s+(?:the\s+)?discount|"
    r"\bprice\s+now|\bnow\b|\bsale\b|\bjetzt\b|\bnur\b|aktionspreis|angebotspreis|"
    r"prix\s+(?:promo|sold[ée]|actuel)|\bmaintenant\b|\bahora\b|precio\s+(?:oferta|actual)|"
    r"prezzo\s+(?:scontato|attuale)|\bora\b|\bteraz\b|cena\s+promocyjna|\bnyn[ií]\b|"
    r"akční\s+cena|特價|特价|優惠價|优惠价|現價|现价|セール価格|販売価格|할인가|판매가)"
)
# "Buy now", "Shop now": a button, not a label of the amount after it.
_ACTION_NOW_RE = re.compile(r"\b(?:buy|shop|order|book|pay|call|get\s+it)\s+now\b")
_OLD_CLASS_RE = re.compile(
    # "old" as a word or a word's start ("old-price", "oldPrice", "price_old"), not inside
    # one: "font-bold", "placeholder", "golden" say nothing of a price, nor does a type
    # weight ("font-regular").
    r"(?<![a-z])old|priceold|\bwas\b|was[-_]|before|compare|strike|crossed|line-?through|"
    r"(?<!font-)(?<!text-)(?<!fw-)regular|original|"
    r"list[-_]?price|"
    r"listprice|\brrp|msrp|\buvp|previous|retail|reference[-_]?price|price[-_]?ref|"
    r"non[-_]?sale|full[-_]?price|initial"
)
_UNIT_AFTER_RE = re.compile(
    r"^\s*(?:\*\s*)?(?:(?:ttc|ht|tvac|incl\.?\s*vat|inkl\.?\s*mwst\.?)\s*)?"
    r"(?:/|per\b|pro\b|je\b|par\b|za\b|al\b|за\b|по\b)\s*(?:\d+(?:[.,]\d+)?\s*)?"
    r"(?:kg|g|gr|gram|grams|l|ltr|liter|litre|ml|cl|dl|m|m2|m²|m³|qm|cm|mm|lb|lbs|oz|"
    r"kilo|kilogram|100\s*g|100\s*ml|meter|metre|sq\.?\s*ft|公斤|克|升|"
    # a count: "$0.33/count", "($0.25 / ct)" is the price of one of a pack ("/ piece",
    # "/szt.", "/Stück" are not: shops print them after the price of the one item sold)
    r"count|ct|"
    # time: a call or a rental is charged by the minute, hour, day or night
    r"min|minute|minuto|minuten|hr|hour|heure|std|stunde|day|jour|tag|d[ií]a|giorno|night|"
    r"nuit|nacht|noche)\b"
)
_UNIT_BEFORE_RE = re.compile(
    r"(?:unit\s+price|price\s+per|per\s+unit|grundpreis|prix\s+au\s+(?:kg|kilo|litre)|"
    r"prix\s+unitaire|precio\s+por|cena\s+za\s+(?:kg|1)|jednostkowa)\W{0,5}$"
)
_INSTALMENT_BEFORE_RE = re.compile(
    r"(?:\b\d{1,2}\s*[x×]\s*(?:de\s+)?|\b\d{1,2}\s+(?:[\w-]+\s+){0,2}(?:rat|raty|rate|"
    r"raten|cuotas|mensualit[ée]s|installments|instalments|payments|splátk\w*|期|plazos|"
    r"parcelas|vezes|termijnen|taksit\w*|fois|erää|avbetalningar)\b\D{0,25}|"
    r"\b\d{1,2}\s+meses\s+sin\s+intereses\D{0,12}|"
    r"monthly|per\s+month|每期|每月|월|月々|aylık|delbetala\w*\s+(?:från|fra)?)\s*$"
)
_INSTALMENT_AFTER_RE = re.compile(
    r"^\s*\.?\s*(?:/\s*(?:mo|mth|month|mon|mes|mois|monat|mese|mies|měs|mån|mnd|md|kk|wk|"
    r"week|fortnight|月|월)\b|"
    r"(?:per|a|al|par|pro|im|x|×)\s*(?:month|mes|mois|monat|mese|miesiąc)|monthly|"
    r"mtl\.|monatlich|mensile|mensual|mensuel|miesięcznie|mesačne|měsíčně|/\s*月|/\s*월|"
    # "$10.00 fortnightly with Afterpay", "£13.33 x 3 months", "$10 today and 3 more payments"
    r"(?:bi-?)?weekly|fortnightly|[x×]\s*\d{1,2}\b|(?:due\s+)?today\b[^\n]{0,40}?"
    r"(?:payments|instalments|installments))"
)
_SHIPPING_RE = re.compile(
    r"(?:shipping|delivery|deliver|postage|\bpost\b|versand|lieferung|livraison|"
    r"env[ií]o|spedizion|verzend|bezorg|dostaw|doprav|frakt|toimitus|leverans|forsendelse|"
    r"доставк|kargo|運費|运费|配送|送料|배송|توصيل|شحن|free\s+over|orders?\s+over|"
    r"orders?\s+(?:from|above)|ab\s+einem|à\s+partir\s+de\s+\d|a\s+partir\s+de\s+\d|"
    r"flat\s+rate|next[-\s]day|same[-\s]day|courier|kurier|paczkomat|levering|"
    r"click\s*&\s*collect)"
    r"[^\n]{0,30}$"
)
# An add-on's cost or a reward, not the product's price: "+$4.99", "Gift wrap $4.99",
# "Assembly: $19.99", "Add a 3-year guarantee £4.99", "Pfand 0,25 €", "Earn $2.00".
_ADD_ON_BEFORE_RE = re.compile(
    r"(?:\+\s*|(?:gift[-\s]?wrap\w*|engraving|personali[sz]ation|assembly|installation|"
    r"montage|warranty|guarantee|protection\s+plan|pfand|deposit|statiegeld|kaucja|záloha|"
    r"\bearn|cash\s*back|gift\s*card)\b\s*(?:[:：]|for|from|of|at|only)?\s*\+?\s*)$"
)
# The same named by the words after the amount: "$5.99 Standard Shipping", "£3.95 Click &
# Collect", "$10 gift card", "$2.00 in rewards" ("$40 free shipping" and "£40 Next day
# delivery" are the price, with what delivery it has).
_COST_AFTER_WORDS_RE = re.compile(
    r"[ \t\u00a0]*(?:(?:(?:standard|express|economy|tracked|ground|priority|expedited|"
    r"international|flat[-\s]rate)[ \t]+)(?:shipping|delivery|postage)|"
    r"click\s*&\s*collect|(?:e-?)?gift\s*card|in\s+rewards|rewards\b|cash\s*back|"
    r"bottle\s+deposit)"
)
_SAVING_RE = re.compile(
    # a ceiling, not a price: "Save up to $250", "Get up to $700 off", "bis zu 50 €"
    r"(?:\bup\s+to|\bbis\s+zu|jusqu['’]\s*[àa]|\bhasta|\bfino\s+a)\s*\D{0,3}$|"
    r"(?:you\s+save|\bsave\b|sparen|ersparnis|économ|ahorr|risparm|oszczęd|ušetr|"
    r"bespaar|\bspar\b|säästä|taniej\s+o|экономи|現省|省下|节省|절약|할인금액|\boff\b|discount|rabatt|"
    r"remise|descuento|sconto|zľava|sleva|reducere)\s*[:：]?\s*\D{0,6}$"
)
# A threshold, not a price: "free delivery for orders of 50 € or more".
_THRESHOLD_AFTER_RE = re.compile(
    r"^\s*(?:or\s+more|and\s+(?:over|above|up)|or\s+above|\+\s*(?:orders?|spend)|"
    r"oder\s+mehr|und\s+mehr|ou\s+plus|et\s+plus|o\s+m[aá]s|y\s+m[aá]s|o\s+pi[uù]|"
    r"of\s+meer|en\s+meer|lub\s+wi[eę]cej|eller\s+mer|ou\s+mais|او\s+أكثر|أو\s+أكثر|以上|"
    # what is left to spend: "$25.00 more for free shipping", "€10 away from free delivery"
    r"(?:more|away)\b[^\n]{0,30}?\b(?:free|shipping|delivery|qualify)|"
    r"(?:bis\s+zu[mr]|fehlen\s+(?:noch\s+)?bis)\b[^\n]{0,20}?(?:versand|lieferung)|"
    r"(?:de\s+plus|manquants?)\b[^\n]{0,30}?livraison)"
)
# Tax words: a price "excl. VAT" is not what the buyer pays when the page also shows the
# price with VAT; "incl. VAT" marks the price to pay. Matched after the amount (same line,
# a few words) or just before it ("Price excl. VAT: 100 €").
_TAX_NOUNS = (
    r"(?:vat|tax|taxes|mwst|ust|tva|taxe|iva|btw|dph|moms|mva|gst|impostos|imposte|podatku|"
    r"podatkiem|alv|áfa|afa|pdv(?:-?\w{1,2})?|ddv|ддс|pvm|pvn|kdv|φπα)"
)
_EX_VAT_RE = re.compile(
    r"(?:(?:\b(?:excl|excluding|exkl|ekskl|eks|exclusief|zzgl|ohne|hors|sin|senza|sem|bez|brez|"
    r"utan|uden|uten|ex|without|plus|fără|fara|be|χωρίς|без)\.?|\+|\bs/)\s*"
    r"(?:de\s+|la\s+|l'|gesetzl\.?\s*)?" + _TAX_NOUNS + r"(?!\w)|"
    r"\b(?:iva|vat|tax|mwst|tva)\s*(?:esclusa|escl\.?|excl\.?|exclu\w*)|"
    r"\bh\.?t\.?(?![\w.])|\bhtva\b|\bnett?o\b|\bnettó\b|\bnet\s+price|\bprix\s+ht|"
    r"\bpre[cç]o\s+sem\s+iva|\bohne\s+steuer|\balv\s*0\s*%|\bveroton|\bkm\s*-\s*ta\b|"
    r"税抜|税別|本体価格|未税|未稅|不含税|不含稅|稅前|税前|부가세\s*별도|vat\s*별도)"
)
_INC_VAT_RE = re.compile(
    r"(?:(?:\b(?:incl|including|inkl|inc|inclusief|incluye|inclu[ií]do|inclusa|con|com|z|s|"
    r"med|with|mit|cu|sis|με|с|su|ar)\.?|\bc/)\s*(?:de\s+|la\s+|l'|gesetzl\.?\s*)?"
    + _TAX_NOUNS
    + r"(?!\w)|\b(?:vat|tax|iva|tva|mwst|btw|moms|gst|kdv|alv|mva)\.?\s*(?:incl|inkl|"
    r"included|inclu[ií]d[ao]|incluse|inclusa|compris[e]?|compresa|dahil|inclusive)|"
    r"\bttc\b|\btvac\b|\bbrutto\b|\bbruttó\b|tasse\s+incluse|tax\s+included|"
    r"\bkm\s*-\s*ga\b|"
    r"تتضمن\s+ضريبة|شامل\s+الضريبة|含税|含稅|税込|税込み|부가세\s*포함)"
)
# Auction pages: an estimate or a starting bid is not a price to pay.
_AUCTION_BEFORE_RE = re.compile(
    r"(?:estimate|\best\.|starting\s+bid|opening\s+bid|start(?:ing)?\s+price|"
    r"minimum\s+bid|sch[äa]tz(?:preis|ung|wert)|startpreis|mindestgebot|ausruf(?:preis)?|"
    r"estimation|mise\s+[àa]\s+prix|prix\s+de\s+d[ée]part|stima|base\s+d'asta|"
    r"precio\s+de\s+salida|estimaci[oó]n|puja\s+(?:inicial|m[ií]nima)|startprijs|"
    r"schatting|cena\s+wywo[łl]awcza|utropspris|vurdering|lance\s+inicial|估价|估價|"
    r"起拍价|起拍價|見積)\s*[:：]?\s*\D{0,12}$"
)
# Another offer of the same product in another condition: "Used for $1,149", "Refurbished
# from 99 €", "Gebraucht ab 80 €" is not the price of the (new) product the page sells.
_OTHER_CONDITION_BEFORE_RE = re.compile(
    r"(?:\bused|refurbished|renewed|pre-?owned|open[-\s]box|second[-\s]hand|gebraucht|"
    r"generalüberholt|d['’]occasion|reconditionn[ée]|usados?|reacondicionados?|usato|"
    r"ricondizionato|gebruikt|używany|begagnad|b-?stock|ex-?demo|ex-?display|outlet)"
    r"\s+(?:(?:available|offers?|verfügbar|disponible)\s+)?"
    r"(?:for|from|starting\s+at|ab|à\s+partir\s+de|"
    r"dès|desde|a\s+partir\s+de|da|vanaf|od|från)\s*[:：]?\s*\D{0,6}$"
)
# An amount named by the words right after it, on its line, as something else than the
# price: a discount ("$5.00 off", "10,00 € gespart"), a shipping cost ("4,95 € Versand"), a
# deposit or a rebate.
_NOT_PRICE_AFTER_RE = re.compile(
    r"[ \t\u00a0]*(?:off\b|saved\b|savings?\b|discount|rebate|mail-in|deposit|shipping|"
    r"deliver(?:y|ies)\b|postage|versand|lieferung|porto\b|gespart|ersparnis|rabatt|"
    r"(?:de\s+|d['’]\s*)?(?:livraison|frais\s+de\s+port|r[ée]duction|remise|[ée]conomie)|"
    r"(?:de\s+)?(?:env[ií]o|descuento|ahorro)|(?:di\s+)?(?:spedizione|sconto|risparmio)|"
    r"verzend|korting|bespaard|wysyłk|dostaw|rabat\b|fragt|frakt|"
    # the price of a subscription or a membership, besides the one-off price
    r"(?:with|w/|for)\s+(?:a\s+)?(?:subscription|subscribe|membership|members\b|trade-?in)|"
    # a credit towards a purchase: "$900 instant trade-in credit", "$50 store credit"
    r"(?:(?:instant|trade-?in|reserve|store|bonus|account|promo(?:tional)?|reward)\s+){0,2}"
    r"credits?\b(?!\s*card)|guthaben|(?:de\s+)?cr[ée]dit\b|"
    # a sum, not a price: "$1 million in annual revenue", "5 Mrd. €"
    r"(?:million|billion|trillion|mio\b|mrd\b|milliards?|mill(?:ones|[oó]n)|milion\w*|"
    r"milioni?|miljoen|miljon\w*|miliard\w*|bn\b))"
)
_HEADER_WORDS_RE = re.compile(
    r"minicart|mini-cart|mini_cart|cart-total|cart_total|basket-total|header|navbar|"
    r"\bnav\b|navigation|\bmenu|footer|breadcrumb|topbar|top-bar|newsletter"
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
    #: "incl. VAT" (True), "excl. VAT" (False) or nothing said (None).
    with_vat: bool | None = None


def vat_said(before: str, after: str) -> bool | None:
    """Whether the words around an amount say it includes VAT (True), excludes it (False),
    or nothing (None). The words right after the amount win ("119 € incl. VAT (100 € excl.
    VAT)"); then the last ones before it, on the same line."""
    first, _, rest = after.partition("\n")
    # An amount ending its line is labelled by the line after it ("£169" then "All prices
    # incl. VAT") when that whole line is words (``after`` stops at the next amount: a line
    # holding one, "Gross: 127 Ft", is that amount's label).
    if not first.strip(" \t\u00a0*") and "\n" in rest:
        first = rest.split("\n", 1)[0]
    after = first[:40]
    inc, ex = _INC_VAT_RE.search(after), _EX_VAT_RE.search(after)
    if inc or ex:
        if inc and ex:
            return inc.start() < ex.start()
        return inc is not None
    before = before[-40:]
    inc_at = max((m.start() for m in _INC_VAT_RE.finditer(before)), default=-1)
    ex_at = max((m.start() for m in _EX_VAT_RE.finditer(before)), default=-1)
    if inc_at < 0 and ex_at < 0:
        return None
    return inc_at > ex_at


def price_candidates(
    page: PageText, locale: PageLocale | None, start: int = 0, end: int | None = None
) -> list[PriceCandidate]:
    text, lower = page.text, page.lower
    found: list[PriceCandidate] = []
    matches = find_prices(
        text, decimal_separator=decimal_separator_for(locale), limit=300, start=start, end=end
    )
    for position, match in enumerate(matches):
        if match.amount <= 0:
            continue
        # Words after the next amount, or before the previous one, are that amount's.
        next_start = matches[position + 1].start if position + 1 < len(matches) else len(text)
        previous_end = matches[position - 1].end if position > 0 else 0
        digits = re.search(r"\d+", match.text)
        if digits and len(digits.group(0)) > 1 and digits.group(0).startswith("0"):
            continue  # "05 TOP": a number in a name, not an amount ("0.99" is fine)
        line_start = max(lower.rfind("\n", 0, match.start) + 1, match.start - 40)
        before = lower[line_start : match.start]
        after = lower[match.end : match.end + 30]
        if _UNIT_AFTER_RE.search(after) or _UNIT_BEFORE_RE.search(before):
            continue
        if _INSTALMENT_BEFORE_RE.search(before) or _INSTALMENT_AFTER_RE.search(after):
            continue
        if _SHIPPING_RE.search(before) or _SAVING_RE.search(before):
            continue
        if _ADD_ON_BEFORE_RE.search(before) or _COST_AFTER_WORDS_RE.match(after):
            continue
        if _THRESHOLD_AFTER_RE.search(after) or _AUCTION_BEFORE_RE.search(before):
            continue
        if _OTHER_CONDITION_BEFORE_RE.search(before) or _NOT_PRICE_AFTER_RE.match(after):
            continue
        low = _range_low_end(text, line_start, match)
        if low is not None:
            # "10,00 - 14,50 €": the lowest price a buyer can pay (as lowPrice), unless the
            # range is an auction's estimate.
            if _AUCTION_BEFORE_RE.search(lower[max(line_start, low.start - 40) : low.start]):
                continue
            match = low
        elif re.match(r"\s*%", after) or _DISCOUNT_SIGN_RE.search(before):
            continue  # "-20 %" or "-€5": a discount
        old = was_said(before) or (not before.strip() and was_said(_line_before(lower, line_start)))
        if not old and _FROM_FOR_BEFORE_RE.search(before):
            old = bool(_FROM_FOR_AFTER_RE.match(after))
        if not old:
            wide = lower[
                max(lower.rfind("\n", 0, match.start) + 1, match.start - 100) : match.start
            ]
            old = bool(_LOWEST_BEFORE_RE.search(wide))
        with_vat = vat_said(
            lower[max(line_start, previous_end) : match.start],
            lower[match.end : min(match.end + 60, next_start)],
        )
        if with_vat is False:
            old = True  # taken only when no price with VAT (or unmarked) is there
        index: int | None = None
        priced = False
        owner = page.owner_at(match.start + len(match.text) // 2)
        if owner is not None:
            index = page.order.get(owner)
            tags, words = page.context(owner)
            if tags & {"del", "s", "strike"}:
                continue
            if page.block_says(owner, _HEADER_WORDS_RE, title_copy=True) or page.in_other_products(
                owner
            ):
                continue
            _, near_words = page.context(owner, levels=3)
            if _OLD_CLASS_RE.search(near_words):
                old = True
            priced = bool(_PRICE_WORDS_RE.search(words))
        found.append(PriceCandidate(match, index, old, priced or bool(with_vat), with_vat))
    _mark_spoken_old(found)
    return found


def _mark_spoken_old(found: list[PriceCandidate]) -> None:
    """An amount followed at once by the same amount labelled as the former price is that
    former price, shown struck through and then spoken for screen readers ("$50.00 Original
    price was: $50.00. $40.00 Current price is: $40.00."): in plain text, nothing else tells
    it from the price to pay."""
    for cand, following in pairwise(found):
        if (
            not cand.old
            and following.old
            and following.match.amount == cand.match.amount
            and following.match.symbol == cand.match.symbol
            and following.match.start - cand.match.end <= 60
        ):
            cand.old = True


# What may stand between a sale price and the original it replaces besides spaces: the first
# amount's currency code, the discount (a percentage, or an amount saved: "-20%", "Save
# 20%", "You save $10.00 (20%)", "-10,00 €"), an arrow.
_MONEY = (
    r"(?:[$€£¥₹]|[A-Z]{1,3}\$)?\s*\d{1,3}(?:[.,\u00a0 ]\d{3})*(?:[.,]\d{1,2})?"
    r"\s*(?:[$€£¥₹]|[A-Z]{3}|zł|kr|Kč|Ft|lei)?"
)
_PERCENT = r"\d{1,2}(?:[.,]\d)?\s*%"
_DISCOUNT_BETWEEN_RE = re.compile(
    rf"\s*(?:[A-Z]{{3}}\s+)?(?:\(?\s*(?:(?:(?i:you\s+save|save|spare|sparen\s+sie|"
    rf"économisez|ahorra|risparmi|oszczędzasz)\s*:?\s*|[-−–]\s*)(?:{_MONEY}|{_PERCENT})"
    rf"(?:\s*\(\s*[-−–]?\s*{_PERCENT}\s*\))?|{_PERCENT}\s*(?i:off|rabatt|de\s+descuento|"
    rf"de\s+r[ée]duction))\s*\)?\s*)?(?:(?:→|->|⟶|»)\s*)?"
)
# "-€5", "(- 5 €)": a discount. "Add to cart - $40", "Blue Kettle – $40": a separator.
_DISCOUNT_SIGN_RE = re.compile(r"[-−–]$|(?:^|[(\[:])\s*[-−–]\s+$")


def was_said(before: str) -> bool:
    """Whether the words just before an amount label it as a former price ("was", "RRP",
    "Regular price"), and no label of the price to pay comes after them ("Regular price
    Sale price $40": screen-reader labels, the second one is the amount's)."""
    found = _OLD_WORDS_RE.search(before)
    return found is not None and _CURRENT_LABEL_RE.search(before, found.start() + 2) is None


def _line_before(lower: str, line_start: int) -> str:
    """The line before the one starting at ``line_start`` when it is a short label of its
    own ("Was", "Regular price:", "RRP"), else "": a label and its amount are often in
    blocks of their own, so on lines of their own in the page's text."""
    end = line_start - 1
    for _ in range(2):  # the line before, or the one before an empty line
        if end < 0 or lower[end] != "\n":
            return ""
        start = lower.rfind("\n", 0, end) + 1
        line = lower[start:end].strip()
        if line:
            return line if len(line) <= 30 and not any(c.isdigit() for c in line) else ""
        end = start - 1
    return ""


_RANGE_LOW_RE = re.compile(
    r"(?<![\d.,])(?P<low>\d{1,9}(?:[.,\u00a0 ']\d{3})*(?:[.,]\d{1,2})?)\s*[-–—]\s*$"
)


def _range_low_end(text: str, line_start: int, match: PriceMatch) -> PriceMatch | None:
    """The low end of a range whose high end is ``match`` ("352,00 - 376,45 zł"): a bare
    number, a dash, then the price with its currency mark. A range's low end is the price
    from which the product is sold (as a JSON-LD AggregateOffer's lowPrice); a "from 10 €"
    price is taken as written for the same reason."""
    found = _RANGE_LOW_RE.search(text, line_start, match.start)
    if found is None:
        return None
    raw = re.sub(r"[\u00a0 ']", "", found.group("low"))
    decimals = re.search(r"[.,](\d{1,2})$", raw)
    whole = re.sub(r"[.,]", "", raw[: decimals.start()] if decimals else raw)
    try:
        amount = Decimal(f"{whole}.{decimals.group(1)}" if decimals else whole)
    except InvalidOperation:
        return None
    if amount is None or amount <= 0 or amount >= match.amount:
        return None
    low_start = found.start("low")
    return PriceMatch(amount, match.symbol, low_start, match.end, text[low_start : match.end])


def _labels_what_follows(line: str) -> bool:
    """Whether ``line`` ends with a label of the price to pay ("Sale:", "Now", "Sale
    price"), not merely holds one ("Sale ends Sunday")."""
    ends = [m.end() for m in _CURRENT_LABEL_RE.finditer(line)]
    return bool(ends) and not line[ends[-1] :].strip(" \t:：-–")


def _first_current(cands: list[PriceCandidate]) -> PriceCandidate | None:
    """The first candidate that is not a "was" price, else the first one."""
    for cand in cands:
        if not cand.old:
            return cand
    return cands[0] if cands else None


def sale_of_pair(
    page: PageText, chosen: PriceCandidate, cands: list[PriceCandidate]
) -> PriceCandidate:
    """Two prices side by side (nothing but spaces between them) are a sale price and the
    original it replaces, in either order: the lower one is the price to pay. Three or more
    in a row are a list (the amounts of a gift card, the prices of sizes), not a pair."""
    text = page.text

    def touching(a: PriceCandidate, b: PriceCandidate) -> bool:
        first, second = (a, b) if a.match.start < b.match.start else (b, a)
        gap = text[first.match.end : second.match.start]
        return (len(gap) <= 3 and not gap.strip()) or bool(_DISCOUNT_BETWEEN_RE.fullmatch(gap))

    ordered = sorted(cands, key=lambda c: c.match.start)
    at = next((i for i, c in enumerate(ordered) if c is chosen), None)
    if at is None:
        return chosen
    run = [chosen]
    i = at
    while i > 0 and touching(ordered[i - 1], ordered[i]):
        i -= 1
        run.insert(0, ordered[i])
    i = at
    while i + 1 < len(ordered) and touching(ordered[i], ordered[i + 1]):
        i += 1
        run.append(ordered[i])
    if len(run) == 2 and run[0].match.symbol == run[1].match.symbol:
        if run[0].old or run[1].old:
            return chosen  # one is labelled (a "was" or an ex-VAT price): no guessing
        return min(run, key=lambda c: c.match.amount)
    if len(run) == 1 and at + 1 < len(ordered):
        following = ordered[at + 1]
        gap = page.lower[chosen.match.end : following.match.start]
        label_line = next((x for x in reversed(gap.split("\n")) if x.strip()), "")
        if (
            not following.old
            and following.match.symbol == chosen.match.symbol
            and following.match.amount < chosen.match.amount
            and len(gap) <= 30
            and not any(c.isdigit() for c in gap)
            and not _CURRENT_LABEL_RE.search(
                page.lower, max(0, chosen.match.start - 30), chosen.match.start
            )
            and _labels_what_follows(label_line)
            and not _ACTION_NOW_RE.search(gap)
        ):
            # "$50.00 / Sale: $40.00", "$50.00 Now $40.00": an unlabelled amount followed at
            # once by a lower one labelled as the price to pay now is the former price.
            return following
    return chosen


# The product's own price slot saying it costs nothing: a line of its own, "Free", "Free To
# Play", "Free download" (a game, an app, a download). Amounts after it are other things'
# (a bundle, an add-on), so the product has no price.
_FREE_LINE_RE = re.compile(
    r"^[ \t\u00a0]*(?:free(?:[ \t]+to[ \t]+(?:play|download|use|install))?|free[ \t]+download|"
    r"kostenlos|gratis|gratuit|gratuito|darmowy|zdarma|ilmainen|無料|免费|免費|무료)"
    r"[ \t\u00a0]*!?[ \t\u00a0]*$",
    re.MULTILINE,
)


#: A returns label ("Returns", "Retour", "Rücksendung"): its "Free" is not the product's.
_RETURNS_RE = re.compile(r"return|retour|r[üu]ck")


def free_slot(lower: str, start: int, end: int) -> bool:
    """Whether a line between ``start`` and ``end`` says the product is free, and is not the
    value of a shipping or returns label on the line before ("Delivery" then "Free")."""
    for found in _FREE_LINE_RE.finditer(lower, start, end):
        previous = lower[max(start, found.start() - 60) : found.start()].rstrip()
        label = previous.rsplit("\n", 1)[-1]
        if not _SHIPPING_RE.search(label) and not _RETURNS_RE.search(label):
            return True
    return False


def first_price_after(candidates: list[PriceCandidate], offset: int) -> int:
    """Where the first amount after ``offset`` starts (the product's price slot ends there;
    a "Free" after it is another thing's: a delivery, a gift)."""
    return min((c.match.start for c in candidates if c.match.start > offset), default=offset)


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
        # The product's price comes before a heading of other products ("You may also like").
        heading = OTHER_PRODUCTS_HEADING_RE.search(page.lower, start, end)
        if heading is not None:
            end = heading.start()
        after = price_candidates(page, locale, start, end)
        chosen = _first_current(after)
        if chosen is not None and free_slot(page.lower, start, chosen.match.start):
            return None
        if chosen is not None:
            chosen = sale_of_pair(page, chosen, after)
            return _guess(chosen, 0.7 if chosen.priced_context else 0.6)
        start, end = page.span((max(0, title_index - 250), title_index))
        before = price_candidates(page, locale, start, end)
        before.reverse()
        chosen = _first_current(before)
        if chosen is not None:
            return _guess(chosen, 0.5)
    if buy_index is not None:
        start, end = page.span((max(0, buy_index - 300), buy_index))
        before = price_candidates(page, locale, start, end)
        before.reverse()
        chosen = _first_current(before)
        if chosen is not None and free_slot(page.lower, chosen.match.end, end):
            return None  # "$19.50 [a bundle's]", then "Free To Play [Play]"
        if chosen is not None:
            return _guess(chosen, 0.55)
    candidates = price_candidates(page, locale, 0, min(len(page.text), 300_000))
    chosen = _first_current([c for c in candidates if c.priced_context])
    if chosen is not None:
        if title_index is not None:
            title_at = page.span((title_index, title_index))[0]
            if free_slot(page.lower, title_at, first_price_after(candidates, title_at)):
                return None
        return _guess(chosen, 0.45)
    return None
