"""Sentry initialisation (only when ``SENTRY_DSN`` is set)."""

from __future__ import annotations

import logging


def init_sentry(*, environment: str) -> bool:
    """Initialise Sentry from settings; return whether it was turned on."""
    from buyhive.settings import base

    dsn = base.SENTRY_DSN
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=base.SENTRY_RELEASE or None,
        traces_sample_rate=base.SENTRY_TRACES_SAMPLE_RATE,
        send_default_pii=False,
        integrations=[
            DjangoIntegration(),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
    )
    return True

