"""``manage.py replay_dead_letters [--max N] [--dry-run]``: the runbook's DLQ replay.

Moves the task messages of the dead-letter queue (``CELERY_SQS_DLQ_URL``) back to the task
queue (``CELERY_SQS_QUEUE_URL``), with the task role's credentials.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from buyhive.sqs import replay_dead_letters


class Command(BaseCommand):
    help = "Move the task messages of the SQS dead-letter queue back to the task queue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dlq-url", default=os.environ.get("CELERY_SQS_DLQ_URL", ""))
        parser.add_argument("--queue-url", default=settings.CELERY_SQS_QUEUE_URL)
        parser.add_argument("--max", type=int, default=None, help="Move at most N messages.")
        parser.add_argument("--dry-run", action="store_true", help="Count, move nothing.")
        parser.add_argument(
            "--endpoint-url", default=None, help="Another SQS endpoint (a local fake)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["dlq_url"] or not options["queue_url"]:
            raise CommandError("Give --dlq-url and --queue-url (or CELERY_SQS_DLQ_URL/_QUEUE_URL).")
        client = boto3.client(
            "sqs", region_name=settings.CELERY_SQS_REGION, endpoint_url=options["endpoint_url"]
        )
        count = replay_dead_letters(
            client=client,
            dlq_url=options["dlq_url"],
            queue_url=options["queue_url"],
            limit=options["max"],
            dry_run=options["dry_run"],
        )
        verb = "waiting in" if options["dry_run"] else "moved back from"
        self.stdout.write(f"{count} message(s) {verb} the dead-letter queue.")
