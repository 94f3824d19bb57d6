"""Structured logging: one configuration for Django's logging and structlog.

``configure(level=..., json=...)`` returns the ``LOGGING`` dict and configures structlog to
render through the standard library, so Django's own log records and ours share one
format: JSON lines in production (CloudWatch reads them), readable lines in development.
django-structlog adds one ``request_finished`` event per request with the request id,
user id, status and duration (see ``buyhive.middleware``).
"""

from __future__ import annotations

from typing import Any

import structlog


def configure(*, level: str = "INFO", json: bool = False) -> dict[str, Any]:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    # Plain tracebacks in the console: structlog's default (rich, with every frame's local
    # variables pretty-printed) can take minutes on frames holding a model or a 2 MB page,
    # stalling the request that logged the exception (seen with Redis down under tests).
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    formatter_processors: list[Any] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
    ]
    if json:
        formatter_processors.append(structlog.processors.dict_tracebacks)
    formatter_processors.append(renderer)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": formatter_processors,
                "foreign_pre_chain": shared,
            },
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "structured",
                "stream": "ext://sys.stdout",
            },
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            "django": {"handlers": ["stdout"], "level": level, "propagate": False},
            # One access line per request comes from django_structlog; silence the duplicates.
            "django.server": {"handlers": ["stdout"], "level": "WARNING", "propagate": False},
            "django.request": {"handlers": ["stdout"], "level": "ERROR", "propagate": False},
            "django_structlog": {"handlers": ["stdout"], "level": level, "propagate": False},
            "pymongo": {"handlers": ["stdout"], "level": "WARNING", "propagate": False},
            "httpx": {"handlers": ["stdout"], "level": "WARNING", "propagate": False},
            "httpcore": {"handlers": ["stdout"], "level": "WARNING", "propagate": False},
        },
    }
