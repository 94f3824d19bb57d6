from __future__ import annotations

from django.apps import AppConfig


class MlverifyConfig(AppConfig):
    name = "mlverify"
    default_auto_field = "django_mongodb_backend.fields.ObjectIdAutoField"
