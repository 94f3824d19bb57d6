"""Local development: DEBUG, console email, the embedded database, local Redis."""

from __future__ import annotations

import socket
import warnings
from urllib.parse import urlsplit

from buyhive import logconfig

from .base import *  # noqa: F403
from .base import JWT_SIGNING_KEY, LOG_FORMAT, LOG_LEVEL, REDIS_URL, SIMPLE_JWT, env

# DEBUG defaults on only against the embedded database: pointed at a real cluster
# (MONGODB_URI set, e.g. Atlas), a developer machine defaults to DEBUG off.
DEBUG = env.bool("DEBUG", default=not env.str("MONGODB_URI", default=""))
SECRET_KEY = env.str("SECRET_KEY", default="local-development-only-not-secret-0123456789abcdef")
SIMPLE_JWT = {**SIMPLE_JWT, "SIGNING_KEY": JWT_SIGNING_KEY or SECRET_KEY}
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
ALLOWED_ORIGINS = env.list("ALLOWED_ORIGINS", default=["http://127.0.0.1:8000"])
CORS_ALLOWED_ORIGINS = ALLOWED_ORIGINS
READY_DETAILS_PUBLIC = True  # /ready shows every check's detail here
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


def _redis_reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 0.5):
            return True
    except OSError:
        return False


# Local Redis is expected (127.0.0.1:6379). Only here, and only when it is unreachable, fall
# back to local memory: rate limits then count per process, so their checks are silenced.
SILENCED_SYSTEM_CHECKS: list[str] = []
if not _redis_reachable(REDIS_URL):
    warnings.warn(
        f"Redis at {REDIS_URL} is unreachable: using the local-memory cache; rate limits "
        "count per process until Redis is back.",
        RuntimeWarning,
        stacklevel=1,
    )
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]

LOGGING = logconfig.configure(level=LOG_LEVEL, json=LOG_FORMAT == "json")
