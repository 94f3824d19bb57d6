"""Django's ASGI handler with the middleware and the view run in one hop to the request's thread.

Django's own ``ASGIHandler`` loads the middleware in async mode. Ours are sync-only (and so is
every view: the API has no async view), so Django adapts at every change of mode, and each
adaptation moves the request between the event loop and the request's thread
(``sync_to_async`` or ``async_to_sync``): into the thread for the middleware, back to the loop
for URL resolution and ``process_view``, into the thread for Csrf's ``process_view``, back,
into it again for the view, and back. Each move is a ``Future``, a wake-up of the other side
and a copy of the context. Measured in-process on ``GET auth/me/`` (``bench/request_floor.py``,
docs/scaling.md "The per-request floor"), that made the ASGI path cost about twice the WSGI
path's CPU.

This handler loads the middleware in sync mode, exactly as the WSGI handler does, and calls
the whole stack (middleware, URL resolution, view) with one ``sync_to_async``. Everything
else stays Django's: the body is read on the loop, ``request_started`` and
``request_finished`` fire as before, the response is sent (streamed, for a streaming
response) by the loop, a disconnecting client is noticed, and the sync code runs on the
request's own thread (``thread_sensitive`` inside Django's per-request
``ThreadSensitiveContext``), so a slow request still holds up no other request.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler
from django.http import FileResponse, HttpRequest


class SyncStackASGIHandler(ASGIHandler):
    """``ASGIHandler`` running the sync middleware stack and the view in one thread hop."""

    def __init__(self) -> None:
        base.BaseHandler.__init__(self)
        # Sync mode, as under WSGI: no adaptation between middleware of the same (sync) kind.
        self.load_middleware(is_async=False)

    async def run_get_response(self, request: HttpRequest) -> Any:
        response = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        response._handler_class = self.__class__  # type: ignore[attr-defined]
        # As Django's: larger chunks for files (the ASGI server does the low-level chunking).
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        return response


def get_asgi_application() -> SyncStackASGIHandler:
    """``django.core.asgi.get_asgi_application`` with :class:`SyncStackASGIHandler`."""
    import django

    django.setup(set_prefix=False)
    return SyncStackASGIHandler()
