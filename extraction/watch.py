"""A watched page's report: match it to the user's item, extract, record the observation.

Privacy by construction: the address is matched against the user's own items *first*; an
address that is none of them is answered ``matched: false`` before anything else happens: it
is not extracted, stored, cached or logged. Only the deterministic extractor runs (no LLM, no
models, no network), with the places the user's corrections taught on this shop
(:mod:`extraction.learning`): a report is cheap and its result is what the page itself says.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from buyhive.product.money import normalize_currency, parse_amount, round_amount
from carts.validation import clean_availability
from carts.watch import selectors as watch_selectors
from carts.watch import services as watch_services
from extraction.deterministic import extract_deterministic
from extraction.learning.hooks import learned_apply, learned_for_extraction

__all__ = ["observation_report"]


def _safe(cleaner: Any, value: Any) -> Any:
    try:
        return cleaner(value)
    except (ValueError, TypeError):
        return None


def observation_report(
    *, user: Any, url: str, html: str | None, text: str | None, title: str | None = None
) -> dict[str, Any]:
    """``{"matched", "item_id", "price", "currency", "availability", "changed", "counted"}``.

    What the page does not show is taken from what the user sees now (a page that shows no
    price while sold out keeps the price; a price without a currency is in the item's
    currency). ``counted`` is false for a second report within the hour (nothing recorded).
    """
    item = watch_selectors.item_for_page(user=user, url=url)
    if item is None:
        return {
            "matched": False,
            "item_id": None,
            "price": None,
            "currency": None,
            "availability": None,
            "changed": {},
            "counted": False,
        }
    result = extract_deterministic(url=url, html=html, text=text, title=title)
    # The user's own lessons on this shop hold here too: a corrected price must not be
    # undone by the next report of the same page (extraction.learning).
    learned = learned_for_extraction(url=item.canonical_url or url, owner=str(user.pk))
    learned_apply(result, learned=learned, html=html, url=url)
    product = result.product
    price: Decimal | None = _safe(parse_amount, product.get("price"))
    currency = normalize_currency(product.get("currency"))
    availability = _safe(clean_availability, product.get("availability")) or ""
    seen = watch_services.view_of(item)
    if price is None:
        price, currency = seen.price, seen.currency
    else:
        currency = currency or seen.currency
        price = round_amount(price, currency=currency)  # as the page shows it
    view = watch_services.View(
        price=price, currency=currency, availability=availability or seen.availability
    )
    outcome = watch_services.observation_record(item=item, view=view, kind="report")
    shown = outcome.view.as_dict()
    return {
        "matched": True,
        "item_id": str(item.pk),
        **shown,
        "changed": outcome.changed,
        "counted": outcome.counted,
    }
