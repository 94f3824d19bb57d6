"""Sending a page the page check got wrong for a person to label: the box beside "save it
anyway" (never ticked for the user), what the popup says about it, what the backend keeps,
and the options page's "Pages you shared for review". The real backend and its page check
decide the verdict, on the grid page of test_page_type; a stand-in API gives the answers the
real one gives only on demand (the day's limit reached)."""

from __future__ import annotations

import dataclasses
from typing import Any

from e2e.conftest import Extension
from e2e.fakeapi import Answer, FakeApi, signed_in_auth, with_a_cart
from e2e.shops import SavedPage, ShopServer, product_page
from e2e.test_page_type import PRODUCT, chairs_page, open_popup_on

THANKS = "Thank you: the page was sent for review."
LIMIT_REACHED = "Saved; the page was not sent: you have shared many pages today."


def _serve_chairs(shops: ShopServer, key: str, query: str = "") -> str:
    """The grid page, at its own address when ``query`` is given (two samples, two pages)."""
    page = chairs_page(key)
    if query:
        page = dataclasses.replace(page, original_url=f"{page.original_url}?{query}")
    return shops.serve(page)


def _save_anyway(popup: Any, cart_id: str, *, share: bool) -> None:
    """On a page the check calls a grid: the share box is offered, unticked; tick the cart
    (and the box when ``share``), "save it anyway", and wait until the save is over."""
    popup.locator("[data-testid=page-check][data-page-type=collection]").wait_for()
    box = popup.get_by_test_id("share-page")
    assert box.is_visible()
    assert not box.is_checked()
    popup.locator(f"[data-testid=cart-option][data-cart-id='{cart_id}']").check()
    if share:
        box.check()
    popup.get_by_test_id("save-anyway").click()
    status = popup.locator("[data-testid=save-status][data-state]")
    status.wait_for()
    assert status.get_attribute("data-state") == "saved", status.inner_text()
    popup.wait_for_function("() => !document.body.dataset.busy")


def _assert_saved_as_before(api: Any, cart_id: str) -> None:
    """Sharing or not, the save is the one "save it anyway" always made."""
    items = api.get("items/")["results"]
    assert len(items) == 1
    assert items[0]["cart_ids"] == [cart_id]
    assert items[0]["extraction"]["page_check"]["page_type"] == "collection"


def test_a_page_sent_for_review_is_kept_for_a_person(
    ext: Extension, shops: ShopServer, new_user: dict[str, Any]
) -> None:
    api = new_user["api"]
    cart_id = api.post("carts/", {"name": "Chairs"})["id"]
    url = _serve_chairs(shops, "chairs-shared")
    popup = open_popup_on(ext, url, new_user)

    _save_anyway(popup, cart_id, share=True)
    share = popup.get_by_test_id("share-status")
    assert share.is_visible()
    assert share.inner_text() == THANKS
    assert share.get_attribute("data-state") == "kept"
    ext.screenshot(popup, "page-sample-shared.png")
    # Sent once: the box is clear again, so a second save does not send the page twice.
    assert not popup.get_by_test_id("share-page").is_checked()

    _assert_saved_as_before(api, cart_id)
    samples = api.get("page-samples/")
    assert samples["count"] == 1
    (sample,) = samples["results"]
    assert sample["url"] == url
    assert sample["page_type"] == "collection"
    assert sample["reviewed"] is False


def test_save_anyway_without_the_box_sends_no_page(
    ext: Extension, shops: ShopServer, new_user: dict[str, Any]
) -> None:
    api = new_user["api"]
    cart_id = api.post("carts/", {"name": "Chairs"})["id"]
    popup = open_popup_on(ext, _serve_chairs(shops, "chairs-not-shared"), new_user)

    _save_anyway(popup, cart_id, share=False)
    assert popup.get_by_test_id("share-status").is_hidden()

    _assert_saved_as_before(api, cart_id)
    samples = api.get("page-samples/")
    assert samples["count"] == 0
    assert samples["results"] == []


def test_a_product_page_offers_no_share_box(
    ext: Extension, shops: ShopServer, new_user: dict[str, Any]
) -> None:
    popup = open_popup_on(ext, shops.serve(product_page(PRODUCT)), new_user)

    popup.locator("[data-testid=page-check][data-page-type=product]").wait_for()
    assert popup.get_by_test_id("save").is_visible()
    assert popup.get_by_test_id("save-anyway").is_hidden()
    assert popup.get_by_test_id("share-page").is_hidden()


