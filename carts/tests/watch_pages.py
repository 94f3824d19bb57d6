"""Product pages for the price-watch tests: the JSON-LD a shop would serve."""

from __future__ import annotations

import json
from typing import Any

from rest_framework.test import APIClient

URL = "https://www.shop.example.com/products/kettle/?utm_source=news&colour=red"


def product_page(
    price: str | None, currency: str = "EUR", availability: str = "InStock", name: str = "Kettle"
) -> str:
    offer: dict[str, Any] = {
        "@type": "Offer",
        "priceCurrency": currency,
        "availability": f"https://schema.org/{availability}",
    }
    if price is not None:
        offer["price"] = price
    data = {"@context": "https://schema.org", "@type": "Product", "name": name, "offers": offer}
    return (
        "<html><head><title>" + name + "</title>"
        '<script type="application/ld+json">' + json.dumps(data) + "</script></head>"
        f"<body><h1>{name}</h1><p>{price or ''} {currency}</p></body></html>"
    )


def save(
    client: APIClient, *, price: str = "19.99", url: str = URL, **extra: Any
) -> dict[str, Any]:
    data = {"url": url, "title": "Kettle", "price": price, "currency": "EUR"}
    data.update({"availability": "InStock"}, **extra)
    response = client.post("/api/v1/items/", data, format="json")
    assert response.status_code in (200, 201), response.json()
    return response.json()


def report(client: APIClient, price: str | None, *, url: str = URL, **page: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/watch/observations/",
        {"url": url, "html": product_page(price, **page)},
        format="json",
    )
    assert response.status_code == 202, response.json()
    return response.json()
