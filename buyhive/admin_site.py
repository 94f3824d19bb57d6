"""The admin site: staff only, signed in with a password AND a TOTP code, throttled.

* **Second factor.** django-otp's :class:`~django_otp.admin.OTPAdminSite`: a staff member
  reaches the admin only in a session verified by one of their confirmed TOTP devices
  (``manage.py enroll_totp`` creates one, see docs/runbook.md). The login form asks for the
  code; with one device (the usual case) it is used without asking which.
* **Throttle.** As the API's sign-in: every POST counts per client (``RATE_LOGIN_IP``), and
  failures count per account and client with doubling delays
  (:class:`buyhive.ratelimit.FailureThrottle`, settings ``LOGIN_*``). A throttled attempt
  answers 429 with ``Retry-After`` before any password is checked.
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


class AdminLoginForm(OTPAdminAuthenticationForm):
    """Password, then the TOTP code of the user's (first) confirmed device."""

    def _chosen_device(self, user: Any) -> Any:
        device = super()._chosen_device(user)
        if device is None:
            device = next(iter(devices_for_user(user, confirmed=True, for_verify=True)), None)
        return device


def admin_login_throttle() -> FailureThrottle:
    return FailureThrottle(
        group="admin-login",
        free=settings.LOGIN_FREE_FAILURES,
        max_delay=settings.LOGIN_FAILURE_MAX_DELAY,
        account_alarm=settings.LOGIN_ACCOUNT_ALARM,
    )


class BuyHiveAdminSite(OTPAdminSite):
    site_header = "BuyHive administration"
    site_title = "BuyHive admin"
    index_title = "Moderation"
    login_form = AdminLoginForm

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        if request.method != "POST":
            return super().login(request, extra_context)
        client = client_rate_key(request)
        who = {"account": str(request.POST.get("username", "")).strip().lower(), "client": client}
        throttle = admin_login_throttle()
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
