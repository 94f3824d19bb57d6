"""The embedded database: SecantusDB started by the project for local development and tests.

When ``MONGODB_URI`` is unset (a developer machine, CI), the project runs SecantusDB, a
MongoDB-wire-compatible server from PyPI (``secantusdb``, GPL-2.0, beta; development and CI
only, never in the production image), on 127.0.0.1 and Django talks to it over the wire. In
production ``MONGODB_URI`` points to Atlas and nothing here runs.

Two ways to run it:

* :func:`ensure_running` / :func:`stop` / :func:`status`: the developer's server. Data under
  ``var/db`` (so it survives a stop and a start), pid file ``var/embedded-db.pid``, output in
  ``var/embedded-db.log``. It is a detached process in its own session, so it outlives
  ``make run`` being restarted. Thin front ends: ``python manage.py embedded_db
  start|stop|status|uri`` and, without Django, ``python -m buyhive.embedded_db start|...``.
* :func:`start_ephemeral`: a throwaway in-memory server on a free port for a test session
  (the root conftest uses it when ``MONGODB_URI`` is unset). It runs as a subprocess by
  default: measured on a 2-core machine, start 0.52-0.56 s as a subprocess against 0.18-0.22 s
  in-process, but 300 inserts + 300 reads + 30 aggregations took 0.36-0.44 s as a subprocess
  against 0.46-0.47 s in-process (the server's threads share the test process's GIL), and a
  native crash in the server (WiredTiger) cannot take the test run down with it. The
  subprocess exits by itself when its parent dies, so a killed test run leaks nothing.

The ``$addFields`` fix
----------------------
SecantusDB 0.7.0b3 evaluates a nested document in ``$addFields`` / ``$set`` as an object
expression and *replaces* the field with it: ``{$addFields: {sub: {b: 2}}}`` on
``{sub: {a: 1}}`` gives ``{sub: {b: 2}}``. mongod *merges* it: a nested document whose keys
are not operators is a specification of fields to add inside the embedded document, applied
recursively, so the result is ``{sub: {a: 1, b: 2}}``. See "Adding Fields to an Embedded
Document" in https://www.mongodb.com/docs/manual/reference/operator/aggregation/addFields/.
django-mongodb-backend builds exactly such stages for ``select_related()`` with ordering on a
related field (``{$addFields: {<alias>: {<column>: "$<alias>.<column>"}}}``), so the joined
document lost every other column and e.g. the admin user change page failed with
``RelatedObjectDoesNotExist: Permission has no content_type``.

:func:`apply_addfields_patch` replaces ``secantus.aggregate._add_fields_one`` (the per-document
body of the ``$addFields`` and ``$set`` stages; both stage handlers look it up at call time)
with a version that follows mongod's ``ProjectionNode::applyExpressionsToValue``:

* a nested non-operator document merges into an existing embedded document, recursively;
* applied to an array, it is applied to every element (nested arrays too);
* applied to a scalar, ``null`` or a missing field, it replaces it with a document of the
  computed fields;
* every expression is evaluated against the stage's input document (``$$ROOT``), and a value
  that evaluates to missing (``$$REMOVE``, an absent field path) removes the field.

A spec without nested documents goes to SecantusDB's own function unchanged. The patch is
applied inside the server process (``python -m buyhive.embedded_db serve ...``), is idempotent,
and only applies to the pinned SecantusDB version with the expected internals; otherwise it
logs a warning and the server runs unpatched. ``buyhive/tests/test_embedded_db.py`` pins the
bug on a raw server, so the patch can be dropped once an upgrade fixes it.

The server also gets :mod:`buyhive.secantus_planner`'s ``$and`` flattening, so multi-field
filters use the indexes as they do on mongod.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import copy
import inspect
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import CodeType
from typing import Any, Literal

import psutil
import structlog
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from buyhive.secantus_planner import apply_flatten_and_patch

logger = structlog.get_logger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 27018
DEFAULT_DATA_DIR = REPO_ROOT / "var" / "db"
PID_FILE_NAME = "embedded-db.pid"
LOG_FILE_NAME = "embedded-db.log"
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0

#: The SecantusDB release whose internals :func:`apply_addfields_patch` was written against.
PATCHED_SECANTUS_VERSION = "0.7.0b3"
SERVE_MODULE = "buyhive.embedded_db"
_PATCH_MARKER = "_buyhive_addfields_merge"
_LOCK_FILE_NAME = "embedded-db.lock"
# Passed as --config so a ./secantusd.toml or ~/.secantus/secantusd.toml on the developer's
# machine cannot change how the server runs: only the flags we pass count.
_CONFIG_FILE_NAME = "embedded-db.toml"
_CONFIG_TEXT = "# Written by buyhive.embedded_db: the server's settings are its command line.\n"
_PING_TIMEOUT_MS = 500


class EmbeddedDBError(RuntimeError):
    """The embedded database could not be started, reached or stopped.

    A launcher failure for a developer or CI to read, not an API error, so it is not one of
    the domain exceptions of :mod:`buyhive.exceptions`.
    """


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmbeddedDBConfig:
    """Where the developer's server keeps its data and which address it listens on."""

    data_dir: Path = DEFAULT_DATA_DIR
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT

    @classmethod
    def from_settings(cls) -> EmbeddedDBConfig:
        """Read the optional ``EMBEDDED_DB_DIR``, ``EMBEDDED_DB_HOST``, ``EMBEDDED_DB_PORT``."""
        from django.conf import settings

        return cls(
            data_dir=Path(getattr(settings, "EMBEDDED_DB_DIR", DEFAULT_DATA_DIR)),
            host=str(getattr(settings, "EMBEDDED_DB_HOST", DEFAULT_HOST)),
            port=int(getattr(settings, "EMBEDDED_DB_PORT", DEFAULT_PORT)),
        )

    @property
    def uri(self) -> str:
        return server_uri(self.host, self.port)


