"""The public unsubscribe page (``/mail/unsubscribe/<token>/``), no account needed.

GET only asks (link scanners and previews open links; they must not unsubscribe anyone);
POST unsubscribes: a mail client's one-click request (RFC 8058, body
``List-Unsubscribe=One-Click``, no cookies, so no CSRF token) or the page's own button. The
page never shows the address or whether it had an account; a token this server did not make
gets a 400 page. Both are idempotent.
"""

from __future__ import annotations

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from buyhive.mail.unsubscribe import read_unsubscribe_token, suppression_add

logger = structlog.get_logger(__name__)
_TEMPLATE = "mail/unsubscribe.html"


@never_cache
@csrf_exempt  # RFC 8058: the one-click POST comes from the mail provider, without a session
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    context = {"site_name": settings.SITE_NAME, "state": "ask"}
    found = read_unsubscribe_token(token)
    if found is None:
        context["state"] = "invalid"
        return render(request, _TEMPLATE, context, status=400)
    if request.method == "POST":
        address, kind = found
        created = suppression_add(address=address, kind=kind)
        logger.info("mail_unsubscribed", kind=kind, new=created)
        context["state"] = "done"
    response = render(request, _TEMPLATE, context)
    response["X-Robots-Tag"] = "noindex"
    return response
