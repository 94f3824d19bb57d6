"""What mlverify holds about a user, for the data export and the account deletion: the pages
they shared for labelling. Registered in :mod:`buyhive.registries` by
:class:`mlverify.apps.MlverifyConfig`; deletion runs inside ``DELETE auth/me/``'s transaction.
"""

from __future__ import annotations

from typing import Any

from buyhive.registries import export_date
from mlverify.models import PageSample
from mlverify.services import page_sample_html


def page_samples_export(user: Any) -> list[dict[str, Any]]:
    """The user's shared pages, oldest first, each with the page as it was sent."""
    return [
        {
            "id": str(sample.pk),
            "url": sample.url,
            "title": sample.title,
            "page_check_said": sample.verdict or None,
            "label": sample.label or None,
            "created_at": export_date(sample.created_at),
            "expires_at": export_date(sample.expires_at),
            "html": page_sample_html(sample),
        }
        for sample in PageSample.objects.filter(owner_id=user.pk).order_by("created_at", "pk")
    ]


def page_samples_delete(user: Any) -> int:
    """Delete the user's shared pages, labelled or not; the rows deleted."""
    return int(PageSample.objects.filter(owner_id=user.pk).delete()[0])