def server_uri(host: str, port: int) -> str:
    """The connection string of an embedded server.

    ``directConnection=true``: the server presents itself as the one-member replica set
    ``secantus``; a direct connection never tries to discover other members.
    """
    shown = f"[{host}]" if ":" in host else host
    return f"mongodb://{shown}:{port}/?directConnection=true"


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    uri: str | None
    data_dir: Path
    log_file: Path
    detail: str


@dataclass(frozen=True)
class _Paths:
    data_dir: Path
    pid_file: Path
    log_file: Path
    lock_file: Path
    config_file: Path


def _paths(data_dir: Path, pid_file: Path | None, log_file: Path | None) -> _Paths:
    data_dir = Path(data_dir).expanduser().resolve()
    run_dir = data_dir.parent
    return _Paths(
        data_dir=data_dir,
        pid_file=Path(pid_file) if pid_file else run_dir / PID_FILE_NAME,
        log_file=Path(log_file) if log_file else run_dir / LOG_FILE_NAME,
        lock_file=run_dir / _LOCK_FILE_NAME,
        config_file=run_dir / _CONFIG_FILE_NAME,
    )


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
    ``buyhive.embedded_db serve`` process on the same data directory and address, and it
    answers ``ping``) is reused. A stale pid file (process gone, or the pid now belongs to
    another program) is removed. A port held by anything else is an :class:`EmbeddedDBError`.
    """
    paths = _paths(data_dir, pid_file, log_file)
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
                if not _wait_for_ping(uri, timeout=timeout, pid=pid):
                    raise EmbeddedDBError(
                        f"The embedded database (pid {pid}) runs but does not answer on {uri}. "
                        "Stop it (`python manage.py embedded_db stop`) and start it again."
                        + _log_tail(paths.log_file)
                    )
                logger.info("embedded_db.reused", pid=pid, uri=uri)
                return uri

        _check_port_free(host, port)
        paths.data_dir.mkdir(parents=True, exist_ok=True)
        paths.config_file.write_text(_CONFIG_TEXT)
        _rotate(paths.log_file)
        with paths.log_file.open("ab") as log:
            offset = log.tell()
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log.write(
                f"=== {stamp} buyhive.embedded_db: starting SecantusDB on {host}:{port}, "
                f"data {paths.data_dir} ===\n".encode()
            )
            log.flush()
            process = subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
                _serve_command(
                    host=host, port=port, storage=str(paths.data_dir), config_file=paths.config_file
                ),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                start_new_session=True,  # survives `make run` (and its terminal) going away
            )
        _CHILDREN[process.pid] = process
        if not _wait_for_ping(uri, timeout=timeout, pid=process.pid):
            _terminate(process.pid, host=host, port=port, timeout=STOP_TIMEOUT_S)
            raise EmbeddedDBError(
                f"The embedded database did not answer on {uri} within {timeout:.0f} s "
                f"(exit code {process.poll()})." + _log_tail(paths.log_file, offset)
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
    paths = _paths(data_dir, pid_file, None)
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
    paths = _paths(data_dir, pid_file, log_file)

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
    if not _ping(uri):
        return answer(False, f"pid {pid} is alive but does not answer on {uri}", pid, uri)
    return answer(True, f"running, pid {pid}", pid, uri)


@dataclass(frozen=True)
class _Found:
    host: str
    port: int


def _our_server(pid: int, data_dir: Path) -> _Found | None:
    """The address of pid if it is a live ``buyhive.embedded_db serve`` on ``data_dir``.

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
    try:
        start = cmdline.index(SERVE_MODULE)
    except ValueError:
        return None
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


