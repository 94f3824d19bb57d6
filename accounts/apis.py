"""Auth endpoints: thin DRF views over ``accounts.services``.

Public endpoints (everything but ``auth/me/``) take no bearer token at all
(``authentication_classes = []``), so a stale or broken ``Authorization`` header cannot make
sign-in, refresh or logout fail. Rate limits are enforced inside the views with
``buyhive.ratelimit.enforce``: per client IP first (so a flood of malformed bodies counts
too), then per account once the body names one. Sign-in, registration and reset fail closed
when the counter store is down.
"""

from __future__ import annotations

from typing import Any, cast

import structlog
from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services, user_data
from accounts.models import ALERT_EMAILS_CHOICES, User, normalize_email
from accounts.tokens import (
    TokenInvalid,
    issue_tokens,
    revoke_refresh_token,
    rotate_refresh_token,
)
from buyhive.client_ip import client_rate_key
from buyhive.exceptions import ValidationFailed
from buyhive.ratelimit import FailureThrottle, allow, enforce
from buyhive.serializers import HttpUrlField

logger = structlog.get_logger(__name__)

PASSWORD_MAX = 1024  # hashing a megabyte-long password is a cheap denial of service
JWT_MAX = 4096


# --------------------------------------------------------------------------- shapes


class AccountsErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()

    def get_fields(self) -> dict[str, serializers.Field]:
        # "fields" cannot be a class attribute: it would shadow Serializer.fields.
        fields = super().get_fields()
        fields["fields"] = serializers.DictField(
            required=False, help_text="Field name -> list of messages (validation errors)."
        )
        return fields


class AccountsErrorSerializer(serializers.Serializer):
    """The error envelope every refusal answers with."""

    error = AccountsErrorDetailSerializer()
    request_id = serializers.CharField(allow_null=True)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=AccountsErrorSerializer, description=description)


E400 = _error("validation_error: bad input (with `fields`)")
E401 = _error("token_invalid: refused credentials or token")
E401_AUTH = _error("not_authenticated / token_invalid: missing, bad, expired or revoked token")
E429 = _error("rate_limited, with a `Retry-After` header (seconds)")
E503 = _error("service_unavailable: the rate-limit store or a dependency is down")


class TokenUserSerializer(serializers.Serializer):
    id = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    name = serializers.CharField(read_only=True)
    avatar_url = serializers.CharField(read_only=True)


class TokenRefreshOutputSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Bearer token for the API (JWT).")
    refresh = serializers.CharField(help_text="Single-use: exchange at auth/refresh/.")
    access_expires_in = serializers.IntegerField(help_text="Seconds until `access` expires.")


class TokenPairOutputSerializer(TokenRefreshOutputSerializer):
    user = TokenUserSerializer()


class MeSerializer(serializers.Serializer):
    id = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    name = serializers.CharField(read_only=True)
    avatar_url = serializers.CharField(read_only=True)
    email_verified = serializers.BooleanField(read_only=True)
    date_joined = serializers.DateTimeField(read_only=True)
    alert_emails = serializers.ChoiceField(
        choices=ALERT_EMAILS_CHOICES,
        read_only=True,
        help_text="Price alert mails: at once, in a daily digest (default) or never.",
    )


class TakeoverSerializer(serializers.Serializer):
    """What the account held when a verified Google sign-in took it over."""

    carts = serializers.IntegerField(help_text="Carts that were already in the account.")
    items = serializers.IntegerField(help_text="Items that were already in the account.")
    share_links_revoked = serializers.IntegerField(
        help_text="Public share links that were revoked."
    )
    sessions_revoked = serializers.IntegerField(help_text="Sessions (refresh tokens) revoked.")


class GoogleSignInOutputSerializer(TokenPairOutputSerializer):
    takeover = TakeoverSerializer(
        required=False,
        help_text=(
            "Present only when this sign-in took over an account whose email had never been "
            "verified (someone registered the address with a password): what was already "
            "there. Every share link and every other session was revoked."
        ),
    )


def _token_response(user: User, *, status_code: int = status.HTTP_200_OK) -> Response:
    body = {**issue_tokens(user), "user": TokenUserSerializer(user).data}
    return Response(TokenPairOutputSerializer(body).data, status=status_code)


def _public_input(
    request: Request,
    serializer_class: type[serializers.Serializer],
    *,
    group: str,
    rate: str,
    fail_open: bool = False,
) -> dict[str, Any]:
    """The validated body of a public endpoint, counted per client IP *before* it is parsed,
    so that a flood of malformed bodies counts too."""
    enforce(request, group=group, rate=rate, key=client_rate_key(request), fail_open=fail_open)
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


