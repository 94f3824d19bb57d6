"""Amazon SQS operations the runbook needs: replaying the dead-letter queue.

A task that failed ``maxReceiveCount`` times (the queue's redrive policy) lands in the
dead-letter queue untouched. Once the cause is fixed, :func:`replay_dead_letters` moves the
messages back, body and attributes unchanged, so the worker runs them again (every task is
idempotent, so a replay never does the work twice). AWS's own "Start DLQ redrive"
(``StartMessageMoveTask``) does the same; this one also runs against the local SQS fake.
"""

from __future__ import annotations

from typing import Any

import structlog

logger = structlog.get_logger(__name__)

#: Empty receives in a row after which the dead-letter queue is taken as drained.
_EMPTY_RECEIVES = 3


def replay_dead_letters(
    *, client: Any, dlq_url: str, queue_url: str, limit: int | None = None, dry_run: bool = False
) -> int:
    """Move up to ``limit`` messages from ``dlq_url`` back to ``queue_url``; return the count.

    Each message is sent first and deleted from the dead-letter queue only afterwards, so a
    crash in between leaves a duplicate (harmless), never a loss. ``dry_run`` counts the
    messages waiting (SQS's approximate count) and moves nothing.
    """
    if dry_run:
        attributes = client.get_queue_attributes(
            QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])
    moved = empty = 0
    while (limit is None or moved < limit) and empty < _EMPTY_RECEIVES:
        batch = min(10, limit - moved) if limit is not None else 10
        messages = client.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=batch,
            MessageAttributeNames=["All"],
            WaitTimeSeconds=1,
            VisibilityTimeout=60,
        ).get("Messages", [])
        if not messages:
            empty += 1
            continue
        empty = 0
        for message in messages:
            send: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                send["MessageAttributes"] = message["MessageAttributes"]
            client.send_message(**send)
            client.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    logger.info("sqs_dead_letters_replayed", moved=moved)
    return moved
