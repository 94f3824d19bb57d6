"""One-click unsubscribe (RFC 8058), the one mechanism every optional mail kind reuses.

A link carries an opaque token: the address and the mail kind, encrypted and authenticated
with a key derived from ``SECRET_KEY`` (Fernet). It works without an account and without
any stored state, never expires, and shows nobody (a log line, a forwarded mail's reader)
which address it belongs to. Opening it (GET) only asks; a POST (the mail client's one-click
``List-Unsubscribe=One-Click``, or the page's button) records a :class:`Suppression`.
"""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import IntegrityError
from django.urls import reverse

from buyhive.mail.models import Suppression

_KEY_CONTEXT = b"buyhive.mail.unsubscribe.v1:"


def _fernet() -> Fernet:
    digest = hashlib.sha256(_KEY_CONTEXT + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def normalize_address(address: str) -> str:
    return (address or "").strip().lower()


def unsubscribe_token(*, address: str, kind: str) -> str:
    payload = json.dumps([normalize_address(address), kind], separators=(",", ":"))
    return _fernet().encrypt(payload.encode()).decode().rstrip("=")


def read_unsubscribe_token(token: str) -> tuple[str, str] | None:
    """``(address, kind)`` for a token this server made, else None (never an exception)."""
    if not token or len(token) > 1024:
        return None
    padded = token + "=" * (-len(token) % 4)
    try:
        address, kind = json.loads(_fernet().decrypt(padded.encode()))
    except (InvalidToken, ValueError, TypeError):
        return None
    if not isinstance(address, str) or not isinstance(kind, str):
        return None
    return address, kind


def unsubscribe_url(*, address: str, kind: str) -> str:
    path = reverse(
        "mail_unsubscribe", kwargs={"token": unsubscribe_token(address=address, kind=kind)}
    )
    return f"{settings.PUBLIC_BASE_URL}{path}"


def unsubscribe_headers(url: str) -> dict[str, str]:
    """The two headers that make mail clients show a one-click unsubscribe (RFC 8058)."""
    return {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def is_suppressed(*, address: str, kind: str) -> bool:
    return Suppression.objects.filter(address=normalize_address(address), kind=kind).exists()


def suppression_add(*, address: str, kind: str) -> bool:
    """Record that ``address`` wants no more ``kind`` mail; True when it is new. Idempotent."""
    address = normalize_address(address)
    if Suppression.objects.filter(address=address, kind=kind).exists():
        return False
    try:
        Suppression.objects.create(address=address, kind=kind)
    except IntegrityError:  # a concurrent click won the race: the address is suppressed
        return False
    return True