def _serve_command(*, host: str, port: int, storage: str, config_file: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        SERVE_MODULE,
        "serve",
        "--host",
        host,
        "--port",
        str(port),
        "--storage-path",
        storage,
        "--log-level",
        "WARNING",
        # A developer's data survives a crash or a kill -9 right after a write was
        # acknowledged (without it, the last commits can be lost). Throwaway test servers
        # are in memory and skip it.
        "--sync-on-commit",
        "--config",
        str(config_file),
    ]


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


def _ping(uri: str) -> bool:
    client: MongoClient[dict[str, Any]] = MongoClient(
        uri, serverSelectionTimeoutMS=_PING_TIMEOUT_MS, connectTimeoutMS=_PING_TIMEOUT_MS
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def _wait_for_ping(uri: str, *, timeout: float, pid: int) -> bool:
    """Poll until uri answers ``ping``; False on timeout or if process ``pid`` exits first."""
    deadline = time.monotonic() + timeout
    try:
        process = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return False
    client: MongoClient[dict[str, Any]] = MongoClient(
        uri, serverSelectionTimeoutMS=250, connectTimeoutMS=250
    )
    try:
        while True:
            try:
                client.admin.command("ping")
                return True
            except PyMongoError:
                pass
            if not _alive(process):
                return False
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
    finally:
        client.close()


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


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
                _wake_accept(host, port)
        if alive:
            logger.warning("embedded_db.kill_after_timeout", pid=pid, timeout_s=timeout)
            proc.kill()
            psutil.wait_procs([proc], timeout=timeout)
    except psutil.NoSuchProcess:
        pass
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=1)


def _wake_accept(host: str, port: int) -> None:
    """Connect once, so a stopping server leaves its blocking ``accept()`` at once.

    SecantusDB's stop closes its listening socket and then waits up to 2 s for the accept
    thread, which on Linux stays blocked in ``accept()`` until a connection arrives; with this
    a stop takes about 0.1-0.5 s instead of 2 s.
    """
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        pass


