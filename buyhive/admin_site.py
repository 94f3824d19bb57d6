"""The admin site: staff only, signed in with a password AND a TOTP code, throttled.

* **Second factor.** django-otp's :class:`~django_otp.admin.OTPAdminSite`: a staff member
  reaches the admin only in a session verified by one of their confirmed TOTP devices
  (``manage.py enroll_totp`` creates one, see docs/runbook.md). The login form asks for the
  code; with one device (the usual case) it is used without asking which.
* **Throttle.** As the API's sign-in: every POST counts per client (``RATE_LOGIN_IP``), and
  failures count per account and client with doubling delays
  (:class:`buyhive.ratelimit.FailureThrottle`, settings ``LOGIN_*``). A throttled attempt
  answers 429 with ``Retry-After`` before any password is checked.
* **One "Accounts" section.** allauth's ``account`` app (email addresses) and ours
  (``accounts``: users) both call themselves "Accounts"; the sidebar and the index list them
  as one section (:attr:`BuyHiveAdminSite.merged_apps`).
* **Dashboard.** The index shows the panels the apps registered in
  :func:`buyhive.registries.register_dashboard_panel` (users, carts, extractions, alerts),
  so this module names no app's models.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django_otp import DEVICE_ID_SESSION_KEY, devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from buyhive.client_ip import client_rate_key
from buyhive.exceptions import DomainError
from buyhive.ratelimit import FailureThrottle, enforce
from buyhive.registries import run_dashboard_panels


class AdminLoginForm(OTPAdminAuthenticationForm):
    """Password, then the TOTP code of the user's (first) confirmed device."""

    def _chosen_device(self, user: Any) -> Any:
        device = super()._chosen_device(user)
        if device is None:
            device = next(iter(devices_for_user(user, confirmed=True, for_verify=True)), None)
        return device


class BuyHiveAdminSite(OTPAdminSite):
    site_header = "BuyHive administration"
    site_title = "BuyHive admin"
    index_title = "Moderation"
    login_form = AdminLoginForm
    index_template = "admin/buyhive_index.html"
    #: ``{app label shown inside another: the app label it is shown in}``.
    merged_apps = {"account": "accounts"}

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)

    def get_app_list(
        self, request: HttpRequest, app_label: str | None = None
    ) -> list[dict[str, Any]]:
        """Django's list, with each app of :attr:`merged_apps` folded into its host app.

        Only the full list (sidebar, index) is merged; an app's own index page
        (``/admin/account/``) still lists its models.
        """
        apps = super().get_app_list(request, app_label)
        if app_label is not None:
            return apps
        by_label = {app["app_label"]: app for app in apps}
        for guest, host in self.merged_apps.items():
            if guest in by_label and host in by_label:
                models = by_label[host]["models"] + by_label[guest]["models"]
                by_label[host]["models"] = sorted(models, key=lambda model: model["name"])
                apps.remove(by_label[guest])
        return apps

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """The app list and, above it, the dashboard panels every app registered."""
        context = {"dashboard": run_dashboard_panels(), **(extra_context or {})}
        return super().index(request, context)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        if request.method != "POST":
            return super().login(request, extra_context)
        client = client_rate_key(request)
        who = {"account": str(request.POST.get("username", "")).strip().lower(), "client": client}
        throttle = FailureThrottle.for_sign_in("admin-login")
        try:
            enforce(request, group="admin-login-ip", rate=settings.RATE_LOGIN_IP, key=client)
            throttle.check(**who)
        except DomainError as exc:
            response = HttpResponse(exc.message, status=exc.status_code, content_type="text/plain")
            for name, value in exc.headers.items():
                response[name] = value
            return response
        response = super().login(request, extra_context)
        signed_in = response.status_code == 302 and request.user.is_authenticated
        if signed_in and request.session.get(DEVICE_ID_SESSION_KEY):  # password and code
            throttle.succeeded(**who)
        else:
            throttle.failed(**who)
        return response
