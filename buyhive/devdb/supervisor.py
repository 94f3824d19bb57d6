"""The developer's server: :func:`ensure_running`, :func:`stop`, :func:`status`.

Data under ``var/db`` (so it survives a stop and a start), pid file ``var/embedded-db.pid``,
output in ``var/embedded-db.log``. It is a detached process in its own session, so it
outlives ``make run`` being restarted. Front ends: ``python manage.py embedded_db
start|stop|status|uri`` and, without Django, ``python -m buyhive.devdb start|...``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import structlog

from buyhive.devdb.common import (
    CONFIG_TEXT,
    DEFAULT_DATA_DIR,
    DEFAULT_HOST,
    DEFAULT_PORT,
    LEGACY_SERVE_MODULES,
    REPO_ROOT,
    SERVE_MODULE,
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    EmbeddedDBError,
    ServerStatus,
    log_tail,
    paths_for,
    ping,
    serve_command,
    server_uri,
    wait_for_ping,
    wake_accept,
)

logger = structlog.get_logger(__name__)

# --------------------------------------------------------------------------------------------
# The developer's server: ensure_running / stop / status
# --------------------------------------------------------------------------------------------

# Servers this process started, kept so they can be reaped (no zombie, no ResourceWarning).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def ensure_running(
    *,
    data_dir: Path = DEFAULT_DATA_DIR,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    pid_file: Path | None = None,
    log_file: Path | None = None,
    timeout: float = START_TIMEOUT_S,
) -> str:
    """Start the server on ``data_dir`` unless ours already runs; return its URI.

    Idempotent: a running server we started (the pid file names a live
    ``buyhive.devdb serve`` process on the same data directory and address, and it
    answers ``ping``) is reused. A stale pid file (process gone, or the pid now belongs to
    another program) is removed. A port held by anything else is an :class:`EmbeddedDBError`.
    """
    paths = paths_for(data_dir, pid_file, log_file)
    uri = server_uri(host, port)
    with _locked(paths.lock_file):
        pid = _read_pid(paths.pid_file)
        if pid is not None:
            found = _our_server(pid, paths.data_dir)
            if found is None:
                logger.info("embedded_db.stale_pid_file", pid=pid, pid_file=str(paths.pid_file))
                paths.pid_file.unlink(missing_ok=True)
            elif (found.host, found.port) != (host, port):
                raise EmbeddedDBError(
                    f"The embedded database for {paths.data_dir} already runs on "
                    f"{found.host}:{found.port} (pid {pid}), not {host}:{port}. Stop it first "
                    "(`python manage.py embedded_db stop`) or use that port."
                )
            else:
                if not wait_for_ping(uri, timeout=timeout, pid=pid):
                    raise EmbeddedDBError(
                        f"The embedded database (pid {pid}) runs but does not answer on {uri}. "
                        "Stop it (`python manage.py embedded_db stop`) and start it again."
                        + log_tail(paths.log_file)
                    )
                logger.info("embedded_db.reused", pid=pid, uri=uri)
                return uri

        _check_port_free(host, port)
        paths.data_dir.mkdir(parents=True, exist_ok=True)
        paths.config_file.write_text(CONFIG_TEXT)
        _rotate(paths.log_file)
        with paths.log_file.open("ab") as log:
            offset = log.tell()
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log.write(
                f"=== {stamp} buyhive.devdb: starting SecantusDB on {host}:{port}, "
                f"data {paths.data_dir} ===\n".encode()
            )
            log.flush()
            process = subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
                serve_command(
                    host=host, port=port, storage=str(paths.data_dir), config_file=paths.config_file
                ),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                start_new_session=True,  # survives `make run` (and its terminal) going away
            )
        _CHILDREN[process.pid] = process
        if not wait_for_ping(uri, timeout=timeout, pid=process.pid):
            _terminate(process.pid, host=host, port=port, timeout=STOP_TIMEOUT_S)
            raise EmbeddedDBError(
                f"The embedded database did not answer on {uri} within {timeout:.0f} s "
                f"(exit code {process.poll()})." + log_tail(paths.log_file, offset)
            )
        _write_pid(paths.pid_file, process.pid)
        logger.info("embedded_db.started", pid=process.pid, uri=uri, data_dir=str(paths.data_dir))
        return uri


def stop(
    *,
    data_dir: Path = DEFAULT_DATA_DIR,
    pid_file: Path | None = None,
    timeout: float = STOP_TIMEOUT_S,
) -> bool:
    """Stop the server started for ``data_dir``; True if one was running.

    SIGTERM (SecantusDB closes its storage cleanly), up to ``timeout`` seconds, then SIGKILL.
    Idempotent: no pid file, or a stale one, is not an error (a stale file is removed).
    """
    paths = paths_for(data_dir, pid_file, None)
    with _locked(paths.lock_file):
        pid = _read_pid(paths.pid_file)
        if pid is None:
            return False
        found = _our_server(pid, paths.data_dir)
        if found is None:
            logger.info("embedded_db.stale_pid_file", pid=pid, pid_file=str(paths.pid_file))
            paths.pid_file.unlink(missing_ok=True)
            return False
        _terminate(pid, host=found.host, port=found.port, timeout=timeout)
        paths.pid_file.unlink(missing_ok=True)
        logger.info("embedded_db.stopped", pid=pid)
        return True


def status(
    *,
    data_dir: Path = DEFAULT_DATA_DIR,
    pid_file: Path | None = None,
    log_file: Path | None = None,
) -> ServerStatus:
    """Whether our server for ``data_dir`` runs and answers, without changing anything."""
    paths = paths_for(data_dir, pid_file, log_file)

    def answer(
        running: bool, detail: str, pid: int | None = None, uri: str | None = None
    ) -> ServerStatus:
        return ServerStatus(running, pid, uri, paths.data_dir, paths.log_file, detail)

    pid = _read_pid(paths.pid_file)
    if pid is None:
        return answer(False, "not running")
    found = _our_server(pid, paths.data_dir)
    if found is None:
        return answer(False, f"not running (stale pid file names pid {pid})")
    uri = server_uri(found.host, found.port)
    if not ping(uri):
        return answer(False, f"pid {pid} is alive but does not answer on {uri}", pid, uri)
    return answer(True, f"running, pid {pid}", pid, uri)


@dataclass(frozen=True)
class _Found:
    host: str
    port: int


def _our_server(pid: int, data_dir: Path) -> _Found | None:
    """The address of pid if it is a live ``buyhive.devdb serve`` on ``data_dir``.

    The command line is checked because pids are reused: after a reboot the pid in a stale
    file can belong to any program.
    """
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    modules = [i for i, part in enumerate(cmdline) if part in (SERVE_MODULE, *LEGACY_SERVE_MODULES)]
    if not modules:
        return None
    start = modules[0]
    if cmdline[start + 1 : start + 2] != ["serve"]:
        return None
    flags = dict(zip(cmdline[start + 2 :: 2], cmdline[start + 3 :: 2], strict=False))
    try:
        port = int(flags.get("--port", ""))
    except ValueError:
        return None
    if flags.get("--storage-path") != str(data_dir):
        return None
    return _Found(host=flags.get("--host", DEFAULT_HOST), port=port)


def _read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text().strip()
    except FileNotFoundError:
        return None
    if not text.isdigit():
        logger.warning("embedded_db.bad_pid_file", pid_file=str(pid_file), content=text[:40])
        pid_file.unlink(missing_ok=True)
        return None
    return int(text)


def _write_pid(pid_file: Path, pid: int) -> None:
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = pid_file.with_name(pid_file.name + ".tmp")
    tmp.write_text(f"{pid}\n")
    os.replace(tmp, pid_file)


@contextlib.contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    """Serialise start and stop between processes (two `make` targets at once)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: no lock, the pid file check still applies
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise EmbeddedDBError(
                f"Port {host}:{port} is in use by {_port_owner(port)}, which is not the "
                "embedded database this project started. Stop that program, or choose another "
                "port (EMBEDDED_DB_PORT), or point MONGODB_URI at that server."
            ) from exc


