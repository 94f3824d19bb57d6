"""What learning stores: the candidate record of each saved item, and the learned locations
of each shop's domain. Django finds them through ``extraction/models.py``."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django_mongodb_backend.fields import ArrayField

from extraction.learning.locations import LOCATION_MAX

#: A host name's length bound (RFC 1035).
DOMAIN_MAX = 253
#: Voter hashes kept per location: enough to count agreement; more add nothing.
VOTERS_MAX = 50
#: The length of one voter hash (hex).
VOTER_HASH_LEN = 32

FIELD_CHOICES = [
    ("title", "title"),
    ("price", "price"),
    ("currency", "currency"),
    ("image", "image"),
    ("availability", "availability"),
]


class CandidateRecord(models.Model):
    """The candidates one extraction weighed for one saved item (``{field: [[location,
    value key], ...]}``, :mod:`extraction.learning.candidates`).

    Deleted with the item (the cascade), with the account (through the item, and the user
    data hook), and after ``RECORD_DAYS`` by the scheduler.
    """

    item_id: Any

    item = models.OneToOneField(
        "carts.Item", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    domain = models.CharField(max_length=DOMAIN_MAX)
    candidates = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="extraction_record_created")]

    def __str__(self) -> str:
        return f"candidates of item {self.item_id} ({self.domain})"


class LearnedLocation(models.Model):
    """Where a field's true value is on one shop's pages, as its users' corrections showed.

    No user data: ``voters`` are keyed one-way hashes of the users who agreed
    (:func:`extraction.learning.services.voter_hash`), used to count distinct users, to let
    the first one benefit at once, and to take a deleted account's vote back.
    """

    domain = models.CharField(max_length=DOMAIN_MAX)
    field_name = models.CharField(max_length=16, choices=FIELD_CHOICES)
    location = models.CharField(max_length=LOCATION_MAX)
    voters = ArrayField(models.CharField(max_length=VOTER_HASH_LEN), default=list, blank=True)
    #: Distinct users who agreed (``len(voters)`` unless past ``VOTERS_MAX``).
    votes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["domain", "field_name", "-votes"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain", "field_name", "location"], name="extraction_learned_unique"
            )
        ]
        indexes = [models.Index(fields=["voters"], name="extraction_learned_voters")]

    def __str__(self) -> str:
        return f"{self.domain} {self.field_name}: {self.location}"
