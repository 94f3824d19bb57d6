"""Auth API, mounted under ``/api/v1/`` (every path ends with "/")."""

from __future__ import annotations

from django.urls import URLPattern, path

from accounts import apis

urlpatterns: list[URLPattern] = [
    path("auth/google/", apis.GoogleSignInApi.as_view(), name="auth-google"),
    path("auth/register/", apis.RegisterApi.as_view(), name="auth-register"),
    path("auth/login/", apis.LoginApi.as_view(), name="auth-login"),
    path("auth/refresh/", apis.RefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout/", apis.LogoutApi.as_view(), name="auth-logout"),
    path("auth/password/reset/", apis.PasswordResetApi.as_view(), name="auth-password-reset"),
    path(
        "auth/password/reset/confirm/",
        apis.PasswordResetConfirmApi.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("auth/email/verify/", apis.EmailVerifyApi.as_view(), name="auth-email-verify"),
    path("auth/email/resend/", apis.EmailResendApi.as_view(), name="auth-email-resend"),
    path("auth/me/", apis.MeApi.as_view(), name="auth-me"),
    path("auth/me/export/", apis.MeExportApi.as_view(), name="auth-me-export"),
]
