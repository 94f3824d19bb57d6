"""Throwaway servers for test sessions: :func:`start_ephemeral`.

A throwaway in-memory server on a free port (the root conftest uses it when ``MONGODB_URI``
is unset). It runs as a subprocess by default: measured on a 2-core machine, start
0.52-0.56 s as a subprocess against 0.18-0.22 s in-process, but 300 inserts + 300 reads + 30
aggregations took 0.36-0.44 s as a subprocess against 0.46-0.47 s in-process (the server's
threads share the test process's GIL), and a native crash in the server (WiredTiger) cannot
take the test run down with it. The subprocess exits by itself when its parent dies, so a
killed test run leaks nothing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, Literal

import structlog

from buyhive.devdb.addfields import apply_addfields_patch
from buyhive.devdb.common import (
    CONFIG_FILE_NAME,
    CONFIG_TEXT,
    DEFAULT_HOST,
    LOG_FILE_NAME,
    REPO_ROOT,
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    EmbeddedDBError,
    log_tail,
    serve_command,
    server_uri,
    wait_for_ping,
    wake_accept,
)
from buyhive.devdb.planner import apply_flatten_and_patch

logger = structlog.get_logger(__name__)

# --------------------------------------------------------------------------------------------
# Throwaway servers for test sessions
# --------------------------------------------------------------------------------------------

Mode = Literal["subprocess", "inprocess"]


class EphemeralServer:
    """A throwaway in-memory server; :meth:`stop` is idempotent and discards its data.

    The subprocess is stopped with SIGKILL: its data is thrown away anyway, its temporary
    files live in our own temporary directory (``TMPDIR``), which is removed here, and a
    clean SecantusDB shutdown costs 2 s (its stop waits that long for the accept thread).
    """

    def __init__(
        self,
        *,
        uri: str,
        mode: Mode,
        process: subprocess.Popen[bytes] | None = None,
        server: Any = None,
        workdir: tempfile.TemporaryDirectory[str] | None = None,
    ) -> None:
        self.uri = uri
        self.mode = mode
        self._process = process
        self._server = server
        self._workdir = workdir

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait(timeout=timeout)
            self._process = None
        if self._server is not None:
            _stop_inprocess(self._server)
            self._server = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self) -> EphemeralServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_ephemeral(
    *,
    host: str = DEFAULT_HOST,
    mode: Mode = "subprocess",
    patch_addfields: bool = True,
    timeout: float = START_TIMEOUT_S,
) -> EphemeralServer:
    """Start a throwaway in-memory server on a free port (see the module docstring).

    ``patch_addfields=False`` runs SecantusDB as shipped (``serve --no-patch``); it exists to
    pin the upstream bug in a test, and only as a subprocess, since the patch is process-wide.
    """
    if mode == "inprocess":
        if not patch_addfields:
            raise ValueError("an unpatched server needs mode='subprocess'")
        return _start_inprocess(host)
    last_error = ""
    for _attempt in range(3):  # the free port can be taken between probe and bind
        port = _free_port(host)
        workdir = tempfile.TemporaryDirectory(prefix="buyhive-embedded-db-")
        run_dir = Path(workdir.name)
        config_file = run_dir / CONFIG_FILE_NAME
        config_file.write_text(CONFIG_TEXT)
        log_path = run_dir / LOG_FILE_NAME
        command = serve_command(host=host, port=port, storage=":memory:", config_file=config_file)
        command += ["--parent-pid", str(os.getpid()), "--workdir", str(run_dir)]
        if not patch_addfields:
            command.append("--no-patch")
        with log_path.open("wb") as log:
            # Same process group as the tests: Ctrl-C stops it too.
            process = subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                env={**os.environ, "TMPDIR": workdir.name},
            )
        uri = server_uri(host, port)
        if wait_for_ping(uri, timeout=timeout, pid=process.pid):
            logger.info("embedded_db.ephemeral_started", uri=uri, pid=process.pid)
            return EphemeralServer(uri=uri, mode="subprocess", process=process, workdir=workdir)
        EphemeralServer(uri=uri, mode="subprocess", process=process).stop()
        last_error = log_tail(log_path)
        workdir.cleanup()
    raise EmbeddedDBError(f"The ephemeral embedded database did not start.{last_error}")


def _start_inprocess(host: str) -> EphemeralServer:
    from secantus import SecantusDBServer

    apply_addfields_patch()
    apply_flatten_and_patch()
    server = SecantusDBServer(host=host, port=0, storage_path=":memory:")
    server.start()
    bound_host, bound_port = server.address
    return EphemeralServer(uri=server_uri(bound_host, bound_port), mode="inprocess", server=server)


def _stop_inprocess(server: Any) -> None:
    """``server.stop()``, waking its accept thread meanwhile (see :func:`wake_accept`)."""
    host, port = server.address
    stopped = threading.Event()

    def wake() -> None:
        while not stopped.wait(0.05):
            wake_accept(host, port)

    waker = threading.Thread(target=wake, name="embedded-db-stop-waker", daemon=True)
    waker.start()
    try:
        server.stop()
    finally:
        stopped.set()
        waker.join()


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
