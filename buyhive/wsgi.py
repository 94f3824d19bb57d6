"""WSGI entry point (gunicorn's gthread workers, gunicorn.conf.py's default)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buyhive.settings.production")

application = get_wsgi_application()
