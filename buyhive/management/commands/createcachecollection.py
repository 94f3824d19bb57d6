"""``manage.py createcachecollection``: the MongoDB cache's collection and TTL index.

Only for ``CACHE_BACKEND=mongodb`` (``buyhive.mongo_cache.MongoCache``); ``migrate`` does the
same through a ``post_migrate`` receiver, so a deployment that migrates needs nothing more.
Idempotent; with the Redis cache it says so and does nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from buyhive.mongo_cache import mongo_caches


class Command(BaseCommand):
    help = "Create the MongoDB cache collection(s) and their TTL index (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        caches = mongo_caches()
        if not caches:
            self.stdout.write("No MongoDB cache is configured (CACHE_BACKEND is not mongodb).")
            return
        for cache in caches:
            created = cache.create_collection()
            state = "created" if created else "already there; TTL index ensured"
            self.stdout.write(f"{cache.alias}.{cache.collection_name}: {state}")
