"""Finding 11 (the debug page leaked secrets) and finding 12's public SECRET_KEY."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.views.debug import ExceptionReporter

from buyhive.settings.base import REPOSITORY_SECRET_KEYS, is_repository_key
from buyhive.tests.test_production_settings import (
    LOAD_SETTINGS,
    REPO,
    production_env,
    run_python,
)

# Built by concatenation so the literal secrets never appear in a traceback's source lines.
ATLAS_PASSWORD = "hunter2" + "-atlas-password"
REDIS_PASSWORD = "redis" + "-password-42"
DSN_KEY = "public" + "-sentry-key"
ATLAS_URI = f"mongodb+srv://buyhive:{ATLAS_PASSWORD}@cluster0.example.mongodb.net/"
REDIS_URI = f"redis://:{REDIS_PASSWORD}@cache.example.internal:6379/0"


def test_the_debug_page_hides_connection_strings(settings: Any) -> None:
    settings.DEBUG = True
    settings.MONGODB_URI = ATLAS_URI
    settings.REDIS_URL = REDIS_URI
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": REDIS_URI}}
    settings.SENTRY_DSN = f"https://{DSN_KEY}@o1.ingest.sentry.io/1"
    request = RequestFactory().get("/accounts/google/login/")
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        html = ExceptionReporter(request, type(exc), exc, exc.__traceback__).get_traceback_html()
    assert "MONGODB_URI" in html  # the page is there, the values are not
    for secret in (ATLAS_PASSWORD, REDIS_PASSWORD, DSN_KEY):
        assert secret not in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/accounts/google/login/", "/accounts/google/login/callback/?code=x&state=y"]
)
@pytest.mark.parametrize("debug", [True, False])
def test_unconfigured_google_web_sign_in_routes_are_404(
    path: str, debug: bool, settings: Any
) -> None:
    settings.DEBUG = debug
    response = Client(raise_request_exception=False).get(path)
    assert response.status_code == 404
    assert b"MONGODB_URI" not in response.content


def _local_debug(**env: str) -> bool:
    base = production_env(DJANGO_SETTINGS_MODULE="buyhive.settings.local", MONGODB_URI=None)
    base.pop("SECRET_KEY", None)
    base.update(env)
    result = run_python(LOAD_SETTINGS, base)
    assert result.returncode == 0, result.stderr[-2000:]
    return bool(json.loads(result.stdout.strip().splitlines()[-1])["DEBUG"])


def test_local_debug_defaults_off_when_pointed_at_a_real_database() -> None:
    assert _local_debug() is True  # the embedded database: a developer machine
    assert _local_debug(MONGODB_URI="mongodb://127.0.0.1:1/?directConnection=true") is False
    assert _local_debug(MONGODB_URI="mongodb://127.0.0.1:1/", DEBUG="true") is True  # asked


# --------------------------------------------------------------------------- SECRET_KEY


def _keys_written_in_the_repository() -> set[str]:
    """Every literal assigned to SECRET_KEY / JWT_SIGNING_KEY in a tracked file."""
    files = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    pattern = re.compile(
        r"""(?:SECRET_KEY|SIGNING_KEY)\b[^=\n]{0,40}[=:]\s*(?:env\.str\([^)]*default=)?["']?"""
        r"""([A-Za-z0-9_\-]{20,})"""
    )
    found: set[str] = set()
    for name in files:
        if name.endswith((".png", ".bin", ".onnx", ".safetensors", ".gz")):
            continue
        try:
            text = (REPO / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        found.update(m.group(1) for m in pattern.finditer(text))
    return {k for k in found if not k.isupper() and "token_urlsafe" not in k}


def test_every_key_written_in_the_repository_is_refused_as_a_production_key() -> None:
    keys = _keys_written_in_the_repository()
    assert "local-development-only-not-secret-0123456789abcdef" in keys  # the scan works
    for key in keys | REPOSITORY_SECRET_KEYS:
        # Refused as public, or too short for production's length check anyway.
        assert is_repository_key(key) or len(key) < 50, key
    assert not is_repository_key("x" * 20 + "generated-by-secrets-token-urlsafe" + "y" * 20)


@pytest.mark.parametrize("variable", ["SECRET_KEY", "JWT_SIGNING_KEY"])
def test_production_refuses_the_local_default_key(variable: str) -> None:
    result = run_python(
        LOAD_SETTINGS,
        production_env(**{variable: "local-development-only-not-secret-0123456789abcdef"}),
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{variable} is a key that ships in the repository" in result.stderr


def test_production_accepts_a_generated_key() -> None:
    result = run_python(LOAD_SETTINGS, production_env())
    assert result.returncode == 0, result.stderr[-2000:]
    assert sys.executable  # the same interpreter ran it
