"""Writes of mlverify: the pages users share for a person to label.

Why they exist: the page check's held-out figures are limited by how many labelled pages of
unseen sites it trains on (``mlverify/page_classifier/MODEL_CARD.md``). The pages it gets
wrong in use are the ones it most needs, and only a user can point at them: on a page the
check took for a grid ("save it anyway") or for no product page (Save), the popup offers,
ticked by the user, to send the page with the save. A person labels it in the admin (the
``page-types`` kinds), and ``train_page_classifier --shared-pages`` trains on the labelled
ones.

What a user agreed to, and so what is kept: the page as the extension sent it (never more),
its address, its product title, the check's verdict. Unlabelled pages go after
``PAGE_SAMPLE_KEEP_DAYS``; labelled ones stay for training until the user deletes them
(``DELETE page-samples/{id}/``) or their account.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import structlog
from django.conf import settings
from django.utils import timezone

from mlverify.models import (
    LABEL_CHOICES,
    MODEL_MAX,
    SITE_MAX,
    TITLE_MAX,
    URL_MAX,
    VERDICT_CHOICES,
    PageSample,
)
from mlverify.training.sites import site_of

logger = structlog.get_logger(__name__)

_VERDICTS = frozenset(value for value, _ in VERDICT_CHOICES)
_LABELS = frozenset(value for value, _ in LABEL_CHOICES)


@dataclass(frozen=True)
class SampleOutcome:
    """What ``extract/`` answers about the page it was asked to keep (``page_sample``): the
    sample kept, or None when the day's limit was reached."""

    sample: PageSample | None

    @property
    def status(self) -> Literal["kept", "limit_reached"]:
        return "kept" if self.sample is not None else "limit_reached"

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "id": str(self.sample.pk) if self.sample else None}


def _expiry(created_at: Any) -> Any:
    return created_at + timedelta(days=settings.PAGE_SAMPLE_KEEP_DAYS)


def page_sample_keep(
    *, owner: Any, url: str, html: str, title: str | None, page_check: dict[str, Any]
) -> SampleOutcome:
    """Keep the page ``owner`` chose to send for labelling; at most ``PAGE_SAMPLES_PER_DAY``
    a day per user (one indexed count), beyond which nothing is kept and the outcome says so.

    ``page_check`` is the check's answer for this page as ``extract/`` gives it (the server's
    own verdict, never one the client sends). One insert: nothing is half written.
    """
    now = timezone.now()
    recent = PageSample.objects.filter(
        owner_id=owner.pk, created_at__gte=now - timedelta(days=1)
    ).count()
    if recent >= settings.PAGE_SAMPLES_PER_DAY:
        logger.info("page_sample_limit_reached", per_day=settings.PAGE_SAMPLES_PER_DAY)
        return SampleOutcome(sample=None)
    verdict = page_check.get("page_type")
    score = page_check.get("score")
    sample = PageSample.objects.create(
        owner=owner,
        url=url[:URL_MAX],
        site=site_of(url)[:SITE_MAX],
        title=(title or "")[:TITLE_MAX],
        html=gzip.compress(html.encode("utf-8"), compresslevel=6),
        html_chars=len(html),
        verdict=verdict if verdict in _VERDICTS else "",
        score=float(score) if isinstance(score, int | float) else None,
        model=str(page_check.get("model") or "")[:MODEL_MAX],
        created_at=now,
        expires_at=_expiry(now),
    )
    logger.info("page_sample_kept", sample_id=str(sample.pk), verdict=sample.verdict)
    return SampleOutcome(sample=sample)


def page_sample_label(*, sample: PageSample, label: str) -> PageSample:
    """Label ``sample`` with one of the ``page-types`` kinds (blank takes the label back).

    A labelled page no longer expires (it is training data until its owner deletes it); a
    label taken back gives it the unlabelled page's time again, from when it was sent, but
    never less than a day, so a slip in the admin cannot delete it on the next purge.
    """
    if label and label not in _LABELS:
        raise ValueError(f"unknown label {label!r}")
    now = timezone.now()
    sample.label = label
    sample.labelled_at = now if label else None
    sample.expires_at = None if label else max(_expiry(sample.created_at), now + timedelta(days=1))
    sample.save(update_fields=["label", "labelled_at", "expires_at"])
    return sample


def page_sample_delete(*, sample: PageSample) -> None:
    sample.delete()


def page_samples_purge() -> int:
    """Delete the unlabelled pages past their time; how many went (the scheduler's task)."""
    deleted, _ = PageSample.objects.filter(expires_at__lt=timezone.now()).delete()
    if deleted:
        logger.info("page_samples_purged", deleted=deleted)
    return int(deleted)


def page_sample_html(sample: PageSample) -> str:
    """The page as it was sent."""
    return gzip.decompress(bytes(sample.html)).decode("utf-8")
