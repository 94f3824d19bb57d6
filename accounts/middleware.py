"""Middleware of the accounts app: unconfigured sign-in routes are a 404, not a 500."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from allauth.socialaccount.models import SocialApp
from django.http import HttpRequest, HttpResponse

from buyhive.views import not_found

logger = structlog.get_logger(__name__)


class UnconfiguredSignInMiddleware:
    """Answer 404 when a sign-in route names a provider that is not configured.

    allauth serves ``/accounts/<provider>/login/`` (and its callback) for every installed
    provider, and raises ``SocialApp.DoesNotExist`` when the provider has no client id
    (Google web sign-in for staff is optional). Unhandled, that was a 500 in production and,
    with ``DEBUG`` on, the debug page with the settings. A route that cannot work does not
    exist: 404.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if isinstance(exc, SocialApp.DoesNotExist):
            logger.info("sign_in_provider_not_configured", path=request.path)
            return not_found(request)
        return None
