"""Learning's reads: which learned locations an extraction for one user may try."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from extraction.learning.models import LearnedLocation
from extraction.learning.services import voter_hash

__all__ = ["PUBLIC_VOTES", "Learned", "learned_locations_for"]

#: Distinct users who must agree before a location helps everybody (the abuse rule).
PUBLIC_VOTES = 2
#: Rows read per lookup at most (most agreed first).
MAX_ROWS = 200
#: Locations tried per field at most (a contested field has a few; more add only cost).
PER_FIELD = 4


@dataclass(frozen=True, slots=True)
class Learned:
    """The locations to try for one extraction, by field, best first."""

    locations: dict[str, list[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.locations)

    @property
    def digest(self) -> str:
        """Changes whenever what would be tried changes (part of the extraction cache key)."""
        text = "\x00".join(f"{k}={'|'.join(v)}" for k, v in sorted(self.locations.items()))
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def learned_locations_for(*, domain: str, user_id: Any | None) -> Learned:
    """The locations learned on ``domain`` that this user may use: those they taught
    themselves first, then those at least :data:`PUBLIC_VOTES` users agreed on, most votes
    first. ``user_id`` None (no user) gets the agreed ones only."""
    if not domain:
        return Learned()
    voter = voter_hash(user_id=user_id) if user_id is not None else None
    usable = Q(votes__gte=PUBLIC_VOTES)
    if voter is not None:
        usable |= Q(voters__contains=[voter])
    # Only the rows this user may use are read: one user's many lone lessons on a shop
    # (a flood of odd corrections) weigh on their own lookups, never on anyone else's.
    rows = (
        LearnedLocation.objects.filter(usable, domain=domain)
        .order_by("-votes")
        .values_list("field_name", "location", "voters", "votes", "updated_at")[:MAX_ROWS]
    )
    ranked: list[tuple[tuple[int, int, Any], str, str]] = []
    for field_name, location, voters, votes, updated_at in rows:
        own = voter is not None and voter in (voters or [])
        if not own and votes < PUBLIC_VOTES:
            continue
        ranked.append(((int(own), votes, updated_at), field_name, location))
    ranked.sort(key=lambda row: row[0], reverse=True)
    locations: dict[str, list[str]] = {}
    for _rank, field_name, location in ranked:
        places = locations.setdefault(field_name, [])
        if len(places) < PER_FIELD:
            places.append(location)
    return Learned(locations=locations)
