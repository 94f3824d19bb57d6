"""What Django's debug page and error reports may show of the settings.

Django's :class:`~django.views.debug.SafeExceptionReporterFilter` hides settings whose name
matches ``API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE``. Connection strings slip through
that: ``MONGODB_URI`` (``mongodb+srv://user:password@...``), ``REDIS_URL``, the database's
``HOST`` (which holds the same URI) and the cache's ``LOCATION`` all carry credentials, and
the debug page printed them (issue 13, finding 11). The pattern here also hides anything
named like a URI, URL, HOST, DSN or LOCATION.
"""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter

HIDDEN_SETTINGS = re.compile(
    "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|URI|URL|HOST|DSN|LOCATION|CREDENTIAL",
    flags=re.IGNORECASE,
)


class BuyHiveExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter with :data:`HIDDEN_SETTINGS` as the pattern of hidden setting names."""

    hidden_settings = HIDDEN_SETTINGS
