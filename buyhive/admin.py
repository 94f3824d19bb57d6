"""Admin helpers shared by the apps' model admins (the site itself is ``buyhive.admin_site``).

:class:`TransactionalAdmin` runs every staff write of a model admin in one MongoDB
transaction (:func:`buyhive.transactions.run_in_transaction`): the add and change pages (the
form, its inlines, whatever the services write from ``save_model``, the history entry), the
delete page, and the changelist's POSTs (bulk actions, ``list_editable``). Either all of it
is written or none of it.

Why the public views and not Django's own ``transaction.atomic``: on django-mongodb-backend
Django's atomic does nothing, and ``run_in_transaction`` refuses to start *inside* it (the
backend would run Django's "no atomic block" check on commit, after the data was written).
The other way round is fine: Django's atomic opened inside ours (``ModelAdmin.changeform_view``,
``delete_view``, the ``list_editable`` save, ``auth.admin.UserAdmin.add_view``) only flips
Django's own flags, and a service's ``django_mongodb_backend.transaction.atomic`` or
``run_in_transaction`` inside joins ours. So the transaction is opened here, at the entry
points the admin's URLs call, before any of Django's.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from buyhive.transactions import run_in_transaction


class TransactionalAdmin(admin.ModelAdmin):
    """A model admin whose POSTs (add, change, delete, changelist) each run in one transaction.

    Put it first among the bases (``class UserAdmin(TransactionalAdmin, DjangoUserAdmin)``),
    so that its transaction is the outermost one. GETs run as Django's do.
    """

    #: Changelist actions left outside the transaction: reads that may take long (an export),
    #: which a MongoDB transaction's time limit would cut short.
    actions_outside_transaction: tuple[str, ...] = ()

    def run_write(
        self, request: HttpRequest, kind: str, view: Callable[[], HttpResponse]
    ) -> HttpResponse:
        """Run ``view`` (a POST of this admin) in a transaction; the seam subclasses extend.

        ``view`` must be safe to run again: a transient transaction error reruns it whole.
        """
        label = f"admin_{self.model._meta.model_name}_{kind}"
        return run_in_transaction(view, label=label)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        view = partial(super().add_view, request, form_url, extra_context)
        return view() if request.method != "POST" else self.run_write(request, "save", view)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        view = partial(super().change_view, request, object_id, form_url, extra_context)
        return view() if request.method != "POST" else self.run_write(request, "save", view)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        view = partial(super().delete_view, request, object_id, extra_context)
        return view() if request.method != "POST" else self.run_write(request, "delete", view)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        view = partial(super().changelist_view, request, extra_context)
        if (
            request.method != "POST"
            or request.POST.get("action", "") in self.actions_outside_transaction
        ):
            return view()
        return self.run_write(request, "changelist", view)
