"""drf-spectacular: document our JWT authentication as HTTP bearer auth.

SimpleJWT's spectacular extension targets ``rest_framework_simplejwt.authentication.
JWTAuthentication`` exactly (``match_subclasses`` is off), so it does not recognise our
subclass; this one does. Imported by ``AccountsConfig.ready``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object


class BearerJWTScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.JWTAuthentication"
    name = "jwtAuth"
    priority = 1

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Bearer",  # noqa: S106 - the auth scheme's name, not a secret
            bearer_format="JWT",
        )
