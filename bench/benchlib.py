"""What the Django-backed benchmarks share: environment, the database, a seeded cart, and the
summary.

Imported by the Django-backed benches (``bench/auth.py``, ``bench/carts.py``, ...), which run
as scripts, so this folder is on ``sys.path``. Importing it puts the repository on
``sys.path`` and selects the test settings with a Redis database of the benchmarks' own (14),
offline model loading included.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buyhive.settings.test")
os.environ.setdefault("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PASSWORD = "bench passphrase that is long enough 7"  # noqa: S105 - bench users only
CART_SIZE = 50  # the cart the cart-read benches read: a page of ``GET carts/{id}/items/``


def summarise(samples_ms: list[float]) -> dict[str, float]:
    """Median, p95, extremes and two spreads (stdev, interquartile range) in ms."""
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) > 3 else None
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(p95, 2),
        "min_ms": round(ordered[0], 2),
        "max_ms": round(ordered[-1], 2),
        "stdev_ms": round(statistics.stdev(ordered), 2) if len(ordered) > 1 else 0.0,
        "iqr_ms": round(quartiles[2] - quartiles[0], 2) if quartiles else 0.0,
    }


def spread(samples_ms: list[float]) -> dict[str, float]:
    """Median and the p10-p90 spread in ms (3 decimals: for CPU times of a few ms)."""
    ordered = sorted(samples_ms)
    deciles = statistics.quantiles(ordered, n=10)
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p10_ms": round(deciles[0], 3),
        "p90_ms": round(deciles[-1], 3),
    }


@contextlib.contextmanager
def database() -> Iterator[int | None]:
    """A throwaway embedded server when ``MONGODB_URI`` is unset; yields its pid (or None)."""
    if os.environ.get("MONGODB_URI"):
        yield None
        return
    from buyhive.devdb.testserver import start_ephemeral

    server = start_ephemeral()
    os.environ["MONGODB_URI"] = server.uri
    try:
        yield server.pid
    finally:
        server.stop()


def setup_django(suffix: str = "_bench") -> None:
    """``django.setup()`` on a database name of the benchmark's own (``<name><suffix>``)."""
    import django

    os.environ["MONGODB_NAME"] = os.environ.get("MONGODB_NAME", "buyhive") + suffix
    django.setup()


@contextlib.contextmanager
def test_database() -> Iterator[str]:
    """A fresh test database (migrated) for the bench's run, dropped afterwards."""
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    db_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield db_name
    finally:
        connection.creation.destroy_test_db(db_name, verbosity=0)


def seed_cart(*, email: str, size: int = CART_SIZE) -> tuple[Any, Any]:
    """A user (``PASSWORD``) with a cart of ``size`` items made through the services.

    The items have prices (USD or EUR), a brand, an availability, an image, a variant and
    extraction details; every fifth is also in a second cart of the user's, so the items'
    memberships are not all alike. Call it inside :func:`test_database`; ``(user, cart)``.
    """
    from accounts.models import User
    from carts import services

    user = User.objects.create_user(email=email, password=PASSWORD, name="Bench")
    cart = services.cart_create(owner=user, name="Fifty")
    other = services.cart_create(owner=user, name="Some of them")
    for n in range(size):
        services.item_upsert(
            owner=user,
            data={
                "url": f"https://shop.example.com/p/{n}",
                "title": f"Product {n}",
                "brand": "Bench",
                "price": str(Decimal("9.99") + n),
                "currency": "USD" if n % 3 else "EUR",
                "availability": "InStock",
                "image_url": f"https://cdn.example.com/{n}.jpg",
                "variant": {"size": "M"},
            },
            extraction={"provenance": {"title": {"source": "json-ld"}}},
            cart_ids=[cart.pk, other.pk] if n % 5 == 0 else [cart.pk],
        )
    return user, cart


def bearer_headers(client: Any, email: str) -> dict[str, str]:
    """Sign ``email`` (password ``PASSWORD``) in through ``POST auth/login/`` with the test
    ``client`` and answer the ``Authorization`` header of its access token, as the test
    Client takes extra headers (``client.get(url, **headers)``)."""
    login = client.post(
        "/api/v1/auth/login/",
        {"email": email, "password": PASSWORD},
        content_type="application/json",
    )
    assert login.status_code == 200, login.content
    return {"HTTP_AUTHORIZATION": f"Bearer {login.json()['access']}"}
