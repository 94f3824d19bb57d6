"""gunicorn worker classes of our own (``GUNICORN_WORKER_CLASS`` in gunicorn.conf.py).

* :class:`BoundedUvicornWorker` (``GUNICORN_WORKER_CLASS=uvicorn``): uvicorn-worker does not
  pass gunicorn's ``worker_connections`` on, so a worker would take connections and requests
  without limit, and Django's ASGI handler gives each request's sync code a thread of its own:
  a burst of slow requests would pile up threads and memory. With ``limit_concurrency``
  uvicorn answers 503 past the bound instead.
* :class:`DrainingThreadWorker` (the default, ``gthread``): gunicorn's
  ``ThreadWorker`` stops *accepting* on SIGTERM but keeps its listening socket open until the
  in-flight requests are done, so during the drain a new connection still completes its
  handshake into the kernel's backlog, waits unanswered, and is reset at the end. This worker
  closes its listening sockets as soon as SIGTERM arrives: new connections are refused at
  once while the in-flight ones finish, as with the uvicorn worker.
"""

from __future__ import annotations

import contextlib
from typing import Any

from gunicorn.workers.gthread import ThreadWorker
from uvicorn_worker import UvicornWorker


class DrainingThreadWorker(ThreadWorker):
    """``ThreadWorker`` that closes its listeners on SIGTERM (see the module docstring)."""

    def set_accept_enabled(self, enabled: bool) -> None:
        # Never accept again once stopping: the listeners may already be closed.
        super().set_accept_enabled(enabled and self.alive)

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)  # alive = False, wakes the main loop
        self.set_accept_enabled(False)
        for listener in self.sockets:
            with contextlib.suppress(OSError):
                listener.close()


class BoundedUvicornWorker(UvicornWorker):
    """``UvicornWorker`` with ``limit_concurrency = worker_connections``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config.limit_concurrency = self.cfg.worker_connections
