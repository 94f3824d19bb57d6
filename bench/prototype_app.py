"""The prototype's shape, rebuilt for ``bench/reads.py``: FastAPI + motor, no auth.

The prototype kept one document per user in ``buyHive.cartItems`` (``docs/migration.md``):
``{"email", "name", "carts": [{"cart_id", "cart_name", "created_at", "items": [...]}],
"selected_cart_ids"}``, and read a cart by loading the user's whole document. This app does
the same: ``GET /carts/{cart_id}/items?email=...`` loads the document with one ``find_one``
and answers the cart's items, serialised by FastAPI as the prototype's endpoints were;
``GET /carts?email=...`` answers every cart with its item count and per-currency totals
(``prototype_shape.cart_summaries``, shared with the floor) from the same document.

Served by uvicorn (``uvicorn bench.prototype_app:app``); ``BENCH_MONGODB_URI`` and
``BENCH_MONGODB_DB`` name the database. It exists only to be measured against.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, HTTPException
from motor.motor_asyncio import AsyncIOMotorClient
from prototype_shape import cart_summaries

app = FastAPI()
_client: Any = None


def _collection() -> Any:
    global _client
    if _client is None:
        _client = AsyncIOMotorClient(os.environ["BENCH_MONGODB_URI"])
    return _client[os.environ["BENCH_MONGODB_DB"]]["cartItems"]


@app.get("/carts")
async def carts(email: str) -> dict[str, Any]:
    document = await _collection().find_one({"email": email})
    if document is None:
        raise HTTPException(status_code=404, detail="user not found")
    summaries = cart_summaries(document)
    return {"count": len(summaries), "results": summaries}


@app.get("/carts/{cart_id}/items")
async def cart_items(cart_id: str, email: str) -> dict[str, Any]:
    document = await _collection().find_one({"email": email})
    if document is None:
        raise HTTPException(status_code=404, detail="user not found")
    for cart in document.get("carts", []):
        if cart.get("cart_id") == cart_id:
            items = cart.get("items", [])
            return {"cart_id": cart_id, "count": len(items), "results": items}
    raise HTTPException(status_code=404, detail="cart not found")