def _limit_account(request: Request, group: str, rate: str, email: str) -> None:
    enforce(request, group=group, rate=rate, key=f"email:{normalize_email(email)}")


def _limit_account_and_client(request: Request, group: str, rate: str, email: str) -> None:
    """Per address AND client: one client's requests never use up another's."""
    key = f"email:{normalize_email(email)}|{client_rate_key(request)}"
    enforce(request, group=group, rate=rate, key=key)


class PublicApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []


# --------------------------------------------------------------------------- sign-in


class GoogleSignInApi(PublicApi):
    @extend_schema_serializer(component_name="GoogleSignInInput")
    class InputSerializer(serializers.Serializer):
        id_token = serializers.CharField(max_length=JWT_MAX, trim_whitespace=True)

    @extend_schema(
        operation_id="auth_google",
        summary="Sign in with a Google ID token",
        description=(
            "Verifies the ID token against Google's published keys (RS256; `aud` one of the "
            "configured client ids; `iss` accounts.google.com; `exp`/`iat`; `email_verified`). "
            "Each token is accepted once; `azp`, when present, must be a configured client id. "
            "Creates the user or links the Google identity; an address already linked to "
            "another Google account is a 409. Taking over an account whose address was never "
            "verified revokes its share links and sessions and answers `takeover`."
        ),
        tags=["auth"],
        auth=[],
        request=InputSerializer,
        responses={
            200: GoogleSignInOutputSerializer,
            400: E400,
            401: E401,
            409: _error("conflict: the address is linked to another Google account"),
            429: E429,
            503: E503,
        },
    )
    def post(self, request: Request) -> Response:
        values = _public_input(
            request, self.InputSerializer, group="auth-google-ip", rate=settings.RATE_LOGIN_IP
        )
        result = services.google_sign_in_result(id_token=values["id_token"])
        response = _token_response(result.user)
        if result.takeover is not None:
            response.data["takeover"] = TakeoverSerializer(result.takeover).data
        return response


class RegisterApi(PublicApi):
    @extend_schema_serializer(component_name="RegisterInput")
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        password = serializers.CharField(max_length=PASSWORD_MAX, trim_whitespace=False)
        name = serializers.CharField(max_length=150, required=False, allow_blank=True)

    @extend_schema(
        operation_id="auth_register",
        summary="Create an account with email and password",
        tags=["auth"],
        auth=[],
        request=InputSerializer,
        responses={201: TokenPairOutputSerializer, 400: E400, 429: E429, 503: E503},
    )
    def post(self, request: Request) -> Response:
        values = _public_input(
            request, self.InputSerializer, group="auth-register-ip", rate=settings.RATE_REGISTER_IP
        )
        _limit_account(
            request, "auth-register-account", settings.RATE_REGISTER_ACCOUNT, values["email"]
        )
        user = services.user_register(
            email=values["email"], password=values["password"], name=values.get("name", "")
        )
        return _token_response(user, status_code=status.HTTP_201_CREATED)


class LoginApi(PublicApi):
    @extend_schema_serializer(component_name="LoginInput")
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        password = serializers.CharField(max_length=PASSWORD_MAX, trim_whitespace=False)

    @extend_schema(
        operation_id="auth_login",
        summary="Sign in with email and password",
        description=(
            "An unknown email and a wrong password get the same 401. Wrong passwords count "
            "per account and client: after a few, that client waits (429 with `Retry-After`, "
            "doubling each time) before its next try for that account; the owner signing in "
            "from elsewhere is not delayed."
        ),
        tags=["auth"],
        auth=[],
        request=InputSerializer,
        responses={200: TokenPairOutputSerializer, 400: E400, 401: E401, 429: E429, 503: E503},
    )
    def post(self, request: Request) -> Response:
        values = _public_input(
            request, self.InputSerializer, group="auth-login-ip", rate=settings.RATE_LOGIN_IP
        )
        throttle = FailureThrottle.for_sign_in("auth-login")  # per account and client
        who = {"account": normalize_email(values["email"]), "client": client_rate_key(request)}
        throttle.check(**who)
        try:
            user = services.user_login(email=values["email"], password=values["password"])
        except TokenInvalid:
            throttle.failed(**who)
            raise
        throttle.succeeded(**who)
        return _token_response(user)


# --------------------------------------------------------------------------- tokens


class RefreshTokenInputSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=JWT_MAX)


def _presented_refresh_token(request: Request, *, group: str) -> str:
    """The refresh token the body presents, once the client is within its limit.

    The credential is a signed token: guessing is hopeless, so availability wins when the
    counter store is down (the limit fails open).
    """
    values = _public_input(
        request,
        RefreshTokenInputSerializer,
        group=group,
        rate=settings.RATE_REFRESH_IP,
        fail_open=True,
    )
    return str(values["refresh"])


