"""SecantusDB's query planner and ``$and``: flatten it so the indexes are used.

django-mongodb-backend sends every filter on two or more fields as
``{"$and": [{"owner_id": u}, {"_id": {"$in": ids}}]}``. mongod's planner treats that exactly
like ``{"owner_id": u, "_id": {"$in": ids}}`` and uses an index. SecantusDB 0.7.0b3 plans a
top-level ``$and`` as a collection scan even when an index matches, so such a read grows with
the whole collection (measured on 20,000 documents: 221 ms with the ``$and``, 1.8 ms for the
same filter flattened). SecantusDB's ``explain`` reports COLLSCAN for any multi-field filter
either way, so the effect is measured by ``bench/carts.py``, not by ``explain``.

:func:`flatten_and` rewrites the filter before SecantusDB plans it. It is semantics-preserving:
a conjunction of documents whose keys are plain field names (no ``$`` operators) and that do
not repeat a field is the same predicate as one document with all those keys. Anything else
(``$or``, ``$expr``, a field named twice) stays inside a residual ``$and``. The rewrite is
applied inside the embedded server process only (development and CI); production runs on
Atlas/mongod, which needs none of it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import structlog

logger = structlog.get_logger(__name__)

_MARKER = "_buyhive_flatten_and"
#: The Storage methods that plan a filter (reads, counts, explain).
PLANNED_METHODS = ("find_matching", "count_matching", "explain_plan")


def flatten_and(query: Any, depth: int = 0) -> Any:
    """The same predicate as ``query`` with top-level ``$and`` clauses merged where safe."""
    if depth > 32 or not isinstance(query, Mapping) or "$and" not in query:
        return query
    clauses = query["$and"]
    if not isinstance(clauses, list):
        return query
    merged: dict[str, Any] = {key: value for key, value in query.items() if key != "$and"}
    residual: list[Any] = []
    for clause in clauses:
        clause = flatten_and(clause, depth + 1)
        mergeable = (
            isinstance(clause, Mapping)
            and clause
            and all(isinstance(k, str) and not k.startswith("$") for k in clause)
            and not set(clause) & set(merged)
        )
        if mergeable:
            merged.update(clause)
        else:
            residual.append(clause)
    if residual:
        merged["$and"] = residual
    return merged


def _wrap(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def planned(
        self: Any, db: str, coll: str, filter: Any = None, *args: Any, **kwargs: Any
    ) -> Any:  # noqa: A002
        return method(self, db, coll, flatten_and(filter), *args, **kwargs)

    setattr(planned, _MARKER, True)
    return planned


def apply_flatten_and_patch() -> bool:
    """Patch SecantusDB's ``Storage`` planner entry points; idempotent. Returns whether applied."""
    try:
        from secantus.storage import Storage
    except ImportError:
        logger.warning("secantus_planner_patch_skipped", reason="secantus not importable")
        return False
    for name in PLANNED_METHODS:
        method = getattr(Storage, name, None)
        if method is None:
            logger.warning("secantus_planner_patch_skipped", reason=f"Storage.{name} missing")
            return False
    for name in PLANNED_METHODS:
        method = getattr(Storage, name)
        if not getattr(method, _MARKER, False):
            setattr(Storage, name, _wrap(method))
    return True
