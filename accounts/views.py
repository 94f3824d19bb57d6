"""Browser pages (plain Django views, not the API): where reset and confirmation emails link."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.forms import SetPasswordForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts import services
from buyhive.client_ip import client_rate_key
from buyhive.exceptions import DomainError, ValidationFailed
from buyhive.ratelimit import enforce

FORM_TEMPLATE = "accounts/password_reset_form.html"
DONE_TEMPLATE = "accounts/password_reset_done.html"
INVALID_TEMPLATE = "accounts/password_reset_invalid.html"


@never_cache
@sensitive_post_parameters("new_password1", "new_password2")
@csrf_protect
@require_http_methods(["GET", "POST"])
def password_reset_page(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """Show the set-a-new-password form for a valid link, and set it on POST.

    The same service as ``POST /api/v1/auth/password/reset/confirm/`` does the work, so the
    link works once, expires, and the reset revokes every session. The page loads nothing
    from elsewhere and sends no referrer, so the token in its address goes nowhere.
    """
    context = {"site_name": settings.SITE_NAME}
    try:
        enforce(
            request,
            group="auth-reset-page-ip",
            rate=settings.RATE_LOGIN_IP,
            key=client_rate_key(request),
        )
        user = services.password_reset_check(uid=uidb64, token=token)
    except ValidationFailed:
        return render(request, INVALID_TEMPLATE, context, status=400)
    except DomainError as exc:  # rate limited, or the counter store is down
        response = render(
            request, INVALID_TEMPLATE, {**context, "error": exc.message}, status=exc.status_code
        )
        for name, value in exc.headers.items():
            response[name] = value
        return response

    if request.method == "POST":
        form = SetPasswordForm(user, request.POST)
        if form.is_valid():
            try:
                services.password_reset_confirm(
                    uid=uidb64, token=token, new_password=form.cleaned_data["new_password1"]
                )
            except ValidationFailed:
                return render(request, INVALID_TEMPLATE, context, status=400)
            return render(request, DONE_TEMPLATE, context)
        return render(request, FORM_TEMPLATE, {**context, "form": form}, status=400)
    return render(request, FORM_TEMPLATE, {**context, "form": SetPasswordForm(user)})


CONFIRM_TEMPLATE = "accounts/email_confirmation_page.html"


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def email_confirmation_page(request: HttpRequest, key: str) -> HttpResponse:
    """The page a confirmation email links to: GET asks, only a POST confirms.

    Mail scanners and link previews open every link in a message; if opening the link
    confirmed, an account someone else registered with this address would be confirmed
    without its owner choosing to. The POST runs the same service as
    ``POST /api/v1/auth/email/verify/``.
    """
    context: dict[str, object] = {"site_name": settings.SITE_NAME}
    if request.method == "GET":
        return render(request, CONFIRM_TEMPLATE, context)
    try:
        enforce(
            request,
            group="auth-email-verify-ip",
            rate=settings.RATE_LOGIN_IP,
            key=client_rate_key(request),
        )
        user = services.email_confirm(key=key)
    except ValidationFailed:
        return render(request, CONFIRM_TEMPLATE, {**context, "invalid": True}, status=400)
    except DomainError as exc:  # rate limited, or the counter store is down
        response = render(
            request,
            CONFIRM_TEMPLATE,
            {**context, "invalid": True, "error": exc.message},
            status=exc.status_code,
        )
        for name, value in exc.headers.items():
            response[name] = value
        return response
    return render(request, CONFIRM_TEMPLATE, {**context, "done": True, "email": user.email})
