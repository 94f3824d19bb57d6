"""Routes of the carts API, under ``/api/v1/`` (every path ends with "/")."""

from __future__ import annotations

from django.urls import URLPattern, path

from carts import apis
from carts.watch import apis as watch_apis

app_name = "carts"

urlpatterns: list[URLPattern] = [
    path("carts/", apis.CartListCreateApi.as_view(), name="cart-list"),
    path("carts/<str:cart_id>/", apis.CartDetailApi.as_view(), name="cart-detail"),
    path("carts/<str:cart_id>/items/", apis.CartItemsApi.as_view(), name="cart-items"),
    # A file download: no trailing slash, as a file name ends.
    path(
        "carts/<str:cart_id>/export.csv",
        apis.CartExportCsvApi.as_view(),
        name="cart-export-csv",
    ),
    path(
        "carts/<str:cart_id>/items/<str:item_id>/",
        apis.CartItemDetailApi.as_view(),
        name="cart-item-detail",
    ),
    path("carts/<str:cart_id>/share/", apis.CartShareApi.as_view(), name="cart-share"),
    path(
        "carts/<str:cart_id>/share-link/", apis.CartShareLinkApi.as_view(), name="cart-share-link"
    ),
    path("items/", apis.ItemListCreateApi.as_view(), name="item-list"),
    path("items/<str:item_id>/", apis.ItemDetailApi.as_view(), name="item-detail"),
    path("items/<str:item_id>/carts/", apis.ItemCartsApi.as_view(), name="item-carts"),
    path("shared/<str:token>/", apis.SharedCartApi.as_view(), name="shared-cart"),
    path("watch/urls/", watch_apis.WatchUrlsApi.as_view(), name="watch-urls"),
    path("items/<str:item_id>/history/", watch_apis.ItemHistoryApi.as_view(), name="item-history"),
]
