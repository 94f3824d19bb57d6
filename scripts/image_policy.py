"""The Docker image's policy, checked on the Dockerfile's text by ``scripts/image_check.py``.

Each rule is a function ``(all instructions, the final stage's) -> problem or None`` with
one line in :data:`POLICY`, which ``image_check.py`` runs and prints. Kept apart from the
checker's steps (venv, settings, serving, size) so that each file holds one concern.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCKERIGNORE = REPO / ".dockerignore"
INSTALL_SCRIPT = REPO / "deploy" / "docker" / "install-python-deps.sh"
HEALTHCHECK_SCRIPT = REPO / "deploy" / "docker" / "healthcheck.py"
MODEL_TOOLS_SCRIPT = REPO / "deploy" / "docker" / "install-model-tools.sh"
COMPILERS = ("build-essential", "gcc", "g++", "clang", "make", "cmake", "cargo", "rustc")
SECRET_NAMES = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|APIKEY|PRIVATE|DSN|CREDENTIAL)")


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        buffer += stripped
        keyword, _, args = buffer.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
        buffer = ""
    return instructions


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def resolve_base(image: str, instructions: list[Instruction]) -> str:
    """``${PYTHON_IMAGE}`` -> the default of the global ``ARG`` before the first FROM."""
    defaults = {}
    for instruction in instructions:
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG" and "=" in instruction.args:
            name, _, value = instruction.args.partition("=")
            defaults[name.strip()] = value.strip()
    return re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m.group(1), m.group(0)), image)


def _check_multi_stage(instr: list[Instruction], final: list[Instruction]) -> str | None:
    froms = [i for i in instr if i.keyword == "FROM"]
    if len(froms) < 2:
        return "needs a build stage and a final stage"
    if " AS " not in froms[-1].args.upper():
        return "the final stage should be named"
    return None


def _check_base(instr: list[Instruction], final: list[Instruction]) -> str | None:
    for instruction in instr:
        if instruction.keyword != "FROM":
            continue
        image = resolve_base(instruction.args.split()[0], instr)
        if not re.fullmatch(r"python:3\.11(\.\d+)?-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", image):
            return f"line {instruction.line}: base {image!r} is not a pinned python:3.11-slim"
    return None


def _check_user(instr: list[Instruction], final: list[Instruction]) -> str | None:
    users = [i for i in final if i.keyword == "USER"]
    if not users:
        return "the final stage has no USER (it would run as root)"
    name = users[-1].args.split(":")[0]
    if name in {"root", "0"}:
        return "the final stage runs as root"
    return None


def _check_healthcheck(instr: list[Instruction], final: list[Instruction]) -> str | None:
    checks = [i for i in final if i.keyword == "HEALTHCHECK"]
    if not checks:
        return "no HEALTHCHECK in the final stage"
    args = checks[-1].args
    if "python" not in args or re.search(r"\b(curl|wget)\b", args):
        return "the HEALTHCHECK must use python (the slim image has no curl)"
    script = HEALTHCHECK_SCRIPT.relative_to(REPO).as_posix()
    if script not in args:
        return f"the HEALTHCHECK should run {script}"
    return None


def _check_no_compilers(instr: list[Instruction], final: list[Instruction]) -> str | None:
    for instruction in final:
        if instruction.keyword == "RUN" and re.search(
            r"apt-get\s+install|apk\s+add", instruction.args
        ):
            found = [
                c for c in COMPILERS if re.search(rf"(^|\s){re.escape(c)}(\s|$)", instruction.args)
            ]
            if found:
                return f"line {instruction.line}: compilers in the final stage: {found}"
        if instruction.keyword == "COPY" and "--from=" in instruction.args:
            source = instruction.args.split()[-2]
            if source not in {"/opt/venv", "/models/onnx"}:
                return (
                    f"line {instruction.line}: the final stage copies {source} from a build stage"
                )
    return None


def _check_no_secrets(instr: list[Instruction], final: list[Instruction]) -> str | None:
    for instruction in instr:
        if instruction.keyword in {"ENV", "ARG"}:
            for name in re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=", instruction.args):
                if SECRET_NAMES.search(name.upper()):
                    return (
                        f"line {instruction.line}: {instruction.keyword} {name} looks like a secret"
                    )
        if instruction.keyword in {"COPY", "ADD"} and re.search(
            r"(^|\s)\.env(\s|$)", instruction.args
        ):
            return f"line {instruction.line}: copies a .env file into the image"
    return None


def _check_pip_no_cache(instr: list[Instruction], final: list[Instruction]) -> str | None:
    for stage in stages(instr):
        env_off = any(
            i.keyword == "ENV" and re.search(r"PIP_NO_CACHE_DIR=(1|true|on)", i.args) for i in stage
        )
        for instruction in stage:
            installs = instruction.keyword == "RUN" and re.search(
                r"\bpip\b.*\binstall\b", instruction.args
            )
            if installs and not env_off and "--no-cache-dir" not in instruction.args:
                return f"line {instruction.line}: pip install keeps its cache"
    for path in (INSTALL_SCRIPT, MODEL_TOOLS_SCRIPT):
        for line in path.read_text().splitlines():
            if (
                re.search(r"\"\$\{pip\[@\]\}\"\s+(wheel|install)", line)
                and "--no-cache-dir" not in line
            ):
                return f"{path.name}: pip without --no-cache-dir: {line.strip()}"
    return None


def _check_cpu_torch(instr: list[Instruction], final: list[Instruction]) -> str | None:
    """torch lives only in the throwaway models stage, as the CPU-only build."""
    script = MODEL_TOOLS_SCRIPT.read_text()
    if "download.pytorch.org/whl/cpu" not in script:
        return f"{MODEL_TOOLS_SCRIPT.name} does not use the PyTorch CPU index"
    tools = MODEL_TOOLS_SCRIPT.relative_to(REPO).as_posix()
    for stage in stages(instr):
        runs_tools = any(i.keyword == "RUN" and tools in i.args for i in stage)
        if runs_tools and stage is stages(instr)[-1]:
            return "the final stage installs the model tooling (torch)"
    pins = _pins(REPO / "requirements" / "docker-cpu.txt")
    ml = _pins(REPO / "requirements" / "ml.txt")
    for package in ("torch", "torchvision"):
        if pins.get(package) != f"{ml.get(package)}+cpu":
            return f"docker-cpu.txt pins {package}=={pins.get(package)}, ml.txt {ml.get(package)}"
    return None


def _check_requirements(instr: list[Instruction], final: list[Instruction]) -> str | None:
    """The runtime venv is the hashed lock only; dev-only files are never copied in."""
    code = "\n".join(
        line
        for line in INSTALL_SCRIPT.read_text().splitlines()
        if not line.lstrip().startswith("#")
    )
    if "--require-hashes" not in code or "production.lock" not in code:
        return f"{INSTALL_SCRIPT.name} must install requirements/production.lock --require-hashes"
    if re.search(r"\.txt\b", code):
        return f"{INSTALL_SCRIPT.name} installs a requirements .txt besides the lock"
    if "secantus" in code.lower() or "secantus" in MODEL_TOOLS_SCRIPT.read_text().lower():
        return "an install script mentions SecantusDB (development only)"
    dev_only = {"dev.txt", "embedded-db.txt", "e2e.txt"}
    copied = {
        Path(word).name
        for i in instr
        if i.keyword == "COPY"
        for word in i.args.split()
        if word.startswith("requirements/")
    }
    if copied & dev_only:
        return f"copies development-only requirements {sorted(copied & dev_only)}"
    script = INSTALL_SCRIPT.relative_to(REPO).as_posix()
    if not any(i.keyword == "RUN" and script in i.args for i in instr):
        return f"no stage runs {script}"
    return None


def _check_served_only(instr: list[Instruction], final: list[Instruction]) -> str | None:
    """Every ``export_onnx`` of the build keeps only the variant each model serves: the other
    one (MiniLM's int8 file, CLIP's fp32 towers beside served int8 ones) is never loaded."""
    exports = [
        part
        for i in instr
        if i.keyword == "RUN"
        for part in re.split(r"&&|;|\|\|", i.args)
        if "export_onnx" in part
    ]
    if not exports:
        return "no stage runs manage.py export_onnx"
    missing = [" ".join(part.split()) for part in exports if "--served-only" not in part.split()]
    if missing:
        return f"export_onnx without --served-only ships unserved variants: {missing}"
    return None


def _check_dockerignore(instr: list[Instruction], final: list[Instruction]) -> str | None:
    entries = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    missing = {
        ".venv",
        "var",
        ".git",
        "**/tests",
        ".env",
        "requirements/embedded-db.txt",
        "buyhive/devdb",
    } - entries
    return f".dockerignore lacks {sorted(missing)}" if missing else None


#: The worker policy (docs/scaling.md, "The web worker class"): gthread workers serving the
#: WSGI app, each worker's concurrency bounded by ``threads`` and its connections by
#: ``worker_connections``.
WORKER_POLICY = {
    "worker_class": "buyhive.gunicorn_workers.DrainingThreadWorker",
    "wsgi_app": "buyhive.wsgi:application",
}


def _gunicorn_conf(env: dict[str, str] | None = None) -> dict[str, object]:
    """gunicorn.conf.py's values as gunicorn reads them, with the image's (empty) environment."""
    import runpy

    names = [n for n in os.environ if n.startswith("GUNICORN_") or n == "WEB_CONCURRENCY"]
    saved = {n: os.environ.pop(n) for n in names}
    os.environ.update(env or {})
    try:
        sys.path.insert(0, str(REPO))
        return runpy.run_path(str(REPO / "gunicorn.conf.py"))
    finally:
        sys.path.remove(str(REPO))
        for name in env or {}:
            os.environ.pop(name, None)
        os.environ.update(saved)


def _check_entrypoint(instr: list[Instruction], final: list[Instruction]) -> str | None:
    commands = [i.args for i in final if i.keyword in {"CMD", "ENTRYPOINT"}]
    if not commands or "gunicorn" not in commands[-1] or "gunicorn.conf.py" not in commands[-1]:
        return "the image must start gunicorn with gunicorn.conf.py"
    if any(flag in commands[-1] for flag in ("-k", "--worker-class", "--threads")):
        return "the worker class and threads belong in gunicorn.conf.py, not the CMD"
    conf = _gunicorn_conf()
    for name, wanted in WORKER_POLICY.items():
        if conf.get(name) != wanted:
            return f"gunicorn.conf.py must set {name} = {wanted!r} (has {conf.get(name)!r})"
    threads = conf.get("threads")
    if not isinstance(threads, int) or not 1 <= threads <= 64:
        return f"threads (requests in flight per worker) must be 1-64: {threads!r}"
    connections = conf.get("worker_connections")
    if not isinstance(connections, int) or not 4 <= connections <= 1000:
        return f"worker_connections (connections per worker) must be 4-1000: {connections!r}"
    if conf.get("preload_app") is not False:
        return "gunicorn.conf.py must not preload the app (MongoClient after fork)"
    return None


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = version.strip()
    return pins


#: The image policy checked on top of hadolint: (what, check). A check returns None or why not.
POLICY: list[tuple[str, Callable[[list[Instruction], list[Instruction]], str | None]]] = [
    ("multi-stage build, named final stage", _check_multi_stage),
    ("every base is python:3.11-slim, pinned", _check_base),
    ("final stage runs as a non-root USER", _check_user),
    ("HEALTHCHECK with python on /health", _check_healthcheck),
    (
        "no compilers in the final stage; only /opt/venv and /models/onnx copied from builds",
        _check_no_compilers,
    ),
    ("no secret in ENV or ARG, no .env copied", _check_no_secrets),
    ("pip keeps no cache (--no-cache-dir or PIP_NO_CACHE_DIR)", _check_pip_no_cache),
    (
        "torch only in the models stage: CPU-only, PyTorch CPU index, same versions",
        _check_cpu_torch,
    ),
    (
        "runtime venv = production.lock with --require-hashes (no dev.txt, no SecantusDB)",
        _check_requirements,
    ),
    ("export_onnx --served-only: the image ships only the served variants", _check_served_only),
    (".dockerignore keeps .venv, var, .git, tests, .env, buyhive/devdb out", _check_dockerignore),
    (
        "gunicorn.conf.py: gthread workers with bounded threads, no preload, no class in the CMD",
        _check_entrypoint,
    ),
]
