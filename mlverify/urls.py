from __future__ import annotations

from django.urls import path

from mlverify import apis

urlpatterns = [
    path("verify/image/", apis.VerifyImageApi.as_view(), name="verify-image"),
    path("classify/url/", apis.ClassifyUrlApi.as_view(), name="classify-url"),
    path("page-samples/", apis.PageSampleListApi.as_view(), name="page-sample-list"),
    path(
        "page-samples/<str:sample_id>/",
        apis.PageSampleDetailApi.as_view(),
        name="page-sample-detail",
    ),
]
