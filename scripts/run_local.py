"""``make run``'s process supervisor: the web server, a Celery worker and the scheduler.

All three are children of this process, in its process group: Ctrl-C (or a SIGTERM to this
process) stops them all, and if any one of them exits, the others are stopped too, so a
broken worker is never left unnoticed behind a running web server. Mail is printed by the
worker (the console backend), in this same terminal.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

BASE_DIR = Path(__file__).resolve().parent.parent


def _commands(port: str, concurrency: str) -> dict[str, list[str]]:
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "buyhive"]
    return {
        "web": [python, "manage.py", "runserver", f"127.0.0.1:{port}"],
        "worker": [
            *celery,
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        ],
        "beat": [*celery, "beat", "--loglevel=INFO"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
    parser.add_argument("--concurrency", default=os.environ.get("WORKER_CONCURRENCY", "2"))
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buyhive.settings.local")
    # Links in mail and share links point at this server (the worker renders the mail too).
    os.environ.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{args.port}")
    (BASE_DIR / "var").mkdir(exist_ok=True)

    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(signum: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for name, command in _commands(args.port, args.concurrency).items():
        children[name] = subprocess.Popen(command, cwd=BASE_DIR)  # noqa: S603 - our commands
    exit_code = 0
    try:
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    print(f"run_local: {name} exited ({child.returncode}); stopping the others")
                    exit_code = child.returncode or 1
                    stopping = True
            time.sleep(0.5)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