def _port_owner(port: int) -> str:
    """Best effort: name the process listening on port (needs privileges on some systems)."""
    with contextlib.suppress(psutil.Error, OSError):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                if conn.pid is None:
                    break
                proc = psutil.Process(conn.pid)
                return f"pid {conn.pid} ({' '.join(proc.cmdline())[:120]})"
    return "another program"


def _terminate(pid: int, *, host: str, port: int, timeout: float) -> None:
    """SIGTERM, wait up to timeout, then SIGKILL; reap it if it is our child."""
    child = _CHILDREN.pop(pid, None)
    try:
        proc = psutil.Process(pid)
        proc.terminate()
        deadline = time.monotonic() + timeout
        alive = [proc]
        while alive and time.monotonic() < deadline:
            _, alive = psutil.wait_procs(alive, timeout=0.1)
            if alive:
                wake_accept(host, port)
        if alive:
            logger.warning("embedded_db.kill_after_timeout", pid=pid, timeout_s=timeout)
            proc.kill()
            psutil.wait_procs([proc], timeout=timeout)
    except psutil.NoSuchProcess:
        pass
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=1)


def _rotate(log_file: Path, max_bytes: int = 5_000_000) -> None:
    """Keep the log small: past max_bytes it becomes ``<name>.1`` (one old log is kept)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if log_file.stat().st_size > max_bytes:
            os.replace(log_file, log_file.with_name(log_file.name + ".1"))
