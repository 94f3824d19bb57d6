"""The popup and the page type (issue 17): on a grid of products the popup says to open one
and offers no "Save this product", only a quieter "save it anyway" for when the check is
wrong; on a product page it offers the save. The real backend and the real page classifier
decide; the grid is a category page written here (no page of the data sets is named by a
rule)."""

from __future__ import annotations

import json
from typing import Any

from e2e.conftest import Extension
from e2e.shops import SavedPage, ShopServer, product_page

COLLECTION_MESSAGE = "This looks like a list of products; open one to save it."
# nay.sk, "Garni 570 Easy II čierna" (a product page with Product data), as test_flows uses.
PRODUCT = "ccbaa81cc8"

_CHAIRS = [
    ("Oak dining chair", "89.00"),
    ("Walnut armchair", "249.00"),
    ("Rattan lounge chair", "179.00"),
    ("Beech stool", "39.00"),
    ("Velvet accent chair", "199.00"),
    ("Folding garden chair", "29.00"),
    ("Office chair, mesh back", "149.00"),
    ("Rocking chair, pine", "129.00"),
    ("Bar stool, metal", "59.00"),
    ("Kids' chair, birch", "25.00"),
    ("Recliner, leather", "599.00"),
    ("Bench, solid ash", "219.00"),
]


def _category_page() -> str:
    """A furniture shop's "Chairs" category: a grid of priced cards, each with its own
    add-to-cart button, a sort control, pagination and an ItemList in JSON-LD."""
    cards = "\n".join(
        f"""<li class="product-card">
          <a href="/products/{name.lower().replace(" ", "-").replace(",", "")}">
            <img src="/img/{i}.jpg" alt="{name}"><h3>{name}</h3></a>
          <span class="price">${price}</span>
          <button class="btn add-to-cart" type="button">Add to cart</button>
        </li>"""
        for i, (name, price) in enumerate(_CHAIRS)
    )
    item_list = {
        "@context": "https://schema.org",
        "@type": "ItemList",
        "itemListElement": [
            {"@type": "ListItem", "position": i + 1, "url": f"/products/chair-{i}"}
            for i in range(len(_CHAIRS))
        ],
    }
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Chairs | Northwood Furniture</title>
<meta name="description" content="Shop all chairs: dining chairs, armchairs, stools and more.">
<script type="application/ld+json">{json.dumps(item_list)}</script>
<link rel="next" href="/collections/chairs?page=2"></head>
<body><header><a href="/">Northwood Furniture</a> <a href="/cart">Cart</a></header>
<main><h1>Chairs</h1><p>{len(_CHAIRS)} of 48 products</p>
<label>Sort by <select name="sort_by"><option>Featured</option><option>Price, low to high</option>
</select></label>
<ul class="product-grid">{cards}</ul>
<nav class="pagination"><a href="/collections/chairs?page=2" rel="next">Next</a></nav>
</main></body></html>"""


def chairs_page(key: str) -> SavedPage:
    return SavedPage(
        key=key,
        original_url="https://northwood.example/collections/chairs",
        html=_category_page(),
        truth={},
    )


def open_popup_on(ext: Extension, url: str, user: dict[str, Any]) -> Any:
    _, tab_id = ext.open_shop_page(url)
    popup = ext.popup(tab_id)
    ext.sign_in(popup, user["email"], user["password"])
    return popup


def test_a_grid_of_products_asks_to_open_one(
    ext: Extension, shops: ShopServer, new_user: dict[str, Any]
) -> None:
    popup = open_popup_on(ext, shops.serve(chairs_page("chairs")), new_user)

    check = popup.locator("[data-testid=page-check][data-page-type]")
    check.wait_for()
    assert check.get_attribute("data-page-type") == "collection"
    assert check.get_attribute("data-is-product") == "false"
    assert check.inner_text() == COLLECTION_MESSAGE
    assert popup.get_by_test_id("save").is_hidden()
    assert popup.get_by_test_id("save-anyway").is_visible()
    ext.screenshot(popup, "page-type-collection.png")


def test_a_page_the_check_calls_a_grid_can_still_be_saved(
    ext: Extension, shops: ShopServer, new_user: dict[str, Any]
) -> None:
    """The user knows better than the check: "save it anyway" saves the page, and the item
    keeps the check's verdict, which is what the admin's "page check said" filter (the
    classifier's labelling queue) reads."""
    api = new_user["api"]
    cart_id = api.post("carts/", {"name": "Chairs"})["id"]
    popup = open_popup_on(ext, shops.serve(chairs_page("chairs-anyway")), new_user)
    popup.locator("[data-testid=page-check][data-page-type=collection]").wait_for()

    popup.locator(f"[data-testid=cart-option][data-cart-id='{cart_id}']").check()
    popup.get_by_test_id("save-anyway").click()
    status = popup.locator("[data-testid=save-status][data-state]")
    status.wait_for()
    assert status.get_attribute("data-state") == "saved", status.inner_text()

    items = api.get("items/")["results"]
    assert len(items) == 1
    assert items[0]["cart_ids"] == [cart_id]
    assert items[0]["extraction"]["page_check"]["page_type"] == "collection"
    # Once the save is over, the popup still says what the check thinks, and still offers
    # only the quiet save.
    popup.wait_for_function("() => !document.body.dataset.busy")
    assert popup.get_by_test_id("page-check").inner_text() == COLLECTION_MESSAGE
    assert popup.get_by_test_id("save").is_hidden()
    assert popup.get_by_test_id("save-anyway").is_enabled()


def test_a_product_page_offers_the_save(
    ext: Extension, shops: ShopServer, new_user: dict[str, Any]
) -> None:
    popup = open_popup_on(ext, shops.serve(product_page(PRODUCT)), new_user)

    check = popup.locator("[data-testid=page-check][data-page-type]")
    check.wait_for()
    assert check.get_attribute("data-page-type") == "product"
    assert check.inner_text() == "This looks like a product page."
    assert popup.get_by_test_id("save").is_visible()
    assert popup.get_by_test_id("save-anyway").is_hidden()
