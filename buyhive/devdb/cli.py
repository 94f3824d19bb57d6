"""Command line: ``python -m buyhive.devdb serve|start|stop|status|uri`` (no Django needed).

``serve`` runs SecantusDB in this process with the development patches applied; the
supervisor and the test servers start their servers through it.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import structlog

from buyhive.devdb.addfields import apply_addfields_patch
from buyhive.devdb.common import (
    DEFAULT_DATA_DIR,
    DEFAULT_HOST,
    DEFAULT_PORT,
    EmbeddedDBConfig,
    EmbeddedDBError,
)
from buyhive.devdb.planner import apply_flatten_and_patch
from buyhive.devdb.supervisor import ensure_running, status, stop


def _exit_with_parent(parent_pid: int, workdir: Path | None) -> None:
    """Stop this server (SIGTERM to itself, a clean shutdown) once its parent is gone.

    The parent would have removed ``workdir`` (the ephemeral server's log and config); with
    the parent gone, the server removes it on its way out.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        if workdir is not None:
            atexit.register(shutil.rmtree, workdir, ignore_errors=True)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="embedded-db-parent-watch", daemon=True).start()


def serve(argv: list[str]) -> int:
    """Run SecantusDB in this process with the ``$addFields`` fix applied.

    ``argv`` is SecantusDB's own command line (``--host``, ``--port``, ``--storage-path``...),
    plus ``--parent-pid PID [--workdir DIR]`` to exit (and remove DIR) when that process is gone,
    and ``--no-patch`` to run SecantusDB exactly as shipped (the test that pins the bug).
    """
    parser = argparse.ArgumentParser(prog="python -m buyhive.devdb serve", add_help=False)
    parser.add_argument("--parent-pid", type=int, default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--no-patch", action="store_true")
    ours, secantus_argv = parser.parse_known_args(argv)
    from secantus import cli

    if not ours.no_patch:
        apply_addfields_patch()
        apply_flatten_and_patch()
    if ours.parent_pid is not None:
        _exit_with_parent(ours.parent_pid, ours.workdir)
    return int(cli.main(secantus_argv))


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["serve"]:
        return serve(args[1:])
    parser = argparse.ArgumentParser(
        prog="python -m buyhive.devdb",
        description="Start, stop or inspect the embedded development database (no Django).",
    )
    parser.add_argument("action", choices=["start", "stop", "status", "uri"])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    options = parser.parse_args(args)
    # Logs to stderr, so `MONGODB_URI=$(python -m buyhive.devdb uri)` gets only the URI.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    config = EmbeddedDBConfig(data_dir=options.data_dir, host=options.host, port=options.port)
    try:
        sys.stdout.write(run_action(options.action, config) + "\n")
    except EmbeddedDBError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    return 0


def run_action(action: str, config: EmbeddedDBConfig) -> str:
    """One of start, stop, status, uri; the line to show. Shared by both command lines."""
    if action == "start":
        return ensure_running(data_dir=config.data_dir, host=config.host, port=config.port)
    if action == "stop":
        stopped = stop(data_dir=config.data_dir)
        return "stopped" if stopped else "not running"
    if action == "status":
        state = status(data_dir=config.data_dir)
        return f"{state.detail}; data {state.data_dir}; log {state.log_file}"
    if action == "uri":
        state = status(data_dir=config.data_dir)
        if not state.running or state.uri is None:
            raise EmbeddedDBError(f"The embedded database is {state.detail}; start it first.")
        return state.uri
    raise ValueError(f"unknown action {action!r}")
