"""What mlverify stores: the pages users shared for a person to label (the page check's
labelling queue, :mod:`mlverify.samples`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from mlverify.page_check.config import PAGE_TYPES

#: A host name's length bound (RFC 1035).
SITE_MAX = 253
#: The item's own address bound (carts.models.Item.url).
URL_MAX = 2048
TITLE_MAX = 300
#: A model name and version as the checks give it (``CheckResult.model``), cut to this.
MODEL_MAX = 64

_VERDICT_LABELS = {
    "product": "A product page",
    "collection": "A list of products",
    "other": "Not a product page",
}
#: What the page check answers (``page_type``); blank when it was unavailable.
VERDICT_CHOICES = [(page_type, _VERDICT_LABELS[page_type]) for page_type in PAGE_TYPES]
#: The kinds a person labels a page with: the ``page-types`` data set's seven, so a labelled
#: page trains exactly as a page of that set does (``mlverify.training.dataset``).
LABEL_CHOICES = [
    ("product", "product: one product for sale"),
    ("collection", "collection: a grid of several products"),
    ("listing", "listing: an index of content"),
    ("service", "service: a company's marketing or pricing page"),
    ("forum", "forum"),
    ("documentation", "documentation"),
    ("article", "article"),
]


class PageSample(models.Model):
    """A page a user chose to send, with a save, for a person to label.

    ``html`` is the page exactly as the extension sent it (``extension/lib/capture.js``: no
    inline script, no cookie dialog), gzip-compressed. Kept until ``expires_at`` while
    unlabelled (``PAGE_SAMPLE_KEEP_DAYS`` after it was sent); once a person labels it,
    until its owner deletes it (``DELETE page-samples/{id}/``) or their account.
    """

    owner_id: Any

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    url = models.URLField(max_length=URL_MAX)
    #: The site the page belongs to (``mlverify.training.sites.site_of``): training holds
    #: pages out by site.
    site = models.CharField(max_length=SITE_MAX)
    title = models.CharField(max_length=TITLE_MAX, blank=True)
    html = models.BinaryField(editable=False)
    html_chars = models.PositiveIntegerField(default=0, editable=False)
    #: What the page check said when the page was sent, and which head said it.
    verdict = models.CharField(max_length=16, choices=VERDICT_CHOICES, blank=True)
    score = models.FloatField(null=True, blank=True)
    model = models.CharField(max_length=MODEL_MAX, blank=True)
    label = models.CharField(max_length=16, choices=LABEL_CHOICES, blank=True)
    labelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="mlverify_sample_owner"),
            models.Index(fields=["expires_at"], name="mlverify_sample_expires"),
            models.Index(fields=["label", "-created_at"], name="mlverify_sample_label"),
        ]

    def __str__(self) -> str:
        return f"{self.url} ({self.label or 'not labelled'})"
