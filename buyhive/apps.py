"""MongoDB-ready configurations of Django's contrib apps.

django-mongodb-backend stores primary keys as ObjectIds. Contrib apps declare integer
``AutoField`` keys, so each one is re-declared here with ``ObjectIdAutoField`` and its
migrations are generated into ``buyhive/mongo_migrations`` (``MIGRATION_MODULES`` in
settings). allauth's apps read ``ALLAUTH_DEFAULT_AUTO_FIELD`` instead.
"""

from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.contrib.auth.apps import AuthConfig
from django.contrib.contenttypes.apps import ContentTypesConfig

OBJECT_ID_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"


class MongoAdminConfig(AdminConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD
    default_site = "buyhive.admin_site.BuyHiveAdminSite"


class MongoAuthConfig(AuthConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD


class MongoContentTypesConfig(ContentTypesConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD


class BuyHiveConfig(AppConfig):
    """The project package itself: management commands (``embedded_db``) and templates."""

    name = "buyhive"
    verbose_name = "BuyHive"
    default_auto_field = OBJECT_ID_AUTO_FIELD

    def ready(self) -> None:
        from buyhive import signals  # noqa: F401 - connects the request log receivers
