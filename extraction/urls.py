from __future__ import annotations

from django.urls import path

from extraction import apis

urlpatterns = [
    path("extract/", apis.ExtractApi.as_view(), name="extract"),
]