_ARTICLE = SavedPage(
    key="armchair-story",
    original_url="https://northwood-journal.example/2026/11/how-we-restored-a-1970s-armchair/",
    html="""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>How we restored a 1970s armchair | The Northwood Journal</title>
<meta name="description" content="Six weekends, one armchair: what we learnt re-webbing it.">
</head><body><header><a href="/">The Northwood Journal</a> <a href="/archive">Archive</a></header>
<main><article><h1>How we restored a 1970s armchair</h1>
<p class="byline">By Ana Ruiz, 14 November 2026, 8 min read</p>
<p>We found the chair at a house clearance: the frame was sound, the webbing gone, the foam
dust. This is the story of six weekends in a garage, with our mistakes left in.</p>
<h2>Taking it apart</h2><p>Photograph every layer before you remove it. The staples came out
with a flat screwdriver and patience; the old tacks needed pliers.</p>
<h2>Webbing and springs</h2><p>Jute webbing, woven and stretched tight, carries the seat. We
re-tied the springs with laid cord, eight ways, as the original upholsterer had.</p>
<p>Next month: choosing a fabric that survives a cat.</p></article>
<aside><h3>Comments (12)</h3><p>Lovely work! Where did you find the cord?</p></aside>
</main></body></html>""",
    truth={},
)


def test_a_page_the_check_calls_no_product_page_can_be_sent_from_save(
    ext: Extension, shops: ShopServer, new_user: dict[str, Any]
) -> None:
    """The check's other disagreement: Save stays, and the box is offered beside it."""
    api = new_user["api"]
    cart_id = api.post("carts/", {"name": "Reading"})["id"]
    url = shops.serve(_ARTICLE)
    popup = open_popup_on(ext, url, new_user)
    popup.locator("[data-testid=page-check][data-page-type=other]").wait_for()
    assert popup.get_by_test_id("save").is_visible()
    assert popup.get_by_test_id("save-anyway").is_hidden()
    box = popup.get_by_test_id("share-page")
    assert box.is_visible() and not box.is_checked()

    popup.locator(f"[data-testid=cart-option][data-cart-id='{cart_id}']").check()
    box.check()
    popup.get_by_test_id("save").click()
    popup.locator("[data-testid=share-status][data-state=kept]").wait_for()

    (sample,) = api.get("page-samples/")["results"]
    assert sample["url"] == url
    assert sample["page_type"] == "other"
    items = api.get("items/")["results"]
    assert [item["extraction"]["page_check"]["page_type"] for item in items] == ["other"]


def test_the_options_page_lists_and_deletes_shared_pages(
    ext: Extension, shops: ShopServer, new_user: dict[str, Any]
) -> None:
    options = ext.open_page(ext.url("options.html"))
    note = options.get_by_test_id("shared-pages").get_by_test_id("shared-pages-note")
    options.locator("[data-testid=shared-pages-note]", has_text="Sign in").wait_for()

    api = new_user["api"]
    cart_id = api.post("carts/", {"name": "Chairs"})["id"]
    first_url = _serve_chairs(shops, "chairs-first")
    _save_anyway(open_popup_on(ext, first_url, new_user), cart_id, share=True)
    second_url = _serve_chairs(shops, "chairs-second", "page=2")
    _, tab_id = ext.open_shop_page(second_url)
    _save_anyway(ext.popup(tab_id), cart_id, share=True)  # signed in already
    samples = api.get("page-samples/")["results"]
    assert sorted(s["url"] for s in samples) == sorted([first_url, second_url])

    options.reload()
    rows = options.get_by_test_id("shared-page")
    rows.first.wait_for()
    # As the API lists them (newest first), each with what it is and where it stands.
    assert [rows.nth(i).get_attribute("data-sample-id") for i in range(rows.count())] == [
        s["id"] for s in samples
    ]
    for sample in samples:
        row = options.locator(f"[data-testid=shared-page][data-sample-id='{sample['id']}']")
        assert sample["url"] in row.inner_text()
        assert (sample["title"] or "") in row.inner_text()
        assert row.get_by_test_id("shared-page-status").inner_text() == "waiting for review"
    assert note.is_hidden()
    ext.screenshot(options, "page-samples-options.png")

    gone, kept = samples
    row = options.locator(f"[data-testid=shared-page][data-sample-id='{gone['id']}']")
    row.get_by_test_id("shared-page-delete").click()
    row.wait_for(state="detached")
    assert [rows.nth(i).get_attribute("data-sample-id") for i in range(rows.count())] == [
        kept["id"]
    ]
    assert [s["id"] for s in api.get("page-samples/")["results"]] == [kept["id"]]

    rows.first.get_by_test_id("shared-page-delete").click()
    options.locator("[data-testid=shared-pages-note]", has_text="None.").wait_for()
    assert note.inner_text() == "None."
    assert rows.count() == 0
    assert api.get("page-samples/")["count"] == 0
    # The items stay: deleting a shared page takes back the page, not the save.
    assert len(api.get("items/")["results"]) == 2


