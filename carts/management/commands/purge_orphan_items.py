"""``manage.py purge_orphan_items --older-than DAYS [--dry-run]``.

Deletes the items that have been in no cart for more than DAYS days (``Item.orphaned_at``,
set when an item leaves its last cart). Each batch re-checks the memberships in a
transaction, so an item put back in a cart meanwhile is kept.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from carts.services import items_delete_orphans


class Command(BaseCommand):
    help = "Delete items that have been in no cart for more than --older-than days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            required=True,
            metavar="DAYS",
            help="Delete items that left their last cart more than DAYS days ago.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["older_than"]
        if days < 0:
            raise CommandError("--older-than must be 0 or more.")
        cutoff = timezone.now() - timedelta(days=days)
        deleted, kept = items_delete_orphans(orphaned_before=cutoff, dry_run=options["dry_run"])
        verb = "Would delete" if options["dry_run"] else "Deleted"
        self.stdout.write(
            f"{verb} {deleted} item(s) in no cart since before {cutoff:%Y-%m-%d %H:%M} UTC; "
            f"kept {kept} back in a cart."
        )
