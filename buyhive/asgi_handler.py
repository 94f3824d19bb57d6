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
response) by the loop, a disconnecting client is noticed, and the sync code runs on a
thread that serves only this request while it lasts (``thread_sensitive`` inside a
per-request ``ThreadSensitiveContext``), so a slow request still holds up no other request.

That thread is reused. Django's handler starts a new thread for every request and joins it
at the end (asgiref makes one single-thread executor per ``ThreadSensitiveContext``), about
0.35 ms of CPU each time on the development machine. Here each request borrows an idle
single-thread executor from a small pool (asgiref's ``ThreadSensitiveContext(executor=...)``)
and gives it back when done, as gthread's workers reuse their threads. A thread goes back
to the pool only when its request is over and it runs nothing; one still running code
(Django's handler normally waits for it, through ``request_finished``, but does not have to)
is shut down instead, and ends when that code does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler
from django.http import FileResponse, HttpRequest

#: Idle request threads kept for reuse per process; more requests at once start more threads
#: (uvicorn's ``limit_concurrency`` bounds them), and those beyond this many end when done.
IDLE_THREADS = 16


class RequestThread(ThreadPoolExecutor):
    """A one-thread executor that knows whether it is still running something."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="request")
        self._lock = threading.Lock()
        self.pending = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:
            self.pending += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _: Future[Any]) -> None:
        with self._lock:
            self.pending -= 1


class SyncStackASGIHandler(ASGIHandler):
    """``ASGIHandler`` running the sync middleware stack and the view in one thread hop, on a
    reused thread of the request's own."""

    def __init__(self) -> None:
        base.BaseHandler.__init__(self)
        # Sync mode, as under WSGI: no adaptation between middleware of the same (sync) kind.
        self.load_middleware(is_async=False)
        self._idle: list[RequestThread] = []  # touched only on the event loop's thread

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        thread = self._idle.pop() if self._idle else RequestThread()
        try:
            async with ThreadSensitiveContext(executor=thread):
                await self.handle(scope, receive, send)
        finally:
            if thread.pending == 0 and len(self._idle) < IDLE_THREADS:
                self._idle.append(thread)
            else:  # still busy with an abandoned request, or enough idle threads
                thread.shutdown(wait=False)

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
