"""What the developer's server and the test servers share: addresses, paths, the serve
command line, and waiting for a server to answer.

Development and CI only (see :mod:`buyhive.devdb`).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import structlog
from pymongo import MongoClient
from pymongo.errors import PyMongoError

logger = structlog.get_logger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 27018
DEFAULT_DATA_DIR = REPO_ROOT / "var" / "db"
PID_FILE_NAME = "embedded-db.pid"
LOG_FILE_NAME = "embedded-db.log"
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0

#: ``python -m SERVE_MODULE serve ...`` runs a server (:mod:`buyhive.devdb.cli`).
SERVE_MODULE = "buyhive.devdb"
#: What servers started before the move to ``buyhive.devdb`` run, still recognised as ours.
LEGACY_SERVE_MODULES = ("buyhive.embedded_db",)
LOCK_FILE_NAME = "embedded-db.lock"
# Passed as --config so a ./secantusd.toml or ~/.secantus/secantusd.toml on the developer's
# machine cannot change how the server runs: only the flags we pass count.
CONFIG_FILE_NAME = "embedded-db.toml"
CONFIG_TEXT = "# Written by buyhive.devdb: the server's settings are its command line.\n"
PING_TIMEOUT_MS = 500


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
        """Read ``EMBEDDED_DB_DIR``, ``EMBEDDED_DB_HOST``, ``EMBEDDED_DB_PORT`` (settings/base)."""
        from django.conf import settings

        return cls(
            data_dir=Path(settings.EMBEDDED_DB_DIR),
            host=str(settings.EMBEDDED_DB_HOST),
            port=int(settings.EMBEDDED_DB_PORT),
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
class Paths:
    data_dir: Path
    pid_file: Path
    log_file: Path
    lock_file: Path
    config_file: Path


def paths_for(data_dir: Path, pid_file: Path | None, log_file: Path | None) -> Paths:
    data_dir = Path(data_dir).expanduser().resolve()
    run_dir = data_dir.parent
    return Paths(
        data_dir=data_dir,
        pid_file=Path(pid_file) if pid_file else run_dir / PID_FILE_NAME,
        log_file=Path(log_file) if log_file else run_dir / LOG_FILE_NAME,
        lock_file=run_dir / LOCK_FILE_NAME,
        config_file=run_dir / CONFIG_FILE_NAME,
    )


def serve_command(*, host: str, port: int, storage: str, config_file: Path) -> list[str]:
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


def ping(uri: str) -> bool:
    client: MongoClient[dict[str, Any]] = MongoClient(
        uri, serverSelectionTimeoutMS=PING_TIMEOUT_MS, connectTimeoutMS=PING_TIMEOUT_MS
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def wait_for_ping(uri: str, *, timeout: float, pid: int) -> bool:
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
            if not alive(process):
                return False
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
    finally:
        client.close()


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wake_accept(host: str, port: int) -> None:
    """Connect once, so a stopping server leaves its blocking ``accept()`` at once.

    SecantusDB's stop closes its listening socket and then waits up to 2 s for the accept
    thread, which on Linux stays blocked in ``accept()`` until a connection arrives; with this
    a stop takes about 0.1-0.5 s instead of 2 s.
    """
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        pass


def log_tail(log_file: Path, offset: int = 0, lines: int = 30) -> str:
    try:
        with log_file.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    tail = "\n".join(text.rstrip().splitlines()[-lines:])
    return f"\nLast lines of {log_file}:\n{tail}" if tail else f"\n({log_file} is empty)"
