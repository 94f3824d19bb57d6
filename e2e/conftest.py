"""End-to-end fixtures: Debian's Chromium with the unpacked extension, the real backend, shops.

Run with ``make e2e`` (not part of ``make test``: pytest.ini's testpaths leave ``e2e/`` out).

* ``browser`` (session): Chromium from ``/usr/bin/chromium`` (``CHROMIUM`` to change) through
  Playwright, headless (``--headless=new``), with ``extension/`` loaded unpacked in a
  persistent profile. Every host name except loopback resolves to nothing, so a real page's
  trackers and CDNs fail at once instead of being tried.
* ``backend`` (session): the real backend on a free port: a throwaway SecantusDB, ``migrate``,
  then ``runserver`` (and the task worker, once the backend has one), with
  ``buyhive.settings.e2e`` and the loaded extension's origin in ``ALLOWED_ORIGINS``. Output
  goes to ``var/e2e/backend.log`` (and ``worker.log``).
* ``shops`` (session): real saved product and article pages on loopback at their own paths.
* ``ext`` (per test): helpers to open the popup on a tab, read and write the extension's
  storage, and call the API as a given user. Each test starts signed out.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from e2e.fakeapi import FakeApi
from e2e.shops import ShopServer

REPO_ROOT = Path(__file__).resolve().parent.parent
EXTENSION_DIR = REPO_ROOT / "extension"
ARTIFACTS = REPO_ROOT / "var" / "e2e"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Real shop pages pull scripts, fonts and images from the internet, which these machines
    # cannot reach: fail those names at once (loopback still resolves).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    f"--disable-extensions-except={EXTENSION_DIR}",
    f"--load-extension={EXTENSION_DIR}",
]
BACKEND_START_TIMEOUT_S = 90.0
UI_TIMEOUT_MS = 30_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------- browser


@dataclass
class Browser:
    context: Any
    extension_id: str

    @property
    def origin(self) -> str:
        return f"chrome-extension://{self.extension_id}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (Debian's package)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="buyhive-e2e-profile-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=False,  # --headless=new below: the mode that runs extensions
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            workers = [
                w for w in context.service_workers if w.url.startswith("chrome-extension://")
            ]
            worker = (
                workers[0] if workers else context.wait_for_event("serviceworker", timeout=20_000)
            )
            extension_id = worker.url.split("/")[2]
            yield Browser(context=context, extension_id=extension_id)
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


# ------------------------------------------------------------------------------- backend


@dataclass
class Backend:
    base: str
    signing_key: str
    log_path: Path
    #: The server's environment (its database, keys, prefixes), for ``manage``.
    env: dict[str, str] = field(default_factory=dict)

    def api(self, path: str) -> str:
        return f"{self.base}/api/v1/{path.lstrip('/')}"

    def manage(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run ``manage.py <args>`` against this backend's database, as an operator would;
        its standard output."""
        done = subprocess.run(  # noqa: S603 - our interpreter, our arguments
            [sys.executable, str(REPO_ROOT / "manage.py"), *args],
            cwd=REPO_ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"manage.py {' '.join(args)}: {done.stderr[-2000:]}"
        return done.stdout

    def register(self, email: str, password: str) -> dict[str, Any]:
        answer = requests.post(
            self.api("auth/register/"), json={"email": email, "password": password}, timeout=30
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def client(self, access: str) -> ApiUser:
        return ApiUser(backend=self, access=access)


@dataclass
class ApiUser:
    """The API as one signed-in user, straight over HTTP (to check what the popup did)."""

    backend: Backend
    access: str

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.access}", **kwargs.pop("headers", {})}
        timeout = kwargs.pop("timeout", 30)
        return requests.request(
            method, self.backend.api(path), headers=headers, timeout=timeout, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> Any:
        answer = self.request("GET", path, **kwargs)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, path: str, body: Any, expect: int = 201, timeout: float = 30) -> Any:
        answer = self.request("POST", path, json=body, timeout=timeout)
        assert answer.status_code == expect, answer.text
        return answer.json() if answer.content else None


def _wait_healthy(base: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + BACKEND_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the backend exited: see {log_path}\n{log_path.read_text()[-3000:]}"
            )
        try:
            if requests.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the backend did not answer /health: see {log_path}")


@pytest.fixture(scope="session")
def backend(browser: Browser) -> Iterator[Backend]:
    from buyhive.devdb.testserver import start_ephemeral

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    database = start_ephemeral()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    signing_key = secrets.token_hex(32)
    run_id = f"buyhive-e2e-{os.getpid()}-{int(time.time())}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "buyhive.settings.e2e",
        "MONGODB_URI": database.uri,
        "MONGODB_NAME": "buyhive_e2e",
        "SECRET_KEY": secrets.token_hex(32),
        "JWT_SIGNING_KEY": signing_key,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # The extension's own origin: CORS answers it as production answers the published one.
        "ALLOWED_ORIGINS": browser.origin,
        "PUBLIC_BASE_URL": base,
        "E2E_CACHE_PREFIX": run_id,
        # The task queue: this run's own key prefix and queue on the local Redis broker.
        "CELERY_KEY_PREFIX": f"{run_id}:",
        "CELERY_TASK_DEFAULT_QUEUE": run_id,
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name in ("GROQ_API_KEY", "OPENAI_API_KEY", "SENTRY_DSN"):
        env.pop(name, None)  # no outside services: the LLM stays off
    log_path = ARTIFACTS / "backend.log"
    manage = [sys.executable, str(REPO_ROOT / "manage.py")]
    with log_path.open("wb") as log:
        subprocess.run(  # noqa: S603 - our interpreter, our arguments
            [*manage, "migrate", "--noinput"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )
        server = subprocess.Popen(  # noqa: S603
            [*manage, "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        workers: list[subprocess.Popen[bytes]] = []
        try:
            workers.extend(_start_task_worker(env))
            _wait_healthy(base, server, log_path)
            instance = Backend(base=base, signing_key=signing_key, log_path=log_path, env=env)
            _warm_up(instance)
            yield instance
        finally:
            for process in [*workers, server]:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
            database.stop()


def _start_task_worker(env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    """The backend's task worker (mail; the price watch's alert evaluation), when it has one.

    ``celery -A buyhive worker`` on this run's own Redis key prefix and queue (set in ``env``
    for the web server too), with the same database. Nothing to start before the task queue
    (``buyhive/celery.py``) exists.
    """
    if not (REPO_ROOT / "buyhive" / "celery.py").exists():
        return []
    log_path = ARTIFACTS / "worker.log"
    queue = env["CELERY_TASK_DEFAULT_QUEUE"]
    command = [sys.executable, "-m", "celery", "-A", "buyhive", "worker", "--pool=threads"]
    command += ["--concurrency=2", "--loglevel=INFO", "--without-gossip", "--without-mingle"]
    command += ["--without-heartbeat", "-Q", queue, "-n", f"{queue}@%h"]
    with log_path.open("wb") as log:
        worker = subprocess.Popen(  # noqa: S603
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 90
    while " ready." not in log_path.read_text(errors="replace"):
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            raise RuntimeError(f"the task worker did not start: see {log_path}")
        time.sleep(0.2)
    return [worker]


def _warm_up(backend: Backend) -> None:
    """Load the page classifier once, so the first test's popup is not the one that waits."""
    tokens = backend.register(f"warm-up-{secrets.token_hex(4)}@example.com", "warm up e2e 12345")
    backend.client(tokens["access"]).post(
        "classify/url/", {"url": "http://127.0.0.1/p/warm-up"}, expect=200, timeout=240
    )


# --------------------------------------------------------------------------------- shops


@pytest.fixture(scope="session")
def shops() -> Iterator[ShopServer]:
    server = ShopServer()
    try:
        yield server
    finally:
        server.close()


# ----------------------------------------------------------------------- the extension


@dataclass
class Extension:
    """Drive the extension: open pages and its popup, read and write its storage."""

    browser: Browser
    backend: Backend
    pages: list[Any] = field(default_factory=list)
    _control: Any = None

    @property
    def context(self) -> Any:
        return self.browser.context

    def url(self, path: str) -> str:
        return f"{self.browser.origin}/{path}"

    @property
    def control(self) -> Any:
        """An extension page (the options page) to call chrome.* APIs from."""
        if self._control is None or self._control.is_closed():
            self._control = self.open_page(self.url("options.html"))
        return self._control

    def chrome(self, script: str, arg: Any = None) -> Any:
        """Evaluate ``script`` (an async function of one argument) in an extension page."""
        return self.control.evaluate(script, arg)

    def open_page(self, url: str) -> Any:
        page = self.context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        self.pages.append(page)
        page.goto(url, wait_until="load")
        return page

    def open_shop_page(self, url: str) -> tuple[Any, int]:
        """Open a shop's page in a new tab; the page and its tab id."""
        page = self.open_page(url)
        tab_id = self.chrome(
            """async (url) => {
                const tabs = await chrome.tabs.query({});
                const tab = tabs.find((t) => t.url === url);
                return tab ? tab.id : null;
            }""",
            url,
        )
        assert tab_id is not None, f"no tab shows {url}"
        return page, int(tab_id)

    def popup(self, tab_id: int) -> Any:
        """popup.html?tabId=N in a tab of its own (the test contract), once it has started."""
        popup = self.open_page(self.url(f"popup.html?tabId={tab_id}"))
        popup.set_viewport_size({"width": 360, "height": 560})  # about a popup's size
        popup.wait_for_selector("body[data-ready='1']")
        return popup

    def set_api_base(self, base: str) -> None:
        self.chrome("async (base) => chrome.storage.local.set({apiBase: base})", base)

    def auth(self) -> dict[str, Any] | None:
        return self.chrome("async () => (await chrome.storage.session.get('auth')).auth || null")

    def set_auth(self, auth: dict[str, Any]) -> None:
        self.chrome("async (auth) => chrome.storage.session.set({auth})", auth)

    def reset(self) -> None:
        """Signed out, pointing at the backend, nothing cached: each test starts here."""
        self.chrome(
            """async (base) => {
                await chrome.storage.session.clear();
                await chrome.storage.local.clear();
                await chrome.storage.local.set({apiBase: base});
                await chrome.action.setBadgeText({text: ''});
            }""",
            self.backend.base,
        )

    def sign_in(self, popup: Any, email: str, password: str) -> None:
        popup.get_by_test_id("login-email").fill(email)
        popup.get_by_test_id("login-password").fill(password)
        popup.get_by_test_id("login-submit").click()
        popup.get_by_test_id("signed-in-as").filter(has_text=email).wait_for()

    def screenshot(self, page: Any, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        for page in self.pages:
            if not page.is_closed():
                page.close()


@pytest.fixture
def ext(browser: Browser, backend: Backend) -> Iterator[Extension]:
    extension = Extension(browser=browser, backend=backend)
    extension.reset()
    try:
        yield extension
    finally:
        extension.close()


@pytest.fixture
def new_user(backend: Backend) -> dict[str, Any]:
    """A fresh account (registered over the API): email, password, tokens, an API client."""
    email = f"shopper-{secrets.token_hex(5)}@example.com"
    password = "a long enough e2e password 7"
    tokens = backend.register(email, password)
    return {
        "email": email,
        "password": password,
        "tokens": tokens,
        "api": backend.client(tokens["access"]),
    }


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    """A stand-in API on loopback for the answers the real backend gives only on demand."""
    api = FakeApi()
    try:
        yield api
    finally:
        api.close()
