"""The admin site: staff only, with BuyHive's titles."""

from __future__ import annotations

from django.contrib.admin import AdminSite


class BuyHiveAdminSite(AdminSite):
    site_header = "BuyHive administration"
    site_title = "BuyHive admin"
    index_title = "Moderation"
