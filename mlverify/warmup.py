"""Warm the models when a worker starts, so that no request pays for loading one.

gunicorn's ``post_worker_init`` hook (``gunicorn.conf.py``) calls :func:`start_warmup` in each
web worker once Django is set up. It returns at once: the models load on a background thread
(the worker boots and answers ``/health`` meanwhile), each through its registry holder (so a
request arriving mid-load waits for that one load instead of starting another), and each runs
one inference, because ONNX Runtime's first run allocates its memory arenas and is several times
slower than the next. Until the warm-up ends, ``/ready`` says ``warming`` (503, so a
readiness-gated load balancer or a deploy smoke test waits); a model that cannot load ends the
warm-up as ``unavailable`` with its reason, exactly what ``/ready`` reports for it otherwise.

Only models whose files are present are warmed (and the URLconf, which the first request would
import): a development machine without weights has
nothing to wait for and never says ``warming``. The Celery worker serves no model (no task
imports mlverify), so it warms nothing. ``ML_WARMUP=false`` turns warming off.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Literal

import structlog
from django.conf import settings

logger = structlog.get_logger(__name__)

State = Literal["idle", "warming", "done"]

_lock = threading.Lock()
_state: State = "idle"
_warming: set[str] = set()
_thread: threading.Thread | None = None


def state() -> State:
    """``idle`` (never started), ``warming`` or ``done``."""
    return _state


def warming_models() -> frozenset[str]:
    """The holders (``clip``, ``page_classifier``) the running warm-up has not finished."""
    return frozenset(_warming)


def _loadable() -> list[str]:
    """The models whose files are there for the configured runtime (cheap: file checks only)."""
    from mlverify import onnx_runtime
    from mlverify.clip.config import ClipConfig
    from mlverify.page_check.config import ClassifierConfig

    names: list[str] = []
    clip = ClipConfig.from_settings()
    root = onnx_runtime.onnx_dir(clip.model_dir) if clip.model_dir else None
    clip_export = root is not None and (root / "clip" / "serving.json").is_file()
    clip_source = clip.weights is not None and Path(clip.weights).is_file()
    if clip.model_name.startswith("local-dir:"):
        clip_source = Path(clip.model_name.removeprefix("local-dir:")).is_dir()
    page = ClassifierConfig.from_settings()
    page_export = root is not None and onnx_runtime.read_manifest(root) is not None
    page_source = page.encoder_dir is not None and (page.encoder_dir / "config.json").is_file()
    for name, export, source, runtime in (
        ("clip", clip_export, clip_source, clip.runtime),
        ("page_classifier", page_export, page_source, page.runtime),
    ):
        wanted = {"onnx": export, "torch": source}.get(runtime, export or source)
        if wanted:
            names.append(name)
    return names


def _exercise(name: str, model: Any) -> None:
    """One inference on the loaded model, on the inference thread (as requests run it)."""
    from PIL import Image

    from mlverify.clip.encoding import encode_images, product_embedding
    from mlverify.inference import run_inference
    from mlverify.page_check.url_text import PageInput

    if name == "page_classifier":
        page = PageInput.from_url("https://shop.example.com/p/warm-up-oak-table", "Oak table")
        run_inference(lambda: model.score([page]), 120.0)
    elif name == "clip":
        side = model.image_size or 224
        image = Image.new("RGB", (side, side), (255, 255, 255))
        run_inference(
            lambda: (encode_images(model, [image]), product_embedding(model, "warm")), 120.0
        )


def warm_models(names: list[str] | None = None) -> dict[str, str]:
    """Load and exercise ``names`` (default: every loadable model); ``{name: outcome}``.

    Never raises: a model that cannot load is ``unavailable`` in its holder, with the reason.
    """
    from mlverify import registry
    from mlverify.inference import ModelUnavailable

    holders = registry.model_holders()
    outcomes: dict[str, str] = {}
    for name in names if names is not None else _loadable():
        started = time.perf_counter()
        try:
            _exercise(name, holders[name].get())
            outcomes[name] = f"loaded in {time.perf_counter() - started:.2f} s"
        except ModelUnavailable as exc:
            outcomes[name] = f"unavailable: {exc.reason}"
        except Exception as exc:  # noqa: BLE001 - a warm-up failure must not kill the worker
            logger.exception("model_warmup_failed", model=name)
            outcomes[name] = f"failed: {type(exc).__name__}"
        finally:
            _warming.discard(name)
    return outcomes


def _warm_urlconf() -> None:
    """Import the URLconf (Django does it on the first request): it imports every app's views
    and with them the LLM SDKs, about a second on these machines (bench/serving.py)."""
    from django.urls import get_resolver

    try:
        get_resolver().url_patterns  # noqa: B018 - the property imports the URLconf
    except Exception:  # noqa: BLE001 - the first request will report it properly
        logger.exception("urlconf_warmup_failed")


def _run(names: list[str]) -> None:
    global _state
    started = time.perf_counter()
    try:
        _warm_urlconf()
        outcomes = warm_models(names) if names else {}
        logger.info("models_warm", seconds=round(time.perf_counter() - started, 2), **outcomes)
    finally:
        _warming.clear()
        _state = "done"


def start_warmup() -> threading.Thread | None:
    """Start warming on a daemon thread (once per process); None when ``ML_WARMUP`` is off or
    it already started. With no model files present only the URLconf is warmed, and ``/ready``
    never says ``warming``."""
    global _state, _thread
    if not settings.ML_WARMUP:
        return None
    with _lock:
        if _state != "idle":
            return None
        names = _loadable()
        _warming.update(names)
        _state = "warming" if names else "done"
        _thread = threading.Thread(target=_run, args=(names,), name="mlverify-warmup", daemon=True)
        _thread.start()
        return _thread


def reset() -> None:
    """Forget a finished warm-up (tests): the next :func:`start_warmup` runs again."""
    global _state, _thread
    with _lock:
        if _thread is not None:
            _thread.join()
        _state, _thread = "idle", None
        _warming.clear()
