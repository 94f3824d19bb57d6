"""Registries: how project-wide features ask every app for its part without importing it.

``buyhive`` is the lowest layer (architecture.md, "Layers"): it may not import ``accounts``,
``carts``, ``extraction`` or ``mlverify``, not even inside a function. Yet some features span
every app: ``/ready`` reports the models and the LLM, the user admin shows each user's
number of carts, and a later issue exports and deletes all of a user's data. Each app
therefore *registers* its part here from its ``AppConfig.ready()``, and the feature asks the
registry. An app that is not installed registers nothing and simply does not show up.

Four registries, each a plain dict filled once at start-up (``ready()`` runs once per
process, before the first request), read-only afterwards, so no locking is needed:

Readiness checks (``/ready``)
    ``register_readiness_check("models", check)``: ``check()`` answers a JSON-ready dict
    with at least ``"status"``. Checks registered here are optional components (models,
    the LLM): ``/ready`` reports them but never fails because of them; the database and
    the cache, which decide readiness, stay in :mod:`buyhive.health`. A check that raises
    is reported as ``unavailable`` with the reason, never as a 500.

Per-user admin summaries (the user admin's list columns)
    ``register_user_summary(name=..., label=..., counts=..., link=...)``: ``counts(user_ids)``
    answers ``{user_id: number}`` for a whole page of users in one query (never one per
    row); ``link(user_id)``, when given, is the admin page that lists those rows.

Admin dashboard panels (the admin index)
    ``register_dashboard_panel(name=..., title=..., figures=..., order=...)``: ``figures()``
    answers a few :class:`DashboardFigure` (a label, a number, an optional admin link),
    read with a handful of cheap queries (counts and one aggregate, never one per row):
    the index runs every panel on each visit. A panel that raises is shown as unavailable
    with the reason, never as a 500.

User data export and deletion (``GET auth/me/export/``, ``DELETE auth/me/``)
    ``register_user_data(name=..., export=..., delete=...)``: ``export(user)`` answers a
    JSON-ready value of everything the app holds about ``user`` (it becomes
    ``{name: value}`` in the export); ``delete(user)`` removes it and answers how many rows
    went. Both run inside the caller's transaction, so an app's hooks must not open their own
    outside-world side effects (mail, queues) before the caller commits. Apps are asked in
    the reverse of their registration order for deletion (upper layers first: an item before
    the account that owns it), in registration order for export.
    :mod:`accounts.user_data` drives both; a new app that keeps anything about a user
    registers its hooks here (see ``carts/user_data.py``), and the deletion test, which scans
    every collection for the user's id and address, fails until it does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DashboardFigure",
    "DashboardPanel",
    "ReadinessCheck",
    "UserDataHooks",
    "UserSummary",
    "dashboard_panels",
    "delete_user_data",
    "export_date",
    "export_user_data",
    "readiness_checks",
    "register_dashboard_panel",
    "register_readiness_check",
    "register_user_data",
    "register_user_summary",
    "run_dashboard_panels",
    "run_readiness_checks",
    "user_summaries",
    "user_summary_counts",
]


# --------------------------------------------------------------------------------------------
# Readiness checks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadinessCheck:
    name: str
    check: Callable[[], Mapping[str, Any]]
    #: Where the check appears among the others in ``/ready`` (lowest first).
    order: int = 100


_READINESS: dict[str, ReadinessCheck] = {}


def register_readiness_check(
    name: str, check: Callable[[], Mapping[str, Any]], *, order: int = 100
) -> None:
    """Report ``check()`` under ``checks[name]`` in ``/ready`` (registering twice replaces)."""
    _READINESS[name] = ReadinessCheck(name=name, check=check, order=order)


def readiness_checks() -> list[ReadinessCheck]:
    return sorted(_READINESS.values(), key=lambda entry: (entry.order, entry.name))


def run_readiness_checks() -> dict[str, dict[str, Any]]:
    """Every registered check's answer by name; a check that raises is ``unavailable``."""
    results: dict[str, dict[str, Any]] = {}
    for entry in readiness_checks():
        try:
            results[entry.name] = dict(entry.check())
        except Exception as exc:  # noqa: BLE001 - optional components never break /ready
            reason = f"{entry.name} check failed: {type(exc).__name__}: {exc}"
            results[entry.name] = {"status": "unavailable", "reason": reason[:200]}
    return results


