"""Production and staging (``ENVIRONMENT=staging``): AWS, Atlas, ElastiCache, SES, Sentry.

Refuses to start when a required variable is missing: a half-configured production is
worse than one that does not boot.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from buyhive import logconfig

from .base import *  # noqa: F403
from .base import CACHES, JWT_SIGNING_KEY, LOG_LEVEL, SIMPLE_JWT, env

REQUIRED = (
    "SECRET_KEY",
    "MONGODB_URI",
    "REDIS_URL",
    "ALLOWED_HOSTS",
    "ALLOWED_ORIGINS",
    "PUBLIC_BASE_URL",
    "DEFAULT_FROM_EMAIL",
)
_missing = [name for name in REQUIRED if not env.str(name, default="").strip()]
if _missing:
    raise ImproperlyConfigured(
        "Production settings need these environment variables: " + ", ".join(_missing)
    )

ENVIRONMENT = env.str("ENVIRONMENT", default="production")
if ENVIRONMENT not in {"production", "staging"}:
    raise ImproperlyConfigured("ENVIRONMENT must be 'production' or 'staging' here.")

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY")
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters.")
SIMPLE_JWT = {**SIMPLE_JWT, "SIGNING_KEY": JWT_SIGNING_KEY or SECRET_KEY}
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
ALLOWED_ORIGINS = env.list("ALLOWED_ORIGINS")
CORS_ALLOWED_ORIGINS = ALLOWED_ORIGINS
CSRF_TRUSTED_ORIGINS = [o for o in ALLOWED_ORIGINS if o.startswith("https://")]

# Redis is required here: rate-limit counters must be shared and atomic.
CACHES = {"default": {**CACHES["default"], "LOCATION": env.str("REDIS_URL")}}

# =============================================================================
# HTTPS behind the load balancer
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
# =============================================================================
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)

# =============================================================================
# Email through Amazon SES (credentials from the task role)
# =============================================================================
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django_ses.SESBackend")

# =============================================================================
# Logs: JSON lines on stdout for CloudWatch
# =============================================================================
LOGGING = logconfig.configure(level=LOG_LEVEL, json=True)

# =============================================================================
# Sentry: only when SENTRY_DSN is set
# =============================================================================
from buyhive.observability import init_sentry  # noqa: E402

init_sentry(environment=ENVIRONMENT)
