"""ASGI entry point (gunicorn with ``GUNICORN_WORKER_CLASS=uvicorn``; the default is gthread on
``buyhive.wsgi``, docs/scaling.md "The web worker class").

Django's ASGI handler with the whole sync stack run in one hop to the request's thread
(``buyhive.asgi_handler``: the same middleware and views, ~1.2 ms less CPU per request;
docs/scaling.md "The per-request floor").
"""

import os

from buyhive.asgi_handler import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buyhive.settings.production")

django_application = get_asgi_application()

from buyhive.middleware import AsgiBodySizeLimit  # noqa: E402 - needs the settings loaded

# Body limits before Django's handler reads the body (it would read all of it first).
application = AsgiBodySizeLimit(django_application)
