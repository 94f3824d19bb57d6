"""``python manage.py embedded_db start|stop|status|uri``: the embedded development database.

A thin front end of :mod:`buyhive.devdb` (development-only tooling, left out of the
production image). It needs no database connection (the database may well be what is being
started), so it skips system checks.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Start (idempotent), stop, or show the embedded SecantusDB server used when "
        "MONGODB_URI is unset. `start` and `uri` print its connection string."
    )
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["start", "stop", "status", "uri"])

    def handle(self, *args: Any, **options: Any) -> None:
        action: str = options["action"]
        if action == "start" and os.environ.get("MONGODB_URI"):
            self.stderr.write(
                "MONGODB_URI is set: Django connects to that server, not to this one."
            )
        try:
            # Imported here: buyhive.devdb is absent from the production image, where this
            # command then says so instead of breaking `manage.py help`.
            from buyhive.devdb.cli import run_action
            from buyhive.devdb.common import EmbeddedDBConfig, EmbeddedDBError
        except ImportError as exc:
            raise CommandError(f"The development database tooling is not installed: {exc}") from exc
        try:
            line = run_action(action, EmbeddedDBConfig.from_settings())
        except EmbeddedDBError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(line)
