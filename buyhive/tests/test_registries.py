"""The registries through which apps plug into project-wide features (buyhive/registries.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from buyhive import registries


@pytest.fixture
def empty_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registries, "_READINESS", {})
    monkeypatch.setattr(registries, "_USER_SUMMARIES", {})
    monkeypatch.setattr(registries, "_USER_DATA", {})


def test_apps_register_their_readiness_checks_and_ready_keeps_its_shape(
    client: Client, db: Any
) -> None:
    assert [entry.name for entry in registries.readiness_checks()] == ["models", "llm"]
    body = client.get("/ready").json()
    assert list(body["checks"]) == ["database", "cache", "broker", "models", "llm"]
    assert body["checks"]["models"]["status"] == "reported"
    assert body["checks"]["llm"]["status"] in {"configured", "not_configured"}


def test_a_failing_check_is_reported_unavailable_not_raised(empty_registries: None) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("boom")

    registries.register_readiness_check("later", lambda: {"status": "ok"}, order=20)
    registries.register_readiness_check("broken", broken, order=10)
    results = registries.run_readiness_checks()
    assert list(results) == ["broken", "later"]
    assert results["broken"] == {
        "status": "unavailable",
        "reason": "broken check failed: RuntimeError: boom",
    }


def test_user_summaries_are_read_once_per_page(empty_registries: None) -> None:
    calls: list[list[Any]] = []

    def counts(ids: Any) -> dict[Any, int]:
        calls.append(list(ids))
        return {pk: pk * 10 for pk in ids}

    registries.register_user_summary(name="things", label="things", counts=counts)
    assert registries.user_summary_counts([1, 2]) == {"things": {1: 10, 2: 20}}
    assert registries.user_summary_counts([]) == {"things": {}}
    assert calls == [[1, 2]]


def test_carts_registers_the_user_admin_carts_column() -> None:
    (entry,) = [e for e in registries.user_summaries() if e.name == "carts"]
    assert entry.label == "carts"
    assert entry.link is not None
    assert entry.link("abc") == "/admin/carts/cart/?owner=abc"


def test_user_data_hooks_export_in_order_and_delete_upper_layers_first(
    empty_registries: None,
) -> None:
    deleted: list[str] = []

    def deleter(name: str) -> Any:
        def delete(user: Any) -> int:
            deleted.append(name)
            return 1

        return delete

    registries.register_user_data(
        name="accounts", export=lambda u: {"email": u}, delete=deleter("accounts")
    )
    registries.register_user_data(name="carts", export=lambda u: [u], delete=deleter("carts"))
    registries.register_user_data(name="notes", export=lambda u: None)
    assert registries.export_user_data("a@x") == {
        "accounts": {"email": "a@x"},
        "carts": ["a@x"],
        "notes": None,
    }
    assert registries.delete_user_data("a@x") == {"carts": 1, "accounts": 1}
    assert deleted == ["carts", "accounts"]
