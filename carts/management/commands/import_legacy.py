"""``manage.py import_legacy --uri ... [--db buyHive] [--collection cartItems] [--dry-run]``.

Moves the prototype's one-document-per-user collection into users, carts, items and
memberships (``carts.legacy`` has the mapping). Idempotent: run it again after fixing a
reported document, or to pick up documents added since; nothing is created twice. The
source is only read. A progress bar (documents read) is drawn on stderr when it is a terminal.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from buyhive.progress import command_stderr, progress_bar
from carts.legacy import import_documents


class Command(BaseCommand):
    help = "Import the prototype's buyHive.cartItems documents (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--uri", required=True, help="MongoDB URI of the prototype's data.")
        parser.add_argument("--db", default="buyHive", help="Database name (default buyHive).")
        parser.add_argument(
            "--collection", default="cartItems", help="Collection name (default cartItems)."
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Run every document's import in a transaction and abort it: report only.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        client: MongoClient[dict[str, Any]] = MongoClient(
            options["uri"], serverSelectionTimeoutMS=5000, appname="buyhive-import-legacy"
        )
        try:
            collection = client[options["db"]][options["collection"]]
            try:
                total = collection.estimated_document_count()
            except PyMongoError as exc:
                raise CommandError(f"Cannot read the source collection: {exc}") from exc
            self.stdout.write(
                f"Reading {options['db']}.{options['collection']} (~{total} documents)"
                + (" [dry run]" if options["dry_run"] else "")
            )
            documents = collection.find({}, batch_size=100).sort("_id", 1)
            with progress_bar(
                documents, total=total, unit="doc", desc="import", stream=command_stderr(self)
            ) as bar:
                report = import_documents(bar, dry_run=options["dry_run"])
        finally:
            client.close()

        prefix = "Would import" if options["dry_run"] else "Imported"
        self.stdout.write(prefix + ":")
        for key, value in report.counts.items():
            self.stdout.write(f"  {key}: {value}")
        if report.errors:
            self.stdout.write(f"Not imported ({len(report.errors)}):")
            for problem in report.errors:
                self.stdout.write(f"  {problem}")
        if report.warnings:
            self.stdout.write(f"Warnings ({len(report.warnings)}):")
            for problem in report.warnings:
                self.stdout.write(f"  {problem}")
        if not report.errors:
            self.stdout.write(self.style.SUCCESS("Every document was imported."))
