"""Learning's writes: keep an item's candidates, learn from its owner's correction, forget.

Votes are keyed one-way hashes of user ids (:func:`voter_hash`), not ids: what the
learned-locations collection needs is to count *distinct* users (the two-user rule), to
recognise the user who taught a location (it helps them at once), and to take a deleted
account's votes back. A keyed HMAC gives all three and nothing more: without the server's
key a hash cannot be tied to a user (ObjectIds are guessable, so a plain hash could be
reversed by trying them), and staff looking at a location see agreement, not people. The
hash is the same on every domain so that account deletion can find and remove it without
keeping a list of the domains a user taught.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog
from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from buyhive.transactions import run_in_transaction
from carts.models import Item
from extraction.learning.candidates import page_candidates, record_matches
from extraction.learning.models import VOTER_HASH_LEN, VOTERS_MAX, CandidateRecord, LearnedLocation
from extraction.learning.page import PageView

logger = structlog.get_logger(__name__)

__all__ = [
    "ITEM_FIELD_TO_LEARNED",
    "RECORD_DAYS",
    "candidate_record_save",
    "correction_learn",
    "learned_location_delete",
    "learning_records_purge",
    "learning_user_data_delete",
    "learning_user_data_export",
    "voter_hash",
]

#: How long an item's candidates are kept: a correction later than this teaches nothing.
RECORD_DAYS = 14
#: A correction votes for at most this many of the places that held the corrected value
#: (the same price shown twice on the page: both are true, the first is enough).
VOTES_PER_CORRECTION = 2
#: The item's field names for the learnable product fields.
ITEM_FIELD_TO_LEARNED = {
    "title": "title",
    "price": "price",
    "currency": "currency",
    "image_url": "image",
    "availability": "availability",
}


def voter_hash(*, user_id: Any) -> str:
    """``HMAC-SHA256(SECRET_KEY, "extraction.learning" + user id)``, cut to 32 hex digits
    (see the module docstring for why a keyed hash). Rotating ``SECRET_KEY`` unlinks every
    vote from its user: the counts stay, but a voter is then neither recognised as the
    teacher nor found at account deletion (their account's records still go with it)."""
    secret = settings.SECRET_KEY.encode()
    message = f"extraction.learning\x00{user_id}".encode("utf-8", "surrogatepass")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:VOTER_HASH_LEN]


def record_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=RECORD_DAYS)


def candidate_record_save(*, item: Item, page: PageView) -> CandidateRecord | None:
    """Keep the candidates ``page`` offered for ``item`` (replacing an older record of the
    same item: the page saved last is the one its owner sees and may correct)."""
    candidates = page_candidates(page)
    if not candidates or not item.store_domain:
        CandidateRecord.objects.filter(item_id=item.pk).delete()
        return None
    record, _created = CandidateRecord.objects.update_or_create(
        item_id=item.pk,
        defaults={
            "domain": item.store_domain,
            "candidates": candidates,
            "created_at": timezone.now(),
        },
    )
    return record


def _vote(*, domain: str, field_name: str, location: str, voter: str) -> LearnedLocation:
    def work() -> LearnedLocation:
        now = timezone.now()
        learned = LearnedLocation.objects.filter(
            domain=domain, field_name=field_name, location=location
        ).first()
        if learned is None:
            return LearnedLocation.objects.create(
                domain=domain,
                field_name=field_name,
                location=location,
                voters=[voter],
                votes=1,
                created_at=now,
                updated_at=now,
            )
        if voter not in learned.voters:
            if len(learned.voters) < VOTERS_MAX:
                learned.voters = [*learned.voters, voter]
            learned.votes += 1
            learned.updated_at = now
            learned.save(update_fields=["voters", "votes", "updated_at"])
        return learned

    try:
        return run_in_transaction(work, label="learned_location_vote")
    except IntegrityError:  # a concurrent first vote created it: add this one to it
        return run_in_transaction(work, label="learned_location_vote")


def correction_learn(*, item: Item, fields: Mapping[str, Any]) -> list[LearnedLocation]:
    """The owner of ``item`` changed ``fields`` (item field name -> new value): for each
    learnable one, vote for the recorded places that held the new value.

    Nothing is learned without a record younger than :data:`RECORD_DAYS`, or when no
    candidate held the value the user typed (it came from elsewhere than the page).
    """
    wanted = {
        ITEM_FIELD_TO_LEARNED[name]: value
        for name, value in fields.items()
        if name in ITEM_FIELD_TO_LEARNED and value not in (None, "")
    }
    if not wanted:
        return []
    record = CandidateRecord.objects.filter(
        item_id=item.pk, created_at__gte=record_cutoff()
    ).first()
    if record is None:
        return []
    voter = voter_hash(user_id=item.owner_id)
    learned: list[LearnedLocation] = []
    for field_name, value in wanted.items():
        for location in record_matches(record.candidates, field_name, value)[:VOTES_PER_CORRECTION]:
            learned.append(
                _vote(domain=record.domain, field_name=field_name, location=location, voter=voter)
            )
    if learned:
        logger.info(
            "learning_correction_recorded",
            domain=record.domain,
            fields=sorted({entry.field_name for entry in learned}),
        )
    return learned


def learned_location_delete(*, learned: LearnedLocation) -> None:
    """Staff remove a location (a wrong lesson): later extractions stop trying it."""
    LearnedLocation.objects.filter(pk=learned.pk).delete()
    logger.info("learned_location_deleted", domain=learned.domain, field=learned.field_name)


def learning_records_purge(*, now: datetime | None = None) -> int:
    """Delete the candidate records older than :data:`RECORD_DAYS` (the scheduler's job)."""
    deleted, _ = CandidateRecord.objects.filter(created_at__lt=record_cutoff(now)).delete()
    logger.info("learning_records_purged", deleted=deleted)
    return deleted


def learning_user_data_export(user: Any) -> dict[str, int]:
    """The account export hook: how many records and lessons the user has (they hold page
    places and value digests, nothing the user wrote)."""
    item_ids = list(Item.objects.filter(owner_id=user.pk).values_list("pk", flat=True))
    records = CandidateRecord.objects.filter(item_id__in=item_ids).count() if item_ids else 0
    voter = voter_hash(user_id=user.pk)
    votes = LearnedLocation.objects.filter(voters__contains=[voter]).count()
    return {"candidate_records": records, "learned_locations_voted": votes}


def learning_user_data_delete(user: Any) -> int:
    """The account deletion hook: the user's items' records, and their votes (a location
    nobody else agreed with goes with the vote). Answers the rows deleted or changed."""
    item_ids = list(Item.objects.filter(owner_id=user.pk).values_list("pk", flat=True))
    count = 0
    if item_ids:
        count, _ = CandidateRecord.objects.filter(item_id__in=item_ids).delete()
    voter = voter_hash(user_id=user.pk)
    for learned in LearnedLocation.objects.filter(voters__contains=[voter]):
        remaining = [v for v in learned.voters if v != voter]
        if not remaining:
            learned.delete()
        else:
            votes = max(len(remaining), learned.votes - 1)
            LearnedLocation.objects.filter(pk=learned.pk).update(voters=remaining, votes=votes)
        count += 1
    return count
