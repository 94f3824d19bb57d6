"""The models and the shipped migrations agree (``makemigrations --check`` is clean)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_model_change_is_missing_a_migration() -> None:
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exc:  # --check exits 1 when a migration is missing
        pytest.fail(f"makemigrations --check found changes:\n{out.getvalue()}\n(exit {exc.code})")
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_contrib_and_allauth_migrations_use_objectid_keys() -> None:
    """Their migrations are regenerated for ObjectId primary keys (MIGRATION_MODULES)."""
    from django.apps import apps

    for label in ("admin", "auth", "contenttypes", "account", "socialaccount", "otp_totp"):
        for model in apps.get_app_config(label).get_models():
            assert type(model._meta.pk).__name__ == "ObjectIdAutoField", model
