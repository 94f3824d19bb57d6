"""The virtual users: sign-up (untimed), then a shopper's mix of reads and writes, timed.

Each user keeps the model of what the database must hold after its acknowledged writes
(``User.expected``), which :mod:`loadtest.consistency` checks at the end.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

from loadtest.servers import HOST

PASSWORD = "load test passphrase, long enough 42"  # noqa: S105 - throwaway bench users
MIX = (
    ("list_carts", 20),
    ("cart_items", 20),
    ("list_items", 10),
    ("add_item", 30),
    ("move_item", 20),
)
CARTS_PER_USER = 3


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    requests: int = 0


@dataclass
class User:
    index: int
    headers: dict[str, str]
    carts: list[str] = field(default_factory=list)
    # The model of what the database must hold, from acknowledged writes only:
    # item id -> the set of cart ids it is in.
    expected: dict[str, set[str]] = field(default_factory=dict)
    user_id: str = ""
    uncertain_items: set[str] = field(default_factory=set)
    failed_adds: int = 0
    added: int = 0

    @property
    def ip(self) -> str:
        return f"198.18.{self.index // 250}.{self.index % 250 + 1}"


def _headers(ip: str, token: str | None = None) -> dict[str, str]:
    headers = {"Host": HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": ip}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


async def sign_up(client: httpx.AsyncClient, user: User, run_id: str) -> None:
    """Untimed: register (the user's one sign-in) and create the carts."""
    body = {"email": f"load{user.index}.{run_id}@example.com", "password": PASSWORD}
    response = await client.post("/api/v1/auth/register/", json=body, headers=_headers(user.ip))
    response.raise_for_status()
    data = response.json()
    user.user_id = data["user"]["id"]
    user.headers = _headers(user.ip, data["access"])
    for n in range(CARTS_PER_USER):
        created = await client.post(
            "/api/v1/carts/", json={"name": f"List {n}"}, headers=user.headers
        )
        created.raise_for_status()
        user.carts.append(created.json()["id"])


async def _timed(
    client: httpx.AsyncClient, stats: Stats, route: str, method: str, url: str, **kwargs: Any
) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        stats.errors[f"{route}: {type(exc).__name__}"] += 1
        stats.requests += 1
        return None
    stats.latencies[route].append((time.perf_counter() - started) * 1000)
    stats.requests += 1
    if not 200 <= response.status_code < 300:
        stats.errors[f"{route}: HTTP {response.status_code}"] += 1
    return response


async def shopper(
    client: httpx.AsyncClient,
    user: User,
    stats: Stats,
    deadline: float,
    think: tuple[float, float],
    rng: random.Random,
) -> None:
    names = [name for name, _ in MIX]
    weights = [weight for _, weight in MIX]
    while time.monotonic() < deadline:
        action = rng.choices(names, weights)[0]
        if action == "move_item" and not user.expected:
            action = "add_item"
        h = user.headers
        if action == "list_carts":
            await _timed(client, stats, "GET carts/", "GET", "/api/v1/carts/", headers=h)
        elif action == "cart_items":
            cart = rng.choice(user.carts)
            await _timed(
                client, stats, "GET carts/{id}/items/", "GET",
                f"/api/v1/carts/{cart}/items/?limit=50", headers=h,
            )  # fmt: skip
        elif action == "list_items":
            await _timed(client, stats, "GET items/", "GET", "/api/v1/items/?limit=50", headers=h)
        elif action == "add_item":
            cart = rng.choice(user.carts)
            user.added += 1
            body = {
                "url": f"https://shop{user.index % 7}.example.com/p/{user.index}-{user.added}",
                "title": f"Product {user.added} of user {user.index}",
                "price": f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d}",
                "currency": rng.choice(["USD", "EUR"]),
                "quantity": rng.randint(1, 3),
            }
            response = await _timed(
                client, stats, "POST carts/{id}/items/", "POST",
                f"/api/v1/carts/{cart}/items/", json=body, headers=h,
            )  # fmt: skip
            if response is not None and response.status_code in (200, 201):
                item_id = response.json()["id"]
                user.expected.setdefault(item_id, set()).add(cart)
            else:
                user.failed_adds += 1  # may or may not be in the database: not checked
        else:
            item_id = rng.choice(sorted(user.expected))
            target = sorted(rng.sample(user.carts, rng.randint(1, len(user.carts))))
            response = await _timed(
                client, stats, "PUT items/{id}/carts/", "PUT",
                f"/api/v1/items/{item_id}/carts/", json={"cart_ids": target}, headers=h,
            )  # fmt: skip
            if response is not None and response.status_code == 200:
                user.expected[item_id] = set(target)
            else:
                user.uncertain_items.add(item_id)  # either the old or the new set
        await asyncio.sleep(rng.uniform(*think))
