from __future__ import annotations

from django.apps import AppConfig


class CartsConfig(AppConfig):
    name = "carts"
    default_auto_field = "django_mongodb_backend.fields.ObjectIdAutoField"
