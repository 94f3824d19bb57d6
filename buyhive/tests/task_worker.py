"""A real Celery worker for the tests: a subprocess on the test session's broker and database.

No eager mode: the tests publish through the real broker (Redis, this session's key prefix
and queue) and a real ``celery -A buyhive worker`` consumes, connected to the test database.
It writes mail with Django's file backend into a directory the tests read, so a test waits
for the effect (a file, a row) with a bounded poll.
"""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings

T = TypeVar("T")

BASE_DIR = Path(__file__).resolve().parent.parent.parent
_SEPARATOR = "-" * 79


def wait_for(
    predicate: Callable[[], T], *, timeout: float = 20.0, interval: float = 0.05, what: str = ""
) -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or predicate}")
        time.sleep(interval)


#: Nothing listens on port 1: connecting is refused at once, as with a broker that is down.
DEAD_BROKER_URL = "redis://127.0.0.1:1/0"


def _reset_publisher_pools() -> None:
    from buyhive.celery import app

    app._after_fork()  # Celery's own reset of its connection and producer pools


@contextmanager
def broker_switched(url: str, transport_options: dict[str, Any] | None = None) -> Iterator[None]:
    """Point this process's publisher at another broker, then restore it."""
    from buyhive.celery import app

    saved = (app.conf.broker_url, app.conf.broker_transport_options)
    _reset_publisher_pools()
    app.conf.broker_url = url
    if transport_options is not None:
        app.conf.broker_transport_options = transport_options
    try:
        yield
    finally:
        _reset_publisher_pools()
        app.conf.broker_url, app.conf.broker_transport_options = saved


@contextmanager
def broker_unreachable() -> Iterator[None]:
    """Point this process's publisher at a broker that refuses connections, then restore it."""
    with broker_switched(DEAD_BROKER_URL):
        yield


@dataclass
class TaskWorker:
    process: subprocess.Popen[bytes]
    outbox_dir: Path
    log_path: Path
    queue: str

    def mail_files(self) -> list[Path]:
        return sorted(self.outbox_dir.glob("*.log"))

    def messages(self) -> list[EmailMessage]:
        """Every message the worker sent so far (the file backend: one file per send)."""
        found: list[EmailMessage] = []
        for path in self.mail_files():
            # Bytes, not text: 8bit bodies (a no-break space in an amount) parse only so.
            for chunk in path.read_bytes().split(_SEPARATOR.encode()):
                if chunk.strip():
                    parsed = email.message_from_bytes(
                        chunk.lstrip(b"\n"), policy=email.policy.default
                    )
                    found.append(parsed)  # type: ignore[arg-type]
        return found

    def messages_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages() if address.lower() in str(m["To"]).lower()]

    def wait_for_messages(
        self, *, to: str, count: int = 1, timeout: float = 20.0
    ) -> list[EmailMessage]:
        return wait_for(
            lambda: found if len(found := self.messages_to(to)) >= count else None,
            timeout=timeout,
            what=f"{count} mail(s) to {to}",
        )

    def clear_outbox(self) -> None:
        for path in self.mail_files():
            path.unlink(missing_ok=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_worker(
    *,
    mongodb_uri: str,
    db_name: str,
    work_dir: Path,
    broker_url: str | None = None,
    queue: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> TaskWorker:
    """Start ``celery -A buyhive worker`` on this session's queue; return once it consumes."""
    outbox_dir = work_dir / "outbox"
    outbox_dir.mkdir(parents=True, exist_ok=True)
    log_path = work_dir / "worker.log"
    queue = queue or settings.CELERY_TASK_DEFAULT_QUEUE
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "buyhive.settings.test",
        "MONGODB_URI": mongodb_uri,
        "MONGODB_NAME": db_name,
        "TEST_CELERY_BROKER_URL": broker_url or settings.CELERY_BROKER_URL,
        "CELERY_KEY_PREFIX": settings.CELERY_KEY_PREFIX,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "TEST_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(outbox_dir),
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "buyhive",
        "worker",
        "--pool=threads",
        "--concurrency=2",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-Q",
        queue,
        "-n",
        f"{queue}@%h",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    worker = TaskWorker(process=process, outbox_dir=outbox_dir, log_path=log_path, queue=queue)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the worker exited ({process.returncode}):\n{worker.log()}")
        return " ready." in worker.log()

    try:
        wait_for(ready, timeout=60, interval=0.1, what="the Celery worker to start")
    except BaseException:
        worker.stop()
        raise
    return worker
