"""The floor for ``bench/reads.py``: a bare ASGI app answering one pymongo ``find_one``.

No framework, no validation, no auth: the request path's cart id, one ``find_one`` of the
prototype-shaped document with pymongo's asyncio client, and ``json.dumps`` of the cart's
items. Whatever any real app spends above this is framework, auth, ORM and serialisation.
Served by uvicorn (``uvicorn bench.floor_app:app``) with ``BENCH_MONGODB_URI``,
``BENCH_MONGODB_DB`` and ``BENCH_EMAIL``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from pymongo import AsyncMongoClient

_client: Any = None


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _client
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if _client is None:
        _client = AsyncMongoClient(os.environ["BENCH_MONGODB_URI"])
    cart_id = scope["path"].rstrip("/").split("/")[-2]  # /carts/<id>/items
    collection = _client[os.environ["BENCH_MONGODB_DB"]]["cartItems"]
    document = await collection.find_one({"email": os.environ["BENCH_EMAIL"]}, {"_id": 0})
    items: list[Any] = next(
        (c["items"] for c in (document or {}).get("carts", []) if c["cart_id"] == cart_id), []
    )
    body = json.dumps({"cart_id": cart_id, "count": len(items), "results": items}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
