"""``manage.py purge_expired_tokens``: delete refresh-token rows past their expiry."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from accounts.tokens import purge_expired_tokens


class Command(BaseCommand):
    help = "Delete stored refresh tokens that have expired (revoked or not). Safe to run often."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = purge_expired_tokens()
        self.stdout.write(f"Purged {deleted} expired refresh token(s).")
