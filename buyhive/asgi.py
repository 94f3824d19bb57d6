"""ASGI entry point (gunicorn with uvicorn workers in production)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buyhive.settings.production")

django_application = get_asgi_application()

from buyhive.middleware import AsgiBodySizeLimit  # noqa: E402 - needs the settings loaded

# Body limits before Django's handler reads the body (it would read all of it first).
application = AsgiBodySizeLimit(django_application)
