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
]

urlpatterns = [
    path("health", health.health, name="health"),
    path("ready", health.ready, name="ready"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    # Anything else under /api/ answers the JSON envelope, in every environment.
    re_path(r"^api/", views.api_not_found),
]

handler400 = "buyhive.views.bad_request"
handler403 = "buyhive.views.permission_denied"
handler404 = "buyhive.views.not_found"
handler500 = "buyhive.views.server_error"
