"""The shared product vocabulary: what every app means by a product page's words and data.

Carts, extraction and mlverify all reason about the same things: a product page's address and
the tracking parameters that do not change which product it shows (:mod:`.urls`), the JSON-LD
a shop embeds (:mod:`.jsonld`), the visible text of a page and the words of its buy button
(:mod:`.text`), money and currencies with their ISO 4217 minor units (:mod:`.money`), the
currency signs pages print (:mod:`.currency_signs`) and availability (:mod:`.availability`).
Each is stated once here, at the bottom of the import layers, so that no app keeps its own
copy and no app imports another to reach it.
"""
