"""Account reads."""

from __future__ import annotations

from allauth.socialaccount import providers
from allauth.socialaccount.models import SocialAccount
from bson import ObjectId


def user_ids_with_provider(*, provider: str) -> list[ObjectId]:
    """Ids of the users linked to ``provider``, in one query.

    Used by the admin's provider filter as ``pk__in``: a subquery or a join would be a
    ``$lookup`` over the whole user collection on MongoDB.
    """
    return list(SocialAccount.objects.filter(provider=provider).values_list("user_id", flat=True))


def installed_providers() -> list[tuple[str, str]]:
    """(id, name) of the sign-in providers installed (allauth's registry; no query)."""
    return sorted(providers.registry.as_choices())