def _rotate(log_file: Path, max_bytes: int = 5_000_000) -> None:
    """Keep the log small: past max_bytes it becomes ``<name>.1`` (one old log is kept)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if log_file.stat().st_size > max_bytes:
            os.replace(log_file, log_file.with_name(log_file.name + ".1"))


def _log_tail(log_file: Path, offset: int = 0, lines: int = 30) -> str:
    try:
        with log_file.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    tail = "\n".join(text.rstrip().splitlines()[-lines:])
    return f"\nLast lines of {log_file}:\n{tail}" if tail else f"\n({log_file} is empty)"


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
        config_file = run_dir / _CONFIG_FILE_NAME
        config_file.write_text(_CONFIG_TEXT)
        log_path = run_dir / LOG_FILE_NAME
        command = _serve_command(host=host, port=port, storage=":memory:", config_file=config_file)
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
        if _wait_for_ping(uri, timeout=timeout, pid=process.pid):
            logger.info("embedded_db.ephemeral_started", uri=uri, pid=process.pid)
            return EphemeralServer(uri=uri, mode="subprocess", process=process, workdir=workdir)
        EphemeralServer(uri=uri, mode="subprocess", process=process).stop()
        last_error = _log_tail(log_path)
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
    """``server.stop()``, waking its accept thread meanwhile (see :func:`_wake_accept`)."""
    host, port = server.address
    stopped = threading.Event()

    def wake() -> None:
        while not stopped.wait(0.05):
            _wake_accept(host, port)

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


# --------------------------------------------------------------------------------------------
# The $addFields fix (see the module docstring)
# --------------------------------------------------------------------------------------------


def apply_addfields_patch() -> bool:
    """Make SecantusDB's ``$addFields`` / ``$set`` merge nested documents like mongod.

    Returns whether the fix is active. Idempotent. When SecantusDB is not the pinned version
    or its internals changed shape, logs a warning and changes nothing (never raises), so the
    server still starts and the tests that pin the behaviour point at the cause.
    """
    try:
        import secantus
        from secantus import aggregate
    except ImportError as exc:
        logger.warning("embedded_db.addfields_patch_skipped", reason=f"secantus missing: {exc}")
        return False
    current: Any = getattr(aggregate, "_add_fields_one", None)
    if getattr(current, _PATCH_MARKER, False):
        return True
    version = getattr(secantus, "__version__", "unknown")
    if version != PATCHED_SECANTUS_VERSION:
        logger.warning(
            "embedded_db.addfields_patch_skipped",
            reason="secantus version differs; check whether $addFields still replaces "
            "nested documents (buyhive/tests/test_embedded_db.py) and update the patch",
            found=version,
            expected=PATCHED_SECANTUS_VERSION,
        )
        return False
    problem = _shape_problem(aggregate, current)
    if problem:
        logger.warning("embedded_db.addfields_patch_skipped", reason=problem, found=version)
        return False
    aggregate._add_fields_one = _merging_add_fields_one(
        original=current,
        evaluate_or_missing=aggregate.evaluate_or_missing,
        set_path=aggregate.set_path,
        unset_path=aggregate.unset_path,
        missing=aggregate.MISSING,
    )
    logger.info("embedded_db.addfields_patch_applied", secantus=version)
    return True


def _shape_problem(aggregate: Any, current: Any) -> str:
    """Why the patch cannot be applied to this secantus.aggregate, or '' when it can."""
    if not callable(current):
        return "secantus.aggregate._add_fields_one is gone"
    if list(inspect.signature(current).parameters) != ["doc", "spec", "vars"]:
        return "secantus.aggregate._add_fields_one(doc, spec, vars) changed signature"
    for name in ("evaluate_or_missing", "set_path", "unset_path", "MISSING", "_STAGES"):
        if not hasattr(aggregate, name):
            return f"secantus.aggregate.{name} is gone"
    stages = aggregate._STAGES
    add_fields, set_stage = stages.get("$addFields"), stages.get("$set")
    code = getattr(add_fields, "__code__", None)
    if code is None or "_add_fields_one" not in _names_used(code):
        return "the $addFields stage no longer calls secantus.aggregate._add_fields_one"
    if getattr(set_stage, "func", None) is not add_fields:
        return "the $set stage is no longer the $addFields stage under another name"
    return ""


def _names_used(code: CodeType) -> set[str]:
    """Global names a function's code uses, comprehensions included (nested code objects)."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _names_used(const)
    return names


