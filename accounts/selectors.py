"""Account reads."""

from __future__ import annotations

from datetime import datetime

from allauth.socialaccount import providers
from allauth.socialaccount.models import SocialAccount
from bson import ObjectId
from django.db.models import Count, Q

from accounts.models import User


def user_ids_with_provider(*, provider: str) -> list[ObjectId]:
    """Ids of the users linked to ``provider``, in one query.

    Used by the admin's provider filter as ``pk__in``: a subquery or a join would be a
    ``$lookup`` over the whole user collection on MongoDB.
    """
    return list(SocialAccount.objects.filter(provider=provider).values_list("user_id", flat=True))


def installed_providers() -> list[tuple[str, str]]:
    """(id, name) of the sign-in providers installed (allauth's registry; no query)."""
    return sorted(providers.registry.as_choices())


def user_counts(*, since: datetime) -> dict[str, int]:
    """Staff-wide (the admin dashboard): ``{"users", "signed_up"}`` since ``since``, one query."""
    found = User.objects.aggregate(
        users=Count("pk"), signed_up=Count("pk", filter=Q(date_joined__gte=since))
    )
    return {name: int(found[name] or 0) for name in ("users", "signed_up")}
