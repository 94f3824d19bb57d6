"""The per-process LRU of CLIP scores in front of the shared cache."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict


class LocalScores:
    """A small per-process LRU of scores in front of the shared cache.

    A repeat check then costs a dictionary lookup instead of a Redis round trip (which, on a
    busy 2-core machine, waits for the Redis process to be scheduled). Same keys and TTL as
    the shared cache; bounded; cleared by :func:`mlverify.registry.reset_models`.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def get(self, key: str) -> float | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] < time.monotonic():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return item[1]

    def set(self, key: str, score: float, ttl: float) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + ttl, score)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


local_scores = LocalScores()
