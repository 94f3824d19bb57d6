"""The price watch from the extension's side (issue 15, flow 5 and the badge).

``test_a_price_drop_seen_on_a_revisit_notifies`` is flow 5 against the real backend; it
needs the price-watch API (issue 14). The other tests hold the extension's watch code to the
contract in architecture.md ("Price and stock watch") with a stand-in API on loopback: the
content script matches the page locally and sends nothing for other pages, at most one
observation per page per hour, the watch list revalidated with its ETag, the badge from
``notifications/?unread=true`` and the popup's ``price-change``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from e2e.conftest import Extension
from e2e.fakeapi import Answer, FakeApi, Recorded, signed_in_auth, with_a_cart
from e2e.shops import ShopServer, article_page, product_page

PRODUCT = "ccbaa81cc8"  # nay.sk, 54.50 EUR ("price":54.5 in its JSON-LD, "54,50 €" on screen)
ARTICLE = "098bb3e96c"
ETAG = '"watch-v1"'


def wait_until(check: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what or check}")


def header(request: Recorded, name: str) -> str | None:
    return next((v for k, v in request.headers.items() if k.lower() == name.lower()), None)


def badge(ext: Extension) -> str:
    return str(ext.chrome("async () => chrome.action.getBadgeText({})"))


@pytest.fixture
def watch_api(shops: ShopServer) -> Iterator[FakeApi]:
    """A stand-in API where the user saved the nay.sk product at 54.50 and it is now 49.00."""
    api = FakeApi()
    with_a_cart(api)
    path = product_page(PRODUCT).path

    def watch_urls(request: Recorded) -> Answer:
        if header(request, "If-None-Match") == ETAG:
            return Answer(304, None, {"ETag": ETAG})
        items = [{"item_id": "item-1", "match": "127.0.0.1" + path.rstrip("/")}]
        return Answer(200, {"drop_params": ["ref"], "items": items}, {"ETag": ETAG})

    api.route("GET", "watch/urls/", watch_urls)
    api.route(
        "POST",
        "watch/observations/",
        Answer(
            202,
            {
                "matched": True,
                "item_id": "item-1",
                "price": "49.00",
                "currency": "EUR",
                "availability": "InStock",
                "changed": {"price": {"from": "54.50", "to": "49.00"}},
            },
        ),
    )
    api.route(
        "GET",
        "notifications/?unread=true&limit=1",
        Answer(200, {"count": 1, "next": None, "previous": None, "results": [{"id": "n1"}]}),
    )
    api.route(
        "GET",
        "items/item-1/",
        Answer(
            200,
            {"id": "item-1", "price": "49.00", "currency": "EUR", "cart_ids": ["fake-cart"]},
        ),
    )
    api.route(
        "GET",
        "carts/fake-cart/items/?limit=200",
        Answer(
            200,
            {
                "count": 1,
                "next": None,
                "previous": None,
                "results": [{"id": "item-1", "price_at_add": "54.50", "currency_at_add": "EUR"}],
            },
        ),
    )
    try:
        yield api
    finally:
        api.close()


def test_the_watch_script_runs_on_the_granted_shops(ext: Extension) -> None:
    scripts = ext.chrome(
        "async () => (await chrome.scripting.getRegisteredContentScripts())"
        ".map((s) => ({id: s.id, matches: s.matches, js: s.js}))"
    )
    (script,) = scripts
    assert script["id"] == "buyhive-watch"
    assert set(script["matches"]) == {"http://127.0.0.1/*", "http://localhost/*"}
    assert script["js"][-1] == "watch.js"


def test_a_saved_products_page_is_reported_once_an_hour(
    ext: Extension, shops: ShopServer, watch_api: FakeApi
) -> None:
    ext.set_api_base(watch_api.base)
    ext.set_auth(signed_in_auth())
    product = product_page(PRODUCT)
    # Dropped parameters (drop_params, utm_*) do not stop the match.
    url = shops.serve(product) + "?ref=newsletter&utm_source=mail"
    shop_page, tab_id = ext.open_shop_page(url)

    (observation,) = wait_until(
        lambda: watch_api.sent("POST", "watch/observations/"), what="the observation"
    )
    assert observation.body["url"] == url
    assert '"price":54.5' in observation.body["html"]  # the JSON-LD goes with the page
    assert "<style" not in observation.body["html"]
    assert "54,50" in observation.body["text"]
    # The body's text holds no document title: it goes beside it.
    assert observation.body["title"] == shop_page.title() != ""
    assert header(observation, "Authorization") == "Bearer fake-access"
    # The observation changed the price: the badge counts the unread notification.
    wait_until(lambda: badge(ext) == "1", what="the badge")

    popup = ext.popup(tab_id)
    change = popup.locator("[data-testid=price-change]:visible")
    change.wait_for()
    assert change.inner_text() == "Saved at EUR 54.50, now EUR 49.00 (down 10%)."
    assert Decimal(change.get_attribute("data-then") or "") == Decimal("54.50")
    ext.screenshot(popup, "flow5-popup-price-change-stand-in-api.png")

    # The same page again within the hour: nothing more is sent.
    shop_page.reload()
    shop_page.wait_for_timeout(4000)
    assert len(watch_api.sent("POST", "watch/observations/")) == 1


def test_other_pages_send_nothing_and_the_list_is_revalidated(
    ext: Extension, shops: ShopServer, watch_api: FakeApi
) -> None:
    ext.set_api_base(watch_api.base)
    ext.set_auth(signed_in_auth())
    article, _ = ext.open_shop_page(shops.serve(article_page(ARTICLE)))
    wait_until(lambda: watch_api.sent("GET", "watch/urls/"), what="the watch list")
    article.wait_for_timeout(3000)
    assert watch_api.sent("POST", "watch/observations/") == []

    # Once the cached list is old, the worker asks again with its ETag and keeps its copy.
    ext.chrome(
        """async () => {
            const stored = await chrome.storage.local.get('watchList');
            stored.watchList.fetchedAt = 0;
            await chrome.storage.local.set(stored);
        }"""
    )
    article.reload()
    revalidated = wait_until(
        lambda: [r for r in watch_api.sent("GET", "watch/urls/") if header(r, "If-None-Match")],
        what="a conditional request",
    )
    assert header(revalidated[0], "If-None-Match") == ETAG
    article.wait_for_timeout(2000)
    assert watch_api.sent("POST", "watch/observations/") == []
    stored = ext.chrome("async () => (await chrome.storage.local.get('watchList')).watchList")
    assert len(stored["items"]) == 1


def test_a_price_drop_seen_on_a_revisit_notifies(
    ext: Extension, shops: ShopServer, new_user: dict[str, Any]
) -> None:
    """Flow 5 against the real backend (and its worker, which writes the notification)."""
    api = new_user["api"]
    page = product_page(PRODUCT)
    url = shops.serve(page)
    cart_id = api.post("carts/", {"name": "Watching"})["id"]
    shop_page, tab_id = ext.open_shop_page(url)
    popup = ext.popup(tab_id)
    ext.sign_in(popup, new_user["email"], new_user["password"])
    popup.locator(f"[data-testid=cart-option][data-cart-id='{cart_id}']").check()
    popup.get_by_test_id("save").click()
    popup.locator("[data-testid=save-status][data-state=saved]").wait_for()
    popup.close()
    (item,) = api.get("items/")["results"]
    alert = api.request("PUT", f"items/{item['id']}/alert/", json={"target_price": "50.00"})
    assert alert.status_code == 200, alert.text

    # The shop lowers the price; the user comes back to the page.
    cheaper = page.html.replace('"price":54.5', '"price":49.9').replace("54,50", "49,90")
    shops.serve(page, cheaper)
    shop_page.reload()

    wait_until(
        lambda: Decimal(api.get(f"items/{item['id']}/")["price"]) == Decimal("49.90"),
        timeout=30,
        what="the observation to reach the item",
    )
    history = api.get(f"items/{item['id']}/history/?days=90")
    assert Decimal(history["current"]["price"]) == Decimal("49.90")
    notes = wait_until(
        lambda: api.get("notifications/?unread=true")["results"],
        timeout=30,
        what="the notification (written by the worker)",
    )
    assert [n["kind"] for n in notes] == ["target_reached"]
    ext.chrome("async () => chrome.runtime.sendMessage({type: 'badge'})")
    wait_until(lambda: badge(ext) == "1", what="the badge")

    popup = ext.popup(tab_id)
    change = popup.locator("[data-testid=price-change]:visible")
    change.wait_for()
    assert change.inner_text() == "Saved at EUR 54.50, now EUR 49.90 (down 8%)."
    ext.screenshot(popup, "flow5-popup-price-change.png")


def test_a_shops_page_cannot_use_the_signed_in_api(
    ext: Extension, shops: ShopServer, watch_api: FakeApi
) -> None:
    """Content scripts share the page's renderer: they may read the watch list and report an
    observation, nothing else, so a compromised renderer cannot act as the user."""
    ext.set_api_base(watch_api.base)
    ext.set_auth(signed_in_auth())
    _, tab_id = ext.open_shop_page(shops.serve(article_page(ARTICLE)))
    answers = ext.chrome(
        """async (tabId) => {
            const [result] = await chrome.scripting.executeScript({
                target: {tabId},
                func: async () => Promise.all([
                    chrome.runtime.sendMessage({type: 'api', method: 'GET', path: 'carts/'}),
                    chrome.runtime.sendMessage({type: 'session'}),
                    chrome.runtime.sendMessage({type: 'logout'}),
                ]),
            });
            return result.result;
        }""",
        tab_id,
    )
    assert answers == [{"ok": False}] * 3
    assert watch_api.sent("GET", "carts/") == []
    assert ext.auth() is not None


MATCH_CASES = [
    ("https://shop.example.com/p/123", [], "shop.example.com/p/123"),
    (
        "https://WWW.Shop.Example.com/p/123/?utm_source=x&b=2&a=1&ref=z",
        ["ref"],
        "shop.example.com/p/123?a=1&b=2",
    ),
    ("http://shop.example.com:8080/item?id=7#reviews", [], "shop.example.com/item?id=7"),
    ("https://shop.example.com/", [], "shop.example.com"),
    (
        "https://shop.example.com/s?q=red+shoes&z=(1)&q=a%2Fb",
        [],
        "shop.example.com/s?q=red%20shoes&q=a%2Fb&z=(1)",
    ),
    ("https://shop.example.com/p?UTM_Medium=x&Ref=1", ["ref"], "shop.example.com/p"),
]


def match_keys(ext: Extension, cases: list[tuple[str, list[str]]]) -> list[str]:
    return list(
        ext.chrome(
            """async (cases) => {
                if (!globalThis.BuyHiveMatch) {
                    await new Promise((resolve, reject) => {
                        const script = document.createElement('script');
                        script.src = 'lib/match.js';
                        script.onload = resolve;
                        script.onerror = reject;
                        document.head.append(script);
                    });
                }
                return cases.map(([url, drop]) => BuyHiveMatch.matchKey(url, drop));
            }""",
            cases,
        )
    )


def test_the_match_string_is_the_contracts(ext: Extension) -> None:
    keys = match_keys(ext, [(url, drop) for url, drop, _ in MATCH_CASES])
    assert keys == [expected for _, _, expected in MATCH_CASES]


def test_the_match_string_is_the_backends(ext: Extension) -> None:
    matching = pytest.importorskip("carts.watch.matching", reason="needs the price watch")
    urls = [url for url, _, _ in MATCH_CASES] + [
        "https://www.ikea.com/gb/en/p/pelarboj-led-table-lamp-multicolour-90423019/",
        "https://vmzona.com/newsite/int.php?page=product&cat=21&subcat=113&pid=426517&lang=en",
        "https://www.zalando.ie/esprit-chinos-camel-es122e05o-b11.html?gclid=abc&size=M",
    ]
    drop = list(matching.DROP_PARAMS)
    assert match_keys(ext, [(url, drop) for url in urls]) == [matching.match_key(u) for u in urls]
