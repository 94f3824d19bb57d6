"""JWT authentication for the API (SimpleJWT), hardened for ObjectId user ids, with the user
read through a short cache (:mod:`accounts.auth_cache`)."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from rest_framework_simplejwt.authentication import JWTAuthentication as _SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings

from accounts.auth_cache import cached_user, remember_user


class JWTAuthentication(_SimpleJWTAuthentication):
    """SimpleJWT's authentication, refusing a malformed user id as an invalid token, and
    taking the user from the auth cache when it holds it.

    SimpleJWT looks the user up with the raw claim; a claim that is not an ObjectId would
    otherwise raise inside the ORM and surface as a 500. A cached user passes the same
    checks SimpleJWT makes on a fresh one (active, and the token's password-hash claim), so
    the cache changes when a change is seen (see ``accounts.auth_cache``), never what is
    accepted.
    """

    def get_user(self, validated_token: Any) -> Any:
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken("Token contained no recognizable user identification") from exc
        try:
            oid = ObjectId(str(user_id))
        except (InvalidId, TypeError) as exc:
            raise AuthenticationFailed("The token is invalid.", code="token_invalid") from exc
        hit, version = cached_user(oid)
        if hit is None:
            user = super().get_user(validated_token)
            remember_user(user, version)
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
