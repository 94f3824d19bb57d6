"""Data rights: take your data (``GET auth/me/export/``) and leave (``DELETE auth/me/``).

Every app holds part of a user's data, and accounts sits below the apps that hold most of it
(carts, alerts), so it cannot import them. Each app registers an ``export`` and a ``delete``
hook in :mod:`buyhive.registries` when it starts; this module registers the account's own
part (:func:`account_export`, :func:`account_delete`) and drives the whole
(:func:`user_data_export`, :func:`user_delete`).

Deleting an account, in one transaction:

1. every app's ``delete`` hook, upper layers first (alerts, carts, then this one, then the
   mail outbox): carts with their share links (a link then answers 404), items,
   memberships, the user's own price history, alerts, notifications, outbox rows naming the
   user;
2. the account's rows here: refresh tokens (every session of the extension ends), admin
   sessions, email addresses, the Google link, second-factor devices, the admin history
   written by or about the user;
3. the user row.

Pooled price observations stay: they hold no user data (see :mod:`carts.user_data`).
After the commit the user's cached copy is dropped again (:mod:`accounts.auth_cache`), so a
request that read the user just before the commit cannot keep it alive for the cache's 60 s.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib.admin.models import LogEntry
from django.contrib.auth.hashers import check_password
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.auth_cache import forget_user
from accounts.models import RefreshToken, User
from buyhive import registries
from buyhive.exceptions import ValidationFailed
from buyhive.registries import export_date
from buyhive.transactions import run_in_transaction

logger = structlog.get_logger(__name__)

GOOGLE_PROVIDER = "google"
#: A Google-only account confirms a deletion with its address within this long of a sign-in.
GOOGLE_CONFIRM_WINDOW = timedelta(minutes=10)
#: The export's format, for whoever reads a file made today in a year's time.
EXPORT_FORMAT_VERSION = 1


# --------------------------------------------------------------------------- the account's hooks


def account_export(user: User) -> dict[str, Any]:
    """The profile, how the user signs in, and their sessions (never a secret or a hash)."""
    google = SocialAccount.objects.filter(user=user, provider=GOOGLE_PROVIDER).first()
    return {
        "profile": {
            "id": str(user.pk),
            "email": user.email,
            "name": user.name,
            "avatar_url": user.avatar_url,
            "email_verified": user.email_verified,
            "alert_emails": user.alert_emails,
            "date_joined": export_date(user.date_joined),
            "last_login": export_date(user.last_login),
        },
        "sign_in": {
            "password": user.has_usable_password(),
            "google": None
            if google is None
            else {
                "linked_at": export_date(google.date_joined),
                "last_login": export_date(google.last_login),
            },
        },
        "email_addresses": [
            {"email": address.email, "verified": address.verified, "primary": address.primary}
            for address in EmailAddress.objects.filter(user=user).order_by("email")
        ],
        "sessions": [
            {
                "created_at": export_date(token.created_at),
                "expires_at": export_date(token.expires_at),
                "revoked_at": export_date(token.revoked_at),
            }
            for token in RefreshToken.objects.filter(user=user).order_by("created_at")
        ],
    }


def _admin_sessions_of(user: User) -> list[str]:
    """Keys of the live Django sessions (the admin's) signed in as ``user``.

    Sessions store the user id inside their signed payload, so they are decoded one by one;
    only staff and allauth's web pages use them (the extension uses JWTs), so there are few.
    """
    keys = []
    user_id = str(user.pk)
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id", "")) == user_id:
            keys.append(session.session_key)
    return keys


def account_delete(user: User) -> int:
    """Delete the account's own rows (not the user row itself); the rows deleted."""
    user_type = ContentType.objects.get_for_model(User)
    deleted = 0
    deleted += RefreshToken.objects.filter(user=user).delete()[0]
    deleted += EmailAddress.objects.filter(user=user).delete()[0]
    deleted += SocialAccount.objects.filter(user=user).delete()[0]  # its tokens cascade
    deleted += TOTPDevice.objects.filter(user=user).delete()[0]
    deleted += Session.objects.filter(session_key__in=_admin_sessions_of(user)).delete()[0]
    # The admin history by the user (a staff member leaving) and about the account.
    deleted += LogEntry.objects.filter(user_id=user.pk).delete()[0]
    deleted += LogEntry.objects.filter(content_type=user_type, object_id=str(user.pk)).delete()[0]
    return deleted


# --------------------------------------------------------------------------- the whole


def user_data_export(*, user: User) -> dict[str, Any]:
    """Everything the service holds about ``user``, as JSON-ready data: every app's part."""
    return {
        "format_version": EXPORT_FORMAT_VERSION,
        "exported_at": timezone.now().isoformat(),
        **registries.export_user_data(user),
    }


def _confirm_deletion(user: User, *, password: str | None, confirm: str | None) -> None:
    """Refuse (400 with ``fields``) unless the request proves it is the account's owner.

    An account with a password sends it. A Google-only account has none: it sends its own
    address as ``confirm``, within ten minutes of signing in with Google, so that a token
    lifted from a browser an hour ago cannot delete the account by itself.
    """
    if user.has_usable_password():
        if not password or not check_password(password, user.password):
            raise ValidationFailed(
                "The password is not right.", fields={"password": ["The password is not right."]}
            )
        return
    if (confirm or "").strip().lower() != user.email.lower():
        raise ValidationFailed(
            "Send the account's email address as confirm.",
            fields={"confirm": ["Type the account's email address to confirm."]},
        )
    google = SocialAccount.objects.filter(user=user, provider=GOOGLE_PROVIDER).first()
    signed_in = google.last_login if google is not None else None
    if signed_in is None or timezone.now() - signed_in > GOOGLE_CONFIRM_WINDOW:
        message = "Sign in with Google again, then delete the account within 10 minutes."
        raise ValidationFailed(message, fields={"confirm": [message]})


def user_delete(
    *, user: User, password: str | None = None, confirm: str | None = None
) -> dict[str, int]:
    """Delete ``user`` and everything every app holds about them; ``{part: rows deleted}``.

    All or nothing: one transaction (retried on a transient error), so a failure leaves the
    account whole. See the module docstring for the order.
    """
    _confirm_deletion(user, password=password, confirm=confirm)
    user_id = user.pk

    def work() -> dict[str, int]:
        counts = registries.delete_user_data(user)
        User.objects.filter(pk=user_id).delete()
        return counts

    counts = run_in_transaction(work, label="user_delete")
    # Committed: drop the cached copy again, in case a request cached it during the work.
    forget_user(user_id)
    logger.info("user_deleted", user_id=str(user_id), **counts)
    return counts


def register() -> None:
    """The account's part in the export and the deletion (AccountsConfig.ready)."""
    registries.register_user_data(name="account", export=account_export, delete=account_delete)


__all__ = [
    "EXPORT_FORMAT_VERSION",
    "GOOGLE_CONFIRM_WINDOW",
    "account_delete",
    "account_export",
    "register",
    "user_data_export",
    "user_delete",
]
