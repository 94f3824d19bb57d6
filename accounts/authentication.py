"""JWT authentication for the API (SimpleJWT), hardened for ObjectId user ids, with the user
read through a short cache (:mod:`accounts.auth_cache`) and each access token's signature
checked once per process (:class:`VerifiedTokens`)."""

from __future__ import annotations

import threading
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from django.core.signals import setting_changed
from django.dispatch import receiver
from rest_framework_simplejwt.authentication import JWTAuthentication as _SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import aware_utcnow

from accounts.auth_cache import cached_user, local_epoch, local_user, remember_user


class VerifiedTokens:
    """The access tokens whose signature this process has verified, by their exact bytes.

    Verifying a token's HMAC (and PyJWT's key checks around it) was about a seventh of the
    cart read's app CPU, paid again on every request of a session for the same bytes. The
    same bytes under the same key always verify the same way, so a token seen before is taken
    from here; everything that can change with time is checked on every request as before:
    SimpleJWT's own ``verify()`` (expiry, token type, the id claim) runs on a fresh token
    object, and the user checks (active, the password-hash claim) follow in ``get_user``.
    Tampered or re-signed tokens are other bytes and take the full path. Bounded (the oldest
    goes first) and emptied when the JWT settings change (a key rotation restarts the
    processes anyway).
    """

    MAX_TOKENS = 4096

    def __init__(self) -> None:
        self._tokens: dict[bytes, tuple[type[Token], dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, raw_token: bytes) -> Token | None:
        """A fresh, re-verified token object for ``raw_token``, or None (not seen, or no
        longer valid: then the full path answers, with SimpleJWT's own error)."""
        seen = self._tokens.get(raw_token)
        if seen is None:
            return None
        token_class, payload = seen
        token = token_class.__new__(token_class)
        token.token = raw_token  # type: ignore[assignment]
        token.current_time = aware_utcnow()
        token.payload = dict(payload)
        try:
            token.verify()  # expiry, type, jti: as for a token decoded afresh
        except TokenError:
            self.discard(raw_token)
            return None
        return token

    def add(self, raw_token: bytes, token: Token) -> None:
        with self._lock:
            while len(self._tokens) >= self.MAX_TOKENS:
                del self._tokens[next(iter(self._tokens))]
            self._tokens[raw_token] = (type(token), dict(token.payload))

    def discard(self, raw_token: bytes) -> None:
        with self._lock:
            self._tokens.pop(raw_token, None)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()

    def __len__(self) -> int:
        return len(self._tokens)


verified_tokens = VerifiedTokens()


@receiver(setting_changed)
def _jwt_settings_changed(*, setting: str, **_: Any) -> None:
    if setting in {"SIMPLE_JWT", "SECRET_KEY"}:
        verified_tokens.clear()


class JWTAuthentication(_SimpleJWTAuthentication):
    """SimpleJWT's authentication, refusing a malformed user id as an invalid token, and
    taking the user from the auth cache when it holds it.

    SimpleJWT looks the user up with the raw claim; a claim that is not an ObjectId would
    otherwise raise inside the ORM and surface as a 500. A cached user passes the same
    checks SimpleJWT makes on a fresh one (active, and the token's password-hash claim), so
    the cache changes when a change is seen (see ``accounts.auth_cache``), never what is
    accepted.
    """

    def get_validated_token(self, raw_token: bytes) -> Token:
        token = verified_tokens.get(raw_token)
        if token is not None:
            return token
        token = super().get_validated_token(raw_token)
        verified_tokens.add(raw_token, token)
        return token

    def get_user(self, validated_token: Any) -> Any:
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken("Token contained no recognizable user identification") from exc
        try:
            oid = ObjectId(str(user_id))
        except (InvalidId, TypeError) as exc:
            raise AuthenticationFailed("The token is invalid.", code="token_invalid") from exc
        hit = local_user(oid)
        if hit is None:
            epoch = local_epoch()  # before the reads: a write since then keeps none locally
            hit, version = cached_user(oid, epoch)
            if hit is None:
                user = super().get_user(validated_token)
                remember_user(user, version, epoch)
                return user
        user = hit.user
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        # The cached digest, not ``user.password``: that field is not cached (deferred), and
        # reading it would cost the database read the cache is there to save.
        if (
            api_settings.CHECK_REVOKE_TOKEN
            and validated_token.get(api_settings.REVOKE_TOKEN_CLAIM) != hit.revoke_claim
        ):
            raise AuthenticationFailed(
                "The user's password has been changed.", code="password_changed"
            )
        return user
