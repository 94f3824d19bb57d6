"""Browser pages of the accounts app, mounted at the site root (not under ``/api/``).

The password-reset email links here: ``/auth/password/reset/<uidb64>/<token>/``; the
confirmation email links to ``/auth/email/confirm/<key>/``.
"""

from __future__ import annotations

from django.urls import URLPattern, path

from accounts import views

urlpatterns: list[URLPattern] = [
    path(
        "auth/password/reset/<str:uidb64>/<str:token>/",
        views.password_reset_page,
        name="password_reset_page",
    ),
    path(
        "auth/email/confirm/<str:key>/",
        views.email_confirmation_page,
        name="email_confirmation_page",
    ),
]
