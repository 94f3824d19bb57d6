"""The floor for ``bench/reads.py``: a bare ASGI app answering one pymongo ``find_one``.

No framework, no validation, no auth: the request path's cart id, one ``find_one`` of the
prototype-shaped document with pymongo, and ``json.dumps`` of the cart's items
(``/carts/{id}/items``) or of every cart's count and totals (``/carts``, as the prototype).
Whatever any real app spends above this is framework, auth, ORM and serialisation. Served by
gunicorn with uvicorn workers (see bench/reads.py) with ``BENCH_MONGODB_URI``,
``BENCH_MONGODB_DB`` and ``BENCH_EMAIL``.

The find runs on pymongo's synchronous client in the event loop's thread pool (as motor
does), not on pymongo's ``AsyncMongoClient``: measured here, 100 sequential ``find_one`` took
4.1 ms each with ``AsyncMongoClient`` (pymongo 4.20), 1.5 ms with ``MongoClient`` and 0.9 ms
with motor, and a floor slower than the prototype it bounds would be no floor.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from typing import Any

from prototype_shape import cart_summaries
from pymongo import MongoClient

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
        _client = MongoClient(os.environ["BENCH_MONGODB_URI"])
    collection = _client[os.environ["BENCH_MONGODB_DB"]]["cartItems"]
    find = functools.partial(collection.find_one, {"email": os.environ["BENCH_EMAIL"]}, {"_id": 0})
    document = await asyncio.get_running_loop().run_in_executor(None, find)
    parts = scope["path"].strip("/").split("/")  # carts | carts/<id>/items
    if len(parts) == 1:
        summaries = cart_summaries(document or {})
        body = json.dumps({"count": len(summaries), "results": summaries}).encode()
    else:
        cart_id = parts[1]
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
