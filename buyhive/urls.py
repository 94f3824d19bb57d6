"""URL configuration. Every API path ends with "/" (``APPEND_SLASH`` is off)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from buyhive import health, views

api_v1 = [
    path("", include("accounts.urls")),
    path("", include("carts.urls")),
    path("", include("extraction.urls")),
    path("", include("mlverify.urls")),
    path("", include("alerts.urls")),
]

urlpatterns = [
    path("", views.root, name="root"),
    path("health", health.health, name="health"),
    path("ready", health.ready, name="ready"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("admin/", admin.site.urls),
    # The password-reset page the reset email links to (the API has the same flow).
    path("", include("accounts.web_urls")),
    # The one-click unsubscribe link every optional mail carries (buyhive/mail).
    path("", include("buyhive.mail.urls")),
    # allauth serves the staff Google web flow. Its own password reset (which cannot encode
    # ObjectId keys) and open web signup are not exposed: the API owns those flows.
    re_path(r"^accounts/(password|signup|email|confirm-email|reauthenticate)/", views.not_found),
    path("accounts/", include("allauth.urls")),
    # Anything else under /api/ answers the JSON envelope, in every environment.
    re_path(r"^api/", views.api_not_found),
]

handler400 = "buyhive.views.bad_request"
handler403 = "buyhive.views.permission_denied"
handler404 = "buyhive.views.not_found"
handler500 = "buyhive.views.server_error"
