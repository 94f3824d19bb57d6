"""JWT authentication for the API (SimpleJWT), hardened for ObjectId user ids."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from rest_framework_simplejwt.authentication import JWTAuthentication as _SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings


class JWTAuthentication(_SimpleJWTAuthentication):
    """SimpleJWT's authentication, refusing a malformed user id as an invalid token.

    SimpleJWT looks the user up with the raw claim; a claim that is not an ObjectId would
    otherwise raise inside the ORM and surface as a 500.
    """

    def get_user(self, validated_token: Any) -> Any:
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken("Token contained no recognizable user identification") from exc
        try:
            ObjectId(str(user_id))
        except (InvalidId, TypeError) as exc:
            raise AuthenticationFailed("The token is invalid.", code="token_invalid") from exc
        return super().get_user(validated_token)
