"""JWT access/refresh tokens: issue, rotate, revoke (SimpleJWT tokens, our own store).

Access tokens are stateless and short (15 minutes); SimpleJWT's authentication refuses
them once the user is inactive or the password changed (``CHECK_REVOKE_TOKEN``). Refresh
tokens are recorded in :class:`accounts.models.RefreshToken`: one is valid only while its
row exists, unrevoked and unexpired. Rotation revokes the presented token in the same
transaction as it records the new one. Presenting an already rotated token again is a sign
of theft, so every live refresh token of that user is revoked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from bson import ObjectId
from bson.errors import InvalidId
from django.utils import timezone
from django_mongodb_backend import transaction
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken as JWTRefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.auth_cache import forget_user
from accounts.models import RefreshToken, User
from buyhive.exceptions import DomainError

logger = structlog.get_logger(__name__)


class TokenInvalid(DomainError):
    status_code = 401
    code = "token_invalid"
    default_message = "The token is invalid, expired or revoked."


def _expiry(token: JWTRefreshToken) -> datetime:
    return datetime.fromtimestamp(int(token["exp"]), tz=UTC)


def issue_tokens(user: User) -> dict[str, Any]:
    """A new access/refresh pair for ``user``, with the refresh token recorded.

    ``RefreshToken.for_user`` does not check ``is_active`` (CVE-2024-22513); callers reach
    here only for active users, and this refuses the others again.
    """
    if not user.is_active:
        raise TokenInvalid("This account is disabled.")
    refresh = JWTRefreshToken.for_user(user)
    RefreshToken.objects.create(
        jti=refresh[api_settings.JTI_CLAIM], user=user, expires_at=_expiry(refresh)
    )
    return _pair(refresh)


def _pair(refresh: JWTRefreshToken) -> dict[str, Any]:
    access = refresh.access_token
    return {
        "access": str(access),
        "refresh": str(refresh),
        "access_expires_in": int(api_settings.ACCESS_TOKEN_LIFETIME.total_seconds()),
    }


def _decode(raw: str) -> JWTRefreshToken:
    try:
        return JWTRefreshToken(raw)  # type: ignore[arg-type]  # checks signature, algorithm, expiry and token type
    except TokenError as exc:
        raise TokenInvalid() from exc


def _user_of(token: JWTRefreshToken) -> User:
    user_id = token.get(api_settings.USER_ID_CLAIM)
    try:
        pk = ObjectId(str(user_id))
    except (InvalidId, TypeError) as exc:
        raise TokenInvalid() from exc
    user = User.objects.filter(pk=pk).first()
    if user is None or not user.is_active:
        raise TokenInvalid()
    # The same check SimpleJWT's authentication makes on access tokens: a refresh token
    # minted before the password changed (or became unusable) is refused as well, even if
    # its row was not revoked.
    if api_settings.CHECK_REVOKE_TOKEN and token.get(
        api_settings.REVOKE_TOKEN_CLAIM
    ) != get_md5_hash_password(user.password):
        raise TokenInvalid()
    return user


def rotate_refresh_token(raw: str) -> dict[str, Any]:
    """Exchange a live refresh token for a new pair; the presented one stops working."""
    token = _decode(raw)
    jti = token[api_settings.JTI_CLAIM]
    user = _user_of(token)
    with transaction.atomic():
        record = RefreshToken.objects.filter(jti=jti, user=user).first()
        if record is None or record.expires_at <= timezone.now():
            raise TokenInvalid()
        if record.revoked_at is not None:
            reused = True
        else:
            reused = False
            new = JWTRefreshToken.for_user(user)
            new_jti = new[api_settings.JTI_CLAIM]
            updated = RefreshToken.objects.filter(pk=record.pk, revoked_at=None).update(
                revoked_at=timezone.now(), replaced_by=new_jti
            )
            if updated != 1:  # a concurrent rotation won the race
                reused = True
            else:
                RefreshToken.objects.create(jti=new_jti, user=user, expires_at=_expiry(new))
    if reused:
        # A rotated token presented again: someone else may hold it. Cut every session.
        count = revoke_all_for_user(user)
        logger.warning("refresh_token_reuse", user_id=str(user.pk), revoked=count)
        raise TokenInvalid()
    return _pair(new)


def revoke_refresh_token(raw: str) -> None:
    """Log out: the given refresh token stops working.

    Idempotent: an already revoked token, or an expired one (useless anyway, and purged
    later), is accepted silently. A token that is not ours (bad signature, wrong type,
    garbage) is refused, which tells a client it is sending the wrong thing.
    """
    try:
        token = JWTRefreshToken(raw)  # type: ignore[arg-type]
    except ExpiredTokenError:
        return
    except TokenError as exc:
        raise TokenInvalid() from exc
    RefreshToken.objects.filter(jti=token[api_settings.JTI_CLAIM], revoked_at=None).update(
        revoked_at=timezone.now()
    )


def revoke_all_for_user(user: User) -> int:
    """Revoke every live refresh token of ``user``; returns how many were revoked.

    The user's cached copy (``accounts.auth_cache``) is dropped too, so that a password
    change made with a raw update (the reset) or any other cut is seen by the next request.
    """
    revoked = RefreshToken.objects.filter(user=user, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    forget_user(user.pk)
    return revoked


def purge_expired_tokens(*, now: datetime | None = None) -> int:
    """Delete refresh-token rows past their expiry (revoked or not)."""
    deleted, _ = RefreshToken.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
