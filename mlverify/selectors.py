"""Reads of mlverify: the pages a user shared for labelling, always scoped to the user."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from buyhive.exceptions import NotFound
from buyhive.object_ids import parse_object_id
from mlverify.models import PageSample

#: What a list shows of a sample: never the page itself.
LIST_FIELDS = ("url", "title", "verdict", "label", "created_at", "expires_at")


def page_sample_list(*, user: Any) -> QuerySet[PageSample]:
    """The user's shared pages, newest first (the owner index), without their html."""
    return PageSample.objects.filter(owner_id=user.pk).only(*LIST_FIELDS).order_by("-created_at")


def page_sample_get(*, user: Any, sample_id: Any) -> PageSample:
    """The user's shared page ``sample_id``; NotFound when unknown, malformed or another's."""
    oid = parse_object_id(sample_id)
    sample = PageSample.objects.filter(pk=oid).only("owner").first() if oid else None
    if sample is None or sample.owner_id != user.pk:
        raise NotFound("Shared page not found.")
    return sample


def labelled_page_samples() -> QuerySet[PageSample]:
    """Every labelled shared page, oldest first: the training data staff add with
    ``train_page_classifier --shared-pages`` (offline, not a user's read)."""
    return PageSample.objects.exclude(label="").order_by("created_at", "pk")


def page_sample_counts() -> dict[str, int]:
    """How many shared pages wait for a label and how many have one (staff's dashboard)."""
    counts = PageSample.objects.aggregate(
        waiting=Count("pk", filter=Q(label="")), labelled=Count("pk", filter=~Q(label=""))
    )
    return {key: int(counts[key] or 0) for key in ("waiting", "labelled")}
