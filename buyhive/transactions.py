"""Multi-document writes in one MongoDB transaction, retried on transient errors.

Django's ``transaction.atomic`` does nothing on django-mongodb-backend; its own
``django_mongodb_backend.transaction.atomic`` starts a session transaction. MongoDB aborts a
transaction that collides with another one (``WriteConflict``) or loses its primary, and
labels the error ``TransientTransactionError``: the whole transaction may then be run again
from the start. :func:`run_in_transaction` does exactly that, a bounded number of times with
a short jittered backoff.

Only the outermost call retries: a nested call runs inside the caller's transaction, and
the error propagates to the outermost one, which restarts everything.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

import structlog
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.transaction import TransactionManagementError
from django_mongodb_backend.transaction import atomic
from pymongo.errors import PyMongoError, ServerSelectionTimeoutError

logger = structlog.get_logger(__name__)

T = TypeVar("T")

#: Attempts in all (the first one included) before a transient error is raised.
DEFAULT_ATTEMPTS = 6
#: First backoff in seconds; doubled on each attempt (0.02, 0.04, 0.08, 0.16, 0.32 s), +-50%.
BASE_BACKOFF_S = 0.02


def is_transient_transaction_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it was raised from) carries ``TransientTransactionError``.

    django-mongodb-backend re-raises pymongo errors as Django's ``DatabaseError`` family, so
    the cause chain is walked.
    """
    current: BaseException | None = exc
    for _ in range(6):
        if current is None:
            return False
        if isinstance(current, PyMongoError) and current.has_error_label(
            "TransientTransactionError"
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


def raw_collection(model: Any, using: str = DEFAULT_DB_ALIAS) -> tuple[Any, Any]:
    """``model``'s pymongo collection and the session of the transaction the caller runs in
    (None outside one), for the commands the ORM cannot express: sent with that session, they
    belong to the caller's transaction, as the ORM's own commands do."""
    connection: Any = connections[using]
    connection.ensure_connection()
    return connection.get_collection(model._meta.db_table), connection.session


def in_transaction(using: str = DEFAULT_DB_ALIAS) -> bool:
    return bool(getattr(connections[using], "in_atomic_block_mongo", False))


def _discard_session(using: str) -> None:
    """End a session left open by a failed commit.

    ``atomic`` rolls back when the block raises, but a commit that fails with a pymongo
    error (not Django's ``DatabaseError``) leaves the session on the connection, and the
    next ``atomic`` would silently join that dead transaction.
    """
    connection: Any = connections[using]
    if getattr(connection, "session", None) is None:
        return
    with contextlib.suppress(PyMongoError):
        connection.rollback_mongo()
    if connection.session is not None:
        with contextlib.suppress(PyMongoError):
            connection.session.end_session()
        connection.session = None


#: Attempts when the server cannot be reached at all: each one already waited
#: ``serverSelectionTimeoutMS``, so one retry rides out a replica-set election and more would
#: only keep the client waiting for its 503.
UNREACHABLE_ATTEMPTS = 2


def _unreachable(exc: BaseException) -> bool:
    current: BaseException | None = exc
    for _ in range(6):
        if current is None:
            return False
        if isinstance(current, ServerSelectionTimeoutError):
            return True
        current = current.__cause__ or current.__context__
    return False


def run_in_transaction(
    fn: Callable[[], T],
    *,
    label: str,
    attempts: int = DEFAULT_ATTEMPTS,
    using: str = DEFAULT_DB_ALIAS,
) -> T:
    """Run ``fn()`` in a transaction; rerun it whole after a transient transaction error.

    ``fn`` must be safe to run again: it re-reads what it needs inside the transaction and
    keeps no side effects outside the database (emails are sent after it returns).
    """
    if in_transaction(using):
        return fn()
    if connections[using].in_atomic_block:
        # Django's atomic does nothing on this backend, but on commit the backend runs Django's
        # "no atomic block" check, which would raise *after* the data was committed.
        raise TransactionManagementError(
            f"{label}: run_in_transaction inside Django's transaction.atomic (a no-op on "
            "MongoDB); call it outside, or use django_mongodb_backend.transaction.atomic."
        )
    for attempt in range(1, attempts + 1):
        try:
            with atomic(using):
                return fn()
        except Exception as exc:
            _discard_session(using)
            limit = UNREACHABLE_ATTEMPTS if _unreachable(exc) else attempts
            if attempt >= limit or not is_transient_transaction_error(exc):
                raise
            delay = BASE_BACKOFF_S * (2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
            logger.info("transaction_retry", label=label, attempt=attempt, delay_s=round(delay, 3))
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
