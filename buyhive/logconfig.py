"""Structured logging: one configuration for Django's logging and structlog.

``configure(level=..., json=...)`` returns the ``LOGGING`` dict and configures structlog to
render through the standard library, so Django's own log records and ours share one
format: JSON lines in production (CloudWatch reads them), readable lines in development.
django-structlog adds one ``request_finished`` event per request with the request id,
user id, status and duration (see ``buyhive.middleware``).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
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
            # First: an event below its logger's level is dropped before the processors
            # below stamp and format it (the stdlib logger would drop it only after them).
            # Without it every request paid for lines nobody writes (the tests' WARNING, any
            # DEBUG line in production); docs/scaling.md "The per-request floor".
            structlog.stdlib.filter_by_level,
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


@contextlib.contextmanager
def logs_to_stderr() -> Iterator[None]:
    """While a command writes data on stdout, send everything else there to stderr.

    For commands whose stdout is a data stream (``extract_product``'s JSON lines): log handlers
    that write to stdout (this module's, configured with ``ext://sys.stdout``) are pointed at
    stderr, and ``sys.stdout`` itself is stderr meanwhile, so handlers that look stdout up on
    each record (the metrics' EMF lines) and any stray print follow. The command keeps the real
    stdout through Django's ``self.stdout``, taken before ``handle()`` runs. Undone on exit.
    """
    real = sys.stdout
    stdouts = {id(real), id(sys.__stdout__)}
    loggers = [logging.getLogger()] + [
        item
        for item in logging.Logger.manager.loggerDict.values()
        if isinstance(item, logging.Logger)
    ]
    moved: list[tuple[logging.StreamHandler[Any], Any]] = []
    for each in loggers:
        for handler in each.handlers:
            if isinstance(handler, logging.StreamHandler) and id(handler.stream) in stdouts:
                moved.append((handler, handler.stream))
                handler.setStream(sys.stderr)
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = real
        for handler, stream in moved:
            handler.setStream(stream)
