"""A synthetic shop for the learning tests: one template, several products.

The template shows a reference price next to the title, unmarked (no "was", no strike, no
class a generic rule could know), and the price a buyer pays after the buy button: the
extractor's generic rules take the first, a user knows it is the second.
"""

from __future__ import annotations

SHOP = "https://www.fernhill-goods.example"


def shop_page(name: str, reference: str, now: str, *, note: str = "Solid oak.") -> str:
    return f"""<!doctype html><html lang="en-US"><head><title>{name} | Fernhill Goods</title>
</head><body><header><nav><a href="/">Home</a> <a href="/basket">Basket</a></nav></header>
<main><div class="product-card"><h1 class="product-title">{name}</h1>
<div class="ref"><span class="amt">${reference}</span></div>
<p class="desc">{note}</p><button class="buy">Add to basket</button>
<div class="deal"><span class="amt">${now}</span></div></div>
<section class="related"><h2>You may also like</h2>
<div class="tile"><span class="amt">$5.00</span></div></section></main></body></html>"""


PAGE_A = (f"{SHOP}/p/oak-stool", shop_page("Oak Stool", "59.99", "39.99"))
PAGE_B = (f"{SHOP}/p/pine-bench", shop_page("Pine Bench", "120.00", "89.50"))
PAGE_C = (f"{SHOP}/p/ash-shelf", shop_page("Ash Shelf", "75.00", "49.00"))
