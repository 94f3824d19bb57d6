"""Fixtures of the accounts tests: a fake Google on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from accounts.tests.google_fake import FakeGoogle, start_fake_google


@pytest.fixture
def google(settings: Any) -> Iterator[FakeGoogle]:
    """A JWKS served on 127.0.0.1, with ``GOOGLE_JWKS_URL`` pointing at it."""
    fake = start_fake_google()
    settings.GOOGLE_JWKS_URL = fake.jwks_url
    try:
        yield fake
    finally:
        fake.server.__exit__(None, None, None)
