"""The processes of the load test: the database, Redis, ``migrate`` and gunicorn.

The server runs ``buyhive.settings.production`` with a local environment (:func:`server_env`);
the database is a throwaway embedded SecantusDB unless ``MONGODB_URI`` names a server, and
either way a database of the run's own, dropped afterwards (:func:`database`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HOST = "api.buyhive.test"
REDIS_URL = os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/14")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(mongodb_uri: str, db_name: str, port: int, workers: int) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        DJANGO_SETTINGS_MODULE="buyhive.settings.production",
        ENVIRONMENT="staging",
        SECRET_KEY=secrets.token_urlsafe(64),
        MONGODB_URI=mongodb_uri,
        MONGODB_NAME=db_name,
        REDIS_URL=REDIS_URL,
        ALLOWED_HOSTS=HOST,
        ALLOWED_HOSTS_LOCAL_IPS="true",
        ALLOWED_ORIGINS="chrome-extension://abcdefghijklmnopabcdefghijklmnop",
        # Behind the load balancer, as deployed: each user's X-Forwarded-For is its address
        # (production's default, 0, would count every user as 127.0.0.1 and the 11th
        # registration in a minute would be refused).
        TRUSTED_PROXY_COUNT="1",
        PUBLIC_BASE_URL=f"https://{HOST}",
        DEFAULT_FROM_EMAIL="BuyHive <no-reply@buyhive.test>",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        # A local Redis broker under its own prefix instead of the production SQS default.
        CELERY_BROKER_URL=REDIS_URL,
        CELERY_KEY_PREFIX=f"buyhive-load-{os.getpid()}:",
        PORT=str(port),
        BIND_HOST="127.0.0.1",
        WEB_CONCURRENCY=str(workers),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    return env


@contextlib.contextmanager
def database(args: argparse.Namespace) -> Iterator[tuple[str, str, int | None]]:
    """(uri, database name, embedded server pid or None); the database is dropped after."""
    from pymongo import MongoClient

    db_name = f"buyhive_load_{secrets.token_hex(4)}"
    uri = os.environ.get("MONGODB_URI", "")
    server = None
    if not uri:
        from buyhive.devdb.testserver import start_ephemeral

        server = start_ephemeral()
        uri = server.uri
    try:
        yield uri, db_name, server.pid if server else None
    finally:
        with contextlib.suppress(Exception):
            client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=3000)
            client.drop_database(db_name)
            client.close()
        if server is not None:
            server.stop()


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def migrate(env: dict[str, str]) -> None:
    subprocess.run(  # noqa: S603 - our interpreter, our arguments
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


@contextlib.contextmanager
def gunicorn(env: dict[str, str], log: Path, profile_dir: Path | None) -> Iterator[psutil.Process]:
    """The gunicorn master (under py-spy when profiling), stopped with SIGTERM at the end."""
    command = [str(Path(sys.executable).parent / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")]
    spy: subprocess.Popen[bytes] | None = None
    with log.open("wb") as out:
        if profile_dir is not None:
            profile_dir.mkdir(parents=True, exist_ok=True)
            spy = subprocess.Popen(  # noqa: S603
                [
                    str(Path(sys.executable).parent / "py-spy"), "record", "--subprocesses",
                    "--rate", "40", "--format", "raw", "--nonblocking",
                    "-o", str(profile_dir / "workers.txt"), "--", *command,
                ],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
            master = _wait_for_child(psutil.Process(spy.pid), "gunicorn")
        else:
            process = subprocess.Popen(  # noqa: S603
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
            master = psutil.Process(process.pid)
    try:
        yield master
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            master.send_signal(signal.SIGTERM)
            master.wait(timeout=40)
        if spy is not None:
            try:
                spy.wait(timeout=60)  # writes the profile once its target has exited
            except subprocess.TimeoutExpired:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=30)


def _wait_for_child(parent: psutil.Process, name: str) -> psutil.Process:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for child in parent.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if name in " ".join(child.cmdline()):
                    return child
        time.sleep(0.05)
    raise RuntimeError(f"no {name} process under pid {parent.pid}")


async def wait_ready(base: str, master: psutil.Process, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while time.monotonic() < deadline:
            if not master.is_running():
                raise RuntimeError("gunicorn exited; see its log")
            with contextlib.suppress(httpx.HTTPError):
                response = await client.get("/ready", headers={"Host": HOST})
                if response.status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError("gunicorn did not become ready")