# --------------------------------------------------------------------------------------------
# Per-user summaries for the user admin
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserSummary:
    name: str
    label: str
    counts: Callable[[Sequence[Any]], Mapping[Any, int]]
    link: Callable[[Any], str] | None = None


_USER_SUMMARIES: dict[str, UserSummary] = {}


def register_user_summary(
    *,
    name: str,
    label: str,
    counts: Callable[[Sequence[Any]], Mapping[Any, int]],
    link: Callable[[Any], str] | None = None,
) -> None:
    """Add a column ``label`` to the user admin's list, its numbers from ``counts``."""
    _USER_SUMMARIES[name] = UserSummary(name=name, label=label, counts=counts, link=link)


def user_summaries() -> list[UserSummary]:
    return list(_USER_SUMMARIES.values())


def user_summary_counts(user_ids: Sequence[Any]) -> dict[str, Mapping[Any, int]]:
    """``{summary name: {user_id: number}}`` for a page of users: one call per summary."""
    ids = list(user_ids)
    return {entry.name: entry.counts(ids) if ids else {} for entry in user_summaries()}


# --------------------------------------------------------------------------------------------
# Admin dashboard panels
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardFigure:
    label: str
    value: int | str
    #: An admin page listing what was counted, when there is one.
    link: str | None = None


@dataclass(frozen=True)
class DashboardPanel:
    name: str
    title: str
    figures: Callable[[], Sequence[DashboardFigure]]
    #: Where the panel appears among the others (lowest first).
    order: int = 100


_DASHBOARD: dict[str, DashboardPanel] = {}


def register_dashboard_panel(
    *,
    name: str,
    title: str,
    figures: Callable[[], Sequence[DashboardFigure]],
    order: int = 100,
) -> None:
    """Show ``figures()`` under ``title`` on the admin index (registering twice replaces)."""
    _DASHBOARD[name] = DashboardPanel(name=name, title=title, figures=figures, order=order)


def dashboard_panels() -> list[DashboardPanel]:
    return sorted(_DASHBOARD.values(), key=lambda entry: (entry.order, entry.name))


def run_dashboard_panels() -> list[dict[str, Any]]:
    """``[{"name", "title", "figures": [...], "error"}]``, one per panel, in order.

    A panel that raises keeps its place with ``figures`` empty and ``error`` saying why.
    """
    shown: list[dict[str, Any]] = []
    for entry in dashboard_panels():
        panel: dict[str, Any] = {"name": entry.name, "title": entry.title, "error": None}
        try:
            panel["figures"] = list(entry.figures())
        except Exception as exc:  # noqa: BLE001 - one panel never breaks the admin index
            panel["figures"] = []
            panel["error"] = f"unavailable: {type(exc).__name__}: {exc}"[:200]
        shown.append(panel)
    return shown


# --------------------------------------------------------------------------------------------
# User data export and deletion (see the module docstring)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserDataHooks:
    name: str
    export: Callable[[Any], Any] | None = None
    delete: Callable[[Any], int] | None = None


_USER_DATA: dict[str, UserDataHooks] = {}


def register_user_data(
    *,
    name: str,
    export: Callable[[Any], Any] | None = None,
    delete: Callable[[Any], int] | None = None,
) -> None:
    """Declare what app ``name`` holds about a user: how to export it and to delete it."""
    _USER_DATA[name] = UserDataHooks(name=name, export=export, delete=delete)


def export_date(value: Any) -> str | None:
    """A date or time as an export hook gives it: ISO 8601, or None."""
    return value.isoformat() if value is not None else None


def export_user_data(user: Any) -> dict[str, Any]:
    """``{name: export(user)}`` for every app that registered an exporter."""
    return {
        entry.name: entry.export(user) for entry in _USER_DATA.values() if entry.export is not None
    }


def delete_user_data(user: Any) -> dict[str, int]:
    """Run every app's deleter, upper layers first; ``{name: rows deleted}``."""
    return {
        entry.name: entry.delete(user)
        for entry in reversed(list(_USER_DATA.values()))
        if entry.delete is not None
    }
