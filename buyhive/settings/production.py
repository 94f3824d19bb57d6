"""Production and staging (``ENVIRONMENT=staging``): AWS, Atlas, ElastiCache, SES, Sentry.

Refuses to start when a required variable is missing: a half-configured production is
worse than one that does not boot.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from buyhive import logconfig
from buyhive.observability import init_sentry

from .base import *  # noqa: F403
from .base import (
    CACHE_BACKEND,
    CACHES,
    CELERY_KEY_PREFIX,
    CELERY_TASK_DEFAULT_QUEUE,
    JWT_SIGNING_KEY,
    LOG_LEVEL,
    MIDDLEWARE,
    SENTRY_DSN,
    SENTRY_PROFILES_SAMPLE_RATE,
    SENTRY_SAMPLE_RATE,
    SENTRY_TRACES_SAMPLE_RATE,
    SIMPLE_JWT,
    celery_transport_options,
    env,
    is_repository_key,
)

REQUIRED = (
    "SECRET_KEY",
    "MONGODB_URI",
    # Redis only with its cache; CACHE_BACKEND=mongodb keeps the counters in the database.
    *(("REDIS_URL",) if CACHE_BACKEND == "redis" else ()),
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
# Production serves the ONNX export (no torch in the image); torch stays for training,
# export and tests. Unset, a missing export makes the models "unavailable" with the reason.
MODEL_RUNTIME = env.str("MODEL_RUNTIME", default="onnx")
if ENVIRONMENT not in {"production", "staging"}:
    raise ImproperlyConfigured("ENVIRONMENT must be 'production' or 'staging' here.")

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY")
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters.")
# A key that ships in the repository (the local default, the test key) is public: anyone
# could sign tokens and reset links with it. Long enough is not enough.
for _name, _key in (("SECRET_KEY", SECRET_KEY), ("JWT_SIGNING_KEY", JWT_SIGNING_KEY)):
    if _key and is_repository_key(_key):
        raise ImproperlyConfigured(
            f"{_name} is a key that ships in the repository; generate a secret one."
        )
SIMPLE_JWT = {**SIMPLE_JWT, "SIGNING_KEY": JWT_SIGNING_KEY or SECRET_KEY}
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")


def _local_ip_hosts() -> list[str]:
    """This container's own addresses, as ``ALLOWED_HOSTS`` entries.

    Probes name the target by address: the image's HEALTHCHECK calls
    ``http://127.0.0.1:$PORT/health`` and the ALB's health check sends the task's private IP
    as ``Host``. Without these, ``/health`` answers 400 (DisallowedHost) and a healthy task is
    replaced. Read from the interfaces (no network call); public names still come from
    ``ALLOWED_HOSTS`` only.
    """
    import socket

    import psutil

    hosts = []
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET:
                hosts.append(address.address)
            elif address.family == socket.AF_INET6 and "%" not in address.address:
                hosts.append(f"[{address.address}]")
    return sorted(set(hosts))


# Turn off only if every probe sends an allowed Host (then list 127.0.0.1 in ALLOWED_HOSTS).
if env.bool("ALLOWED_HOSTS_LOCAL_IPS", default=True):
    ALLOWED_HOSTS = [*ALLOWED_HOSTS, *_local_ip_hosts()]
ALLOWED_ORIGINS = env.list("ALLOWED_ORIGINS")
CORS_ALLOWED_ORIGINS = ALLOWED_ORIGINS
CSRF_TRUSTED_ORIGINS = [o for o in ALLOWED_ORIGINS if o.startswith("https://")]

# Rate-limit counters must be shared and atomic: Redis (REDIS_URL required), or the MongoDB
# cache (CACHE_BACKEND=mongodb: atomic add/incr in the app's database, buyhive/mongo_cache.py);
# never a per-process local-memory cache.
if CACHE_BACKEND == "redis":
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
# 0 unless set: behind the ALB or App Runner it is 1 (their task definitions set it); a
# default of 1 let a direct caller choose its address with X-Forwarded-For.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# =============================================================================
# Email through Amazon SES (credentials from the task role)
# =============================================================================
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django_ses.SESBackend")
# django-ses's throttle asks SES for the send quota before each mail (ses:GetSendQuota), which
# the task role does not allow (only SendEmail/SendRawEmail), and it counts per process anyway.
AWS_SES_AUTO_THROTTLE = 0

# =============================================================================
# Background work: Celery on Amazon SQS (the queue and its dead-letter queue are made by
# deploy/aws/service.yaml; credentials come from the task role)
# https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/sqs.html
# =============================================================================
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="sqs://")
CELERY_SQS_QUEUE_URL = env.str("CELERY_SQS_QUEUE_URL", default="")
if CELERY_BROKER_URL.startswith("sqs://") and not CELERY_SQS_QUEUE_URL:
    raise ImproperlyConfigured("CELERY_SQS_QUEUE_URL is required with the SQS broker.")
CELERY_BROKER_TRANSPORT_OPTIONS = celery_transport_options(
    broker_url=CELERY_BROKER_URL,
    queue=CELERY_TASK_DEFAULT_QUEUE,
    key_prefix=CELERY_KEY_PREFIX,
    sqs_queue_url=CELERY_SQS_QUEUE_URL,
)
CELERY_WORKER_ENABLE_REMOTE_CONTROL = not CELERY_BROKER_URL.startswith("sqs://")
# The single scheduler's state file: the scheduler task's own ephemeral disk.
CELERY_BEAT_SCHEDULE_FILENAME = env.str(
    "CELERY_BEAT_SCHEDULE_FILENAME",
    default="/tmp/celerybeat-schedule",  # noqa: S108
)

# =============================================================================
# Logs: JSON lines on stdout for CloudWatch (retention is the log group's, in
# deploy/aws/service.yaml; nothing is written to files in the container)
# =============================================================================
LOGGING = logconfig.configure(level=LOG_LEVEL, json=True)

# =============================================================================
# Metrics: CloudWatch Embedded Metric Format lines on stdout (buyhive/metrics.py)
# =============================================================================
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=True)
# Last, so it times the view and sees ``resolver_match`` (the route pattern).
MIDDLEWARE = [*MIDDLEWARE, "buyhive.metrics.MetricsMiddleware"]

# =============================================================================
# Sentry: only when SENTRY_DSN is set (buyhive/observability.py scrubs PII)
# =============================================================================
# The release is the image's git commit (BUYHIVE_RELEASE, set by the Docker build) unless
# SENTRY_RELEASE names one explicitly.
SENTRY_RELEASE = env.str("SENTRY_RELEASE", default="") or env.str("BUYHIVE_RELEASE", default="")

try:
    init_sentry(
        dsn=SENTRY_DSN,
        environment=ENVIRONMENT,
        release=SENTRY_RELEASE,
        sample_rate=SENTRY_SAMPLE_RATE,
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
        profiles_sample_rate=SENTRY_PROFILES_SAMPLE_RATE,
    )
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from exc
