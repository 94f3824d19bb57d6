"""Forms that show the services' refusals on the field, inline row or form they concern."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.db import models

from buyhive.exceptions import DomainError
from carts.models import Cart, Item


@dataclass(frozen=True)
class ServiceError:
    """A service's refusal of a save, and where to show it.

    ``row`` is the index of the inline row whose write was refused, or None for the main
    form; ``fields`` are the service's field errors (``name``, ``url``, ``quantity``...).
    """

    message: str
    fields: dict[str, Any] | None = None
    row: int | None = None


class _RefusedSave(Exception):
    """Raised out of the save's transaction (rolling it back) to show a ``ServiceError``."""

    def __init__(self, error: ServiceError) -> None:
        super().__init__(error.message)
        self.error = error


def _refused(exc: DomainError, *, row: int | None = None) -> _RefusedSave:
    return _RefusedSave(ServiceError(message=exc.message, fields=exc.fields, row=row))


class ServiceErrorForm(forms.ModelForm):
    """A model form that shows a service's refusal of the previous attempt to save it.

    The rules themselves live in ``carts.services``; the form only carries the message back
    to the field it names (or to the top of the form when the field is not on it).
    """

    service_error: ServiceError | None = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        error = self.service_error
        if error is not None:
            shown = False
            for field, messages_ in (error.fields or {}).items():
                if field in self.fields:
                    for message in messages_ if isinstance(messages_, list) else [messages_]:
                        self.add_error(field, str(message))
                    shown = True
            if not shown:
                self.add_error(None, error.message)
        return cleaned


class CartAdminForm(ServiceErrorForm):
    class Meta:
        model = Cart
        fields = ("owner", "name", "description")


class ItemAdminForm(ServiceErrorForm):
    class Meta:
        model = Item
        fields = ("owner", "url")


def _adopt(target: models.Model, saved: models.Model) -> None:
    """Make the admin's instance the row a service wrote (pk, derived columns, times)."""
    for model_field in type(saved)._meta.concrete_fields:
        setattr(target, model_field.attname, getattr(saved, model_field.attname))
    target._state.adding = False
    target._state.db = saved._state.db