# --------------------------------------------------- what goes out, on a stand-in API

_GRID_CHECK = {
    "status": "ok",
    "is_product": False,
    "page_type": "collection",
    "score": 0.1,
    "threshold": 0.5,
    "method": "model",
    "model": "fake",
    "reason": None,
}


def _extracted(page_sample: Any) -> Answer:
    return Answer(
        200,
        {
            "product": {"title": "Chairs", "price": None, "currency": None, "image": None},
            "item": None,
            "page_check": _GRID_CHECK,
            "page_sample": page_sample,
        },
    )


def test_share_page_is_sent_only_when_ticked(
    ext: Extension, shops: ShopServer, fake_api: FakeApi
) -> None:
    """The request body: no ``share_page`` key unless the box is ticked (with "save it anyway",
    the only button it stands by), ``true`` when it is; the day's limit is said, and the save
    is shown as saved all the same."""
    with_a_cart(fake_api)
    fake_api.route("POST", "classify/url/", Answer(200, _GRID_CHECK))
    fake_api.route("POST", "extract/", _extracted(None))
    ext.set_api_base(fake_api.base)
    ext.set_auth(signed_in_auth())
    shop_page, tab_id = ext.open_shop_page(_serve_chairs(shops, "chairs-fake"))
    popup = ext.popup(tab_id)

    _save_anyway(popup, "fake-cart", share=False)
    fake_api.route("POST", "extract/", _extracted({"status": "limit_reached", "id": None}))
    popup.get_by_test_id("share-page").check()
    popup.get_by_test_id("save-anyway").click()
    share = popup.locator("[data-testid=share-status][data-state=limit_reached]")
    share.wait_for()
    assert share.inner_text() == LIMIT_REACHED
    assert popup.get_by_test_id("save-status").get_attribute("data-state") == "saved"

    unticked, ticked = (r.body for r in fake_api.sent("POST", "extract/"))
    assert "share_page" not in unticked
    assert ticked["share_page"] is True
    assert ticked["html"]
    # The body's text holds no document title: it goes beside it.
    assert unticked["title"] == shop_page.title() != ""
    assert {k: v for k, v in ticked.items() if k != "share_page"}.keys() == unticked.keys()


def test_the_options_page_says_what_a_reviewed_page_was_taken_for(
    ext: Extension, fake_api: FakeApi
) -> None:
    """On the stand-in API: a reviewed page shows the person's label in the popup's words, an
    unknown label (a newer backend's) plain "reviewed", a waiting one its deletion date."""

    def sample(sample_id: str, reviewed: bool, label: str) -> dict[str, Any]:
        return {"id": sample_id, "url": f"https://lamps.example/{sample_id}", "title": "Lamps",
                "page_type": "collection", "reviewed": reviewed, "reviewed_as": label,
                "created_at": "2026-12-01T10:00:00Z",
                "expires_at": None if reviewed else "2026-12-31T10:00:00Z"}  # fmt: skip

    listed = [sample("a1", True, "product"), sample("b2", True, "hub"), sample("c3", False, "")]
    fake_api.route(
        "GET", "page-samples/?limit=200",
        Answer(200, {"count": 3, "next": None, "previous": None, "results": listed}),
    )  # fmt: skip
    ext.set_api_base(fake_api.base)
    ext.set_auth(signed_in_auth())
    options = ext.open_page(ext.url("options.html"))
    status = options.get_by_test_id("shared-page-status")
    status.first.wait_for()
    assert status.all_inner_texts() == ["reviewed: a product page", "reviewed",
                                        "waiting for review"]  # fmt: skip
    assert "unless reviewed first" in options.get_by_test_id("shared-page").nth(2).inner_text()
