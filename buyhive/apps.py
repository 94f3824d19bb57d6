"""MongoDB-ready configurations of Django's contrib apps.

django-mongodb-backend stores primary keys as ObjectIds. Contrib apps declare integer
``AutoField`` keys, so each one is re-declared here with ``ObjectIdAutoField`` and its
migrations are generated into ``buyhive/mongo_migrations`` (``MIGRATION_MODULES`` in
settings). allauth's apps read ``ALLAUTH_DEFAULT_AUTO_FIELD`` instead.
"""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.contrib.auth.apps import AuthConfig
from django.contrib.contenttypes.apps import ContentTypesConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig as OtpTotpConfig

OBJECT_ID_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"


class MongoAdminConfig(AdminConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD
    default_site = "buyhive.admin_site.BuyHiveAdminSite"


class MongoAuthConfig(AuthConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD


class MongoContentTypesConfig(ContentTypesConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD


class MongoOtpTotpConfig(OtpTotpConfig):
    """django-otp's TOTP devices (the admin's second factor) with ObjectId keys.

    django-otp finds a device from its ``persistent_id`` (``"otp_totp.totpdevice/<pk>"``,
    kept in the session) with ``filter(id=int(pk))``: an ObjectId is not an int, so the
    lookup failed silently and no session was ever verified. ``ready`` replaces that one
    classmethod with the same lookup on the key as stored (see :func:`_filter_persistent_id`).
    """

    default_auto_field = OBJECT_ID_AUTO_FIELD

    def ready(self) -> None:
        super().ready()
        from django_otp.models import Device

        Device._filter_persistent_id = classmethod(_filter_persistent_id)  # type: ignore[assignment, method-assign]


def _filter_persistent_id(cls: Any, persistent_id: str, for_verify: bool = False) -> Any:
    """django-otp's ``Device._filter_persistent_id`` for ObjectId keys (ValueError if bad)."""
    from bson import ObjectId
    from bson.errors import InvalidId
    from django.apps import apps
    from django_otp.models import Device

    model_label, device_id = persistent_id.rsplit("/", 1)
    app_label, model_name = model_label.split(".")
    device_cls = apps.get_model(app_label, model_name)
    if not issubclass(device_cls, Device):
        return None
    try:
        pk = ObjectId(device_id)
    except (InvalidId, TypeError) as exc:
        raise ValueError(device_id) from exc
    devices = device_cls.objects.filter(id=pk)
    return devices.select_for_update() if for_verify else devices


class BuyHiveConfig(AppConfig):
    """The project package itself: management commands (``embedded_db``) and templates."""

    name = "buyhive"
    verbose_name = "BuyHive"
    default_auto_field = OBJECT_ID_AUTO_FIELD

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from buyhive import signals  # noqa: F401 - connects the request log receivers

        post_migrate.connect(_create_cache_collections, sender=self)


def _create_cache_collections(using: str = "default", **_: Any) -> None:
    """After ``migrate``: the MongoDB cache's collection and TTL index, when it is configured
    (``CACHE_BACKEND=mongodb``), so a deployment's migrate step makes it too."""
    from buyhive.mongo_cache import mongo_caches

    for cache in mongo_caches():
        if cache.alias == using:
            cache.create_collection()
