"""Where the workers' time went: a summary of py-spy's raw (collapsed) stacks (``--profile``)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

# Each sample is charged to the innermost frame that belongs to one of these layers (first
# match from the leaf up), so the shares add up to 100 % of the sampled time.
LAYERS = (
    ("waiting on the database (pymongo socket I/O)", ("pymongo/network_layer", "pymongo/pool")),
    ("pymongo / bson (commands, encoding, decoding)", ("pymongo/", "bson/")),
    ("django-mongodb-backend (query compilation)", ("django_mongodb_backend/",)),
    ("Django ORM", ("django/db/",)),
    ("password hashing", ("django/contrib/auth/hashers",)),
    ("rate limiting (django-ratelimit, Redis)", ("django_ratelimit/", "redis/", "django_redis/")),
    ("JWT authentication", ("rest_framework_simplejwt/", "jwt/", "accounts/authentication")),
    ("DRF (views, serializers, JSON rendering)", ("rest_framework/", "json/")),
    ("logging (structlog)", ("structlog/", "django_structlog/", "logging/")),
    ("metrics (EMF) / Sentry", ("buyhive/metrics.py", "sentry_sdk/")),
    ("our code (views, services, selectors)", ("buyhive/", "carts/", "accounts/")),
    ("Django request handling", ("django/",)),
    ("asgiref (sync/async thread hops)", ("asgiref/", "concurrent/futures")),
    ("uvicorn / asyncio event loop", ("uvicorn", "asyncio/", "h11/", "httptools/")),
)
# Stacks of the untimed set-up (registration with bcrypt, the first carts) are left out.
SETUP_MARKERS = ("user_register", "cart_create (carts/services")


def summarise_profile(
    path: Path, top: int = 12, setup_markers: tuple[str, ...] = SETUP_MARKERS
) -> dict[str, Any]:
    """Where the workers' sampled time went: per layer (exclusive) and our busiest frames.

    Stacks with a frame named in ``setup_markers`` (the untimed set-up) are left out."""
    total = 0
    layers: Counter[str] = Counter()
    own: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    setup = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        if any(marker in stack for marker in setup_markers):
            setup += count
            continue
        frames = stack.split(";")[1:]  # the first entry names the process
        total += count
        leaves[frames[-1] if frames else "?"] += count
        layer = "other (stdlib, threads idle)"
        for frame in reversed(frames):
            match = next((name for name, marks in LAYERS if any(m in frame for m in marks)), None)
            if match is not None:
                layer = match
                break
        layers[layer] += count
        ours = [f for f in frames if any(p in f for p in ("carts/", "accounts/", "extraction/"))]
        for frame in dict.fromkeys(ours):
            own[frame] += count
    share = (lambda n: round(100 * n / total, 1)) if total else (lambda n: 0.0)
    return {
        "samples": total,
        "setup_samples_excluded": setup,
        "layers_pct": {k: share(v) for k, v in layers.most_common()},
        "own_code_inclusive_pct": {k: share(v) for k, v in own.most_common(top)},
        "top_leaf_frames_pct": {k: share(v) for k, v in leaves.most_common(top)},
    }
