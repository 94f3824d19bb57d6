from __future__ import annotations

from django.urls import path

from extraction import apis, watch_apis

urlpatterns = [
    path("extract/", apis.ExtractApi.as_view(), name="extract"),
    path("watch/observations/", watch_apis.ObservationApi.as_view(), name="watch-observations"),
]
