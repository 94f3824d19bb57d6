"""How every model is loaded and run: lazily, once, on the one inference thread, in time.

* **Loading.** Every model BuyHive runs (CLIP, the MiniLM encoder, the page classifier) is held
  by one :class:`LazyModel` (the holders themselves live in :mod:`mlverify.registry`). It loads
  on first use, under a lock so that concurrent first requests never load twice, and it
  remembers why it is unavailable (missing or corrupt weights, an import error) instead of
  retrying on every request or falling back to random weights. ``/ready`` and
  ``check_models`` read :meth:`LazyModel.describe`.
* **Running.** :func:`run_inference` runs a model call on the single inference thread and
  gives up waiting after a timeout (:class:`InferenceTimeout`), so a hung or slow model never
  pins a web worker and CLIP and the classifier never fight over the CPU. A call made *from*
  the inference thread (a model function that itself calls another model service) runs
  inline: the thread marks itself when it starts, so nesting can never deadlock the one
  worker waiting for itself.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

import structlog

from buyhive import metrics

logger = structlog.get_logger(__name__)

T = TypeVar("T")

State = Literal["not_loaded", "loaded", "unavailable"]


class ModelUnavailable(Exception):
    """The model cannot be used; ``reason`` is safe to show to API users and operators."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class ModelStatus:
    name: str
    state: State
    reason: str | None = None
    load_seconds: float | None = None
    version: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "state": self.state,
            "reason": self.reason,
            "load_seconds": self.load_seconds,
            "version": self.version,
        }


def _record_load(name: str, seconds: float, *, ok: bool) -> None:
    """The CloudWatch metric of a load (only written where metrics are enabled)."""
    metrics.record_model_load(model=name, seconds=seconds, ok=ok)


class LazyModel(Generic[T]):
    """Holds one model, loaded by ``loader`` on first :meth:`get`.

    ``loader`` raises :class:`ModelUnavailable` with a clear reason when weights are missing
    or corrupt; any other exception is logged with its traceback and reported as a load error.
    An unavailable model stays unavailable until :meth:`reset` (called by tests and by
    ``check_models --reload``), so a broken model costs one failed load, not one per request.
    """

    def __init__(self, name: str, loader: Callable[[], T], *, version: str | None = None) -> None:
        self.name = name
        self._loader = loader
        self._version = version
        self._lock = threading.Lock()
        self._value: T | None = None
        self._state: State = "not_loaded"
        self._reason: str | None = None
        self._load_seconds: float | None = None
        self.load_count = 0  # how many times the loader ran (tests assert a single load)

    def get(self) -> T:
        """Return the loaded model, loading it once; raise :class:`ModelUnavailable` otherwise."""
        if self._state == "loaded":
            return self._value  # type: ignore[return-value]
        with self._lock:
            if self._state == "loaded":
                return self._value  # type: ignore[return-value]
            if self._state == "unavailable":
                raise ModelUnavailable(self._reason or "unavailable")
            started = time.perf_counter()
            self.load_count += 1
            try:
                value = self._loader()
            except ModelUnavailable as exc:
                self._state, self._reason = "unavailable", exc.reason
                logger.warning("model_unavailable", model=self.name, reason=exc.reason)
                _record_load(self.name, time.perf_counter() - started, ok=False)
                raise
            except Exception as exc:  # noqa: BLE001 - any loader failure makes the model unavailable
                self._state = "unavailable"
                self._reason = f"load error: {type(exc).__name__}: {exc}"[:300]
                logger.exception("model_load_failed", model=self.name)
                _record_load(self.name, time.perf_counter() - started, ok=False)
                raise ModelUnavailable(self._reason) from exc
            self._load_seconds = round(time.perf_counter() - started, 3)
            self._value, self._state, self._reason = value, "loaded", None
            logger.info("model_loaded", model=self.name, seconds=self._load_seconds)
            _record_load(self.name, self._load_seconds, ok=True)
            return value

    def describe(self) -> ModelStatus:
        return ModelStatus(
            name=self.name,
            state=self._state,
            reason=self._reason,
            load_seconds=self._load_seconds,
            version=self._version,
        )

    def reset(self, loader: Callable[[], T] | None = None) -> None:
        """Forget the loaded model (and optionally swap the loader), e.g. after settings change."""
        with self._lock:
            if loader is not None:
                self._loader = loader
            self._value, self._state, self._reason = None, "not_loaded", None
            self._load_seconds = None


# ---------------------------------------------------------------------------------------------
# The inference thread
# ---------------------------------------------------------------------------------------------


class InferenceTimeout(Exception):
    """The model did not answer within ML_INFERENCE_TIMEOUT."""


_worker_state = threading.local()


def _mark_inference_thread() -> None:
    """Executor initializer: the worker knows it is the inference thread (see
    :func:`on_inference_thread`), instead of anyone guessing from its name."""
    _worker_state.is_inference_thread = True


# One worker: with one torch thread per process, running inferences side by side only slows
# both. A request whose turn does not come within the timeout answers "unavailable: timeout".
_executor = ThreadPoolExecutor(
    max_workers=1, thread_name_prefix="mlverify-inference", initializer=_mark_inference_thread
)


def on_inference_thread() -> bool:
    """True when the caller already runs on the inference thread."""
    return bool(getattr(_worker_state, "is_inference_thread", False))


def _in_worker(fn: Callable[[], T], threads: int | None) -> T:
    # torch's intra-op thread count is per OS thread (a value set on the request thread does
    # not reach this one), so the inference thread sets its own before running models.
    # Only when torch is already loaded: the ONNX Runtime path never imports it (its sessions
    # carry their own thread count), and a torch loader sets the count itself when it loads.
    torch = sys.modules.get("torch")
    if (
        torch is not None
        and threads is not None
        and getattr(_worker_state, "threads", None) != threads
    ):
        torch.set_num_threads(max(1, threads))
        _worker_state.threads = threads
    return fn()


def run_inference(fn: Callable[[], T], timeout: float, *, threads: int | None = None) -> T:
    """Run ``fn`` on the inference thread; raise :class:`InferenceTimeout` after ``timeout`` s.

    Re-entrant: called from the inference thread itself, ``fn`` runs inline (the outer call's
    timeout already bounds the wait), since queueing it behind its own caller would deadlock.
    """
    if on_inference_thread():
        return fn()
    future = _executor.submit(_in_worker, fn, threads)
    try:
        return future.result(timeout=timeout)
    except FutureTimeout as exc:
        future.cancel()  # drops it if it has not started; a running call finishes unobserved
        raise InferenceTimeout(f"no answer within {timeout:g} s") from exc


def load_in_time(holder: LazyModel[T], timeout: float, *, threads: int | None = None) -> T:
    """The holder's model; a first load runs on the inference thread under ``timeout``, so a
    request never waits longer than that for weights to load (the load itself carries on)."""
    if holder.describe().state == "loaded":
        return holder.get()
    return run_inference(holder.get, timeout, threads=threads)