def _merging_add_fields_one(
    *,
    original: Callable[[dict[str, Any], Mapping[str, Any], dict[str, Any]], dict[str, Any]],
    evaluate_or_missing: Callable[..., Any],
    set_path: Callable[[dict[str, Any], str, Any], None],
    unset_path: Callable[[dict[str, Any], str], None],
    missing: Any,
) -> Callable[[dict[str, Any], Mapping[str, Any], dict[str, Any]], dict[str, Any]]:
    """Build the replacement of ``secantus.aggregate._add_fields_one`` from its helpers."""

    def merge(current: Any, spec: Mapping[str, Any], root: Any, vars: dict[str, Any]) -> Any:
        # mongod: ProjectionNode::applyExpressionsToValue.
        if isinstance(current, list):
            return [merge(element, spec, root, vars) for element in current]
        out = dict(current) if isinstance(current, Mapping) else {}
        for key, expr in spec.items():
            if _is_nested_spec(expr):
                out[key] = merge(out.get(key, missing), expr, root, vars)
                continue
            value = evaluate_or_missing(expr, root, vars)
            if value is missing:
                out.pop(key, None)
            else:
                out[key] = value
        return out

    def add_fields_one(
        doc: dict[str, Any], spec: Mapping[str, Any], vars: dict[str, Any]
    ) -> dict[str, Any]:
        if not any(_is_nested_spec(expr) for expr in spec.values()):
            return original(doc, spec, vars)
        result = copy.deepcopy(doc)
        for path, expr in spec.items():
            if _is_nested_spec(expr):
                # "a.b": {c: 1} is the same specification as a: {b: {c: 1}}.
                head, *rest = path.split(".")
                nested: Mapping[str, Any] = expr
                for part in reversed(rest):
                    nested = {part: nested}
                result[head] = merge(result.get(head, missing), nested, doc, vars)
                continue
            value = evaluate_or_missing(expr, doc, vars)
            if value is missing:
                unset_path(result, path)
            else:
                set_path(result, path, value)
        return result

    setattr(add_fields_one, _PATCH_MARKER, True)
    add_fields_one.__wrapped__ = original  # type: ignore[attr-defined]
    return add_fields_one


def _is_nested_spec(expr: Any) -> bool:
    """A non-empty document of plain field names: fields to add inside an embedded document.

    A document whose first key is an operator is an expression (``{$add: [...]}``); one with
    ``$`` or ``.`` in a later key is invalid in mongod and left to SecantusDB to report, as is
    the empty document (a literal ``{}``).
    """
    return (
        isinstance(expr, Mapping)
        and bool(expr)
        and all(isinstance(k, str) and not k.startswith("$") and "." not in k for k in expr)
    )


# --------------------------------------------------------------------------------------------
# Command line: `python -m buyhive.embedded_db serve|start|stop|status|uri`
# --------------------------------------------------------------------------------------------


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
    parser = argparse.ArgumentParser(prog="python -m buyhive.embedded_db serve", add_help=False)
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
        prog="python -m buyhive.embedded_db",
        description="Start, stop or inspect the embedded development database (no Django).",
    )
    parser.add_argument("action", choices=["start", "stop", "status", "uri"])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    options = parser.parse_args(args)
    # Logs to stderr, so `MONGODB_URI=$(python -m buyhive.embedded_db uri)` gets only the URI.
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


if __name__ == "__main__":
    raise SystemExit(main())
