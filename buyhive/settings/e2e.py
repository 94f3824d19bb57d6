"""End-to-end tests (``make e2e``): the local settings, for a backend the e2e session starts.

The e2e conftest starts a throwaway SecantusDB and passes it as ``MONGODB_URI``, and passes
the loaded extension's origin (``chrome-extension://<id>``, known only once Chromium has
loaded it) in ``ALLOWED_ORIGINS``, so CORS is answered for the extension exactly as
production answers it for the published one. Cache keys get a per-run prefix
(``E2E_CACHE_PREFIX``), so a run never sees another run's rate-limit counters or cached
extractions on the shared local Redis.
"""

from __future__ import annotations

from buyhive import logconfig

from .local import *  # noqa: F403
from .local import CACHES, env

DEBUG = False
CACHES = {
    "default": {
        **CACHES["default"],
        "KEY_PREFIX": env.str("E2E_CACHE_PREFIX", default="buyhive-e2e"),
    }
}
LOGGING = logconfig.configure(level="WARNING", json=False)
# The admin's CSS and scripts straight from the apps' static folders (no collectstatic step
# in the e2e session): https://whitenoise.readthedocs.io/en/stable/django.html#WHITENOISE_USE_FINDERS
WHITENOISE_USE_FINDERS = True
# Every browser user of an e2e session registers from the same loopback address within a
# minute or two; production's per-IP sign-up limit (10/m) would refuse the later tests. The
# limit itself is tested in the unit suite (accounts/tests, buyhive/tests/abuse).
RATE_REGISTER_IP = "300/m"
RATE_LOGIN_IP = "300/m"