class RefreshApi(PublicApi):
    @extend_schema(
        operation_id="auth_refresh",
        summary="Exchange a refresh token for a new pair",
        description=(
            "Rotation: the presented refresh token stops working. Presenting it again is "
            "refused and revokes every session of the user."
        ),
        tags=["auth"],
        auth=[],
        request=RefreshTokenInputSerializer,
        responses={200: TokenRefreshOutputSerializer, 400: E400, 401: E401, 429: E429},
    )
    def post(self, request: Request) -> Response:
        pair = rotate_refresh_token(_presented_refresh_token(request, group="auth-refresh-ip"))
        return Response(TokenRefreshOutputSerializer(pair).data)


class LogoutApi(PublicApi):
    @extend_schema(
        operation_id="auth_logout",
        summary="Revoke a refresh token",
        description=(
            "Needs no bearer: the refresh token is the credential. Answers 204 again for a "
            "token already revoked or expired."
        ),
        tags=["auth"],
        auth=[],
        request=RefreshTokenInputSerializer,
        responses={204: None, 400: E400, 401: E401, 429: E429},
    )
    def post(self, request: Request) -> Response:
        revoke_refresh_token(_presented_refresh_token(request, group="auth-logout-ip"))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- email confirmation


class EmailVerifyApi(PublicApi):
    @extend_schema_serializer(component_name="EmailVerifyInput")
    class InputSerializer(serializers.Serializer):
        key = serializers.CharField(max_length=256, trim_whitespace=True)

    @extend_schema(
        operation_id="auth_email_verify",
        summary="Confirm the account's email address with the key from the confirmation mail",
        description=(
            "The key is signed and expires (EMAIL_CONFIRMATION_MAX_AGE); a key made before the "
            "account's email changed is refused. Confirming again answers 204."
        ),
        tags=["auth"],
        auth=[],
        request=InputSerializer,
        responses={204: None, 400: E400, 429: E429, 503: E503},
    )
    def post(self, request: Request) -> Response:
        values = _public_input(
            request, self.InputSerializer, group="auth-email-verify-ip", rate=settings.RATE_LOGIN_IP
        )
        services.email_confirm(key=values["key"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailResendApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="auth_email_resend",
        summary="Mail the confirmation link again",
        description=(
            "Queues a new confirmation mail to the signed-in account's address (nothing for an "
            "address already confirmed). Rate-limited per user (RATE_EMAIL_RESEND_USER)."
        ),
        tags=["auth"],
        request=None,
        responses={202: None, 401: E401_AUTH, 429: E429, 503: E503},
    )
    def post(self, request: Request) -> Response:
        # No body is needed, but one that is sent must parse, as on every endpoint: malformed
        # or too deeply nested JSON is the 400 envelope here too.
        _ = request.data
        enforce(
            request,
            group="auth-email-resend",
            rate=settings.RATE_EMAIL_RESEND_USER,
            key=f"user:{request.user.pk}",
        )
        services.email_confirmation_resend(user=cast(User, request.user))
        return Response(status=status.HTTP_202_ACCEPTED)


# --------------------------------------------------------------------------- password reset


class PasswordResetApi(PublicApi):
    @extend_schema_serializer(component_name="PasswordResetInput")
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)

    @extend_schema(
        operation_id="auth_password_reset",
        summary="Mail a password reset link",
        description=(
            "Answers 202 whether or not an account has this address. Limited per client, "
            "and per address and client (another client's requests never block the owner's "
            "own reset); past a few mails an hour to one address, the answer is still 202 "
            "but no new mail leaves (the links already sent keep working)."
        ),
        tags=["auth"],
        auth=[],
        request=InputSerializer,
        responses={202: None, 400: E400, 429: E429, 503: E503},
    )
    def post(self, request: Request) -> Response:
        values = _public_input(
            request,
            self.InputSerializer,
            group="auth-reset-ip",
            rate=settings.RATE_PASSWORD_RESET_IP,
        )
        email = values["email"]
        _limit_account_and_client(
            request, "auth-reset-account", settings.RATE_PASSWORD_RESET_ACCOUNT, email
        )
        if allow(
            request,
            group="auth-reset-mails",
            rate=settings.RATE_PASSWORD_RESET_MAILS,
            key=f"email:{normalize_email(email)}",
        ):
            services.password_reset_request(email=email)
        else:
            logger.info("password_reset_mail_capped")
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(PublicApi):
    @extend_schema_serializer(component_name="PasswordResetConfirmInput")
    class InputSerializer(serializers.Serializer):
        uid = serializers.CharField(max_length=64)
        token = serializers.CharField(max_length=128)
        new_password = serializers.CharField(max_length=PASSWORD_MAX, trim_whitespace=False)

    @extend_schema(
        operation_id="auth_password_reset_confirm",
        summary="Set a new password with a reset link's uid and token",
        description="The link works once. Every session of the user is revoked.",
        tags=["auth"],
        auth=[],
        request=InputSerializer,
        responses={204: None, 400: E400, 429: E429, 503: E503},
    )
    def post(self, request: Request) -> Response:
        values = _public_input(
            request,
            self.InputSerializer,
            group="auth-reset-confirm-ip",
            rate=settings.RATE_LOGIN_IP,
        )
        services.password_reset_confirm(
            uid=values["uid"], token=values["token"], new_password=values["new_password"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- me


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema_serializer(component_name="MeUpdateInput")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=150, required=False, allow_blank=True)
        avatar_url = HttpUrlField(required=False, allow_blank=True)
        alert_emails = serializers.ChoiceField(choices=ALERT_EMAILS_CHOICES, required=False)

    @extend_schema(
        operation_id="auth_me_retrieve",
        summary="The signed-in user",
        tags=["auth"],
        responses={200: MeSerializer, 401: E401_AUTH},
    )
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)

    @extend_schema(
        operation_id="auth_me_partial_update",
        summary="Change the display name, avatar or alert mails",
        description=(
            "Only `name`, `avatar_url` (http(s), at most 2,048 characters) and "
            "`alert_emails` (`immediate`, `daily` or `off`) can change. "
            "Any other field (email, is_staff, is_active, ...) is refused with 400."
        ),
        tags=["auth"],
        request=InputSerializer,
        responses={200: MeSerializer, 400: E400, 401: E401_AUTH},
    )
    def patch(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        unknown = sorted(set(request.data) - set(data.fields))
        if unknown:
            raise ValidationFailed(
                "Only name, avatar_url and alert_emails can be changed.",
                fields={key: ["This field cannot be changed."] for key in unknown},
            )
        user = services.user_update_profile(
            user=cast(User, request.user), data=dict(data.validated_data)
        )
        return Response(MeSerializer(user).data)

    @extend_schema_serializer(component_name="AccountDeleteInput")
    class DeleteInputSerializer(serializers.Serializer):
        password = serializers.CharField(
            max_length=PASSWORD_MAX, trim_whitespace=False, required=False
        )
        confirm = serializers.CharField(max_length=254, required=False)

    @extend_schema(
        operation_id="auth_me_destroy",
        summary="Delete the account and everything it holds",
        description=(
            'An account with a password sends `{"password"}`. A Google-only account sends '
            '`{"confirm": "<its email>"}` within 10 minutes of signing in with Google '
            "(otherwise 400: sign in again). Answers 204 and deletes, in one transaction, the "
            "account, its carts, items, memberships, notes, price history, alerts and "
            "notifications; every session ends and every share link answers 404. Pooled price "
            "observations, which hold no user data, stay. Counted against "
            "`RATE_DELETE_ACCOUNT_USER` per user."
        ),
        tags=["auth"],
        request=DeleteInputSerializer,
        responses={204: None, 400: E400, 401: E401_AUTH, 429: E429},
    )
    def delete(self, request: Request) -> Response:
        user = cast(User, request.user)
        enforce(
            request,
            group="auth-me-delete",
            rate=settings.RATE_DELETE_ACCOUNT_USER,
            key=f"user:{user.pk}",
        )
        data = self.DeleteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        user_data.user_delete(
            user=user, password=values.get("password"), confirm=values.get("confirm")
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeExportApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="auth_me_export",
        summary="Everything the service holds about the signed-in user, as JSON",
        description=(
            '`{"format_version", "exported_at", "account": {profile, sign_in, '
            'email_addresses, sessions}, "carts": {carts, items, memberships}, '
            '"alerts": {alerts, notifications}}`. Prices are plain decimal strings. '
            "Served as a download (`Content-Disposition: attachment`). Counted against "
            "`RATE_EXPORT_USER` per user."
        ),
        tags=["auth"],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="the export"),
            401: E401_AUTH,
            429: E429,
        },
    )
    def get(self, request: Request) -> Response:
        user = cast(User, request.user)
        enforce(
            request,
            group="auth-me-export",
            rate=settings.RATE_EXPORT_USER,
            key=f"user:{user.pk}",
            fail_open=True,
        )
        response = Response(user_data.user_data_export(user=user))
        response["Content-Disposition"] = 'attachment; filename="buyhive-export.json"'
        response["Cache-Control"] = "no-store"
        return response
