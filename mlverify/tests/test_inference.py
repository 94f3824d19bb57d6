"""The one inference thread: timeouts, and re-entrant calls that can never deadlock it."""

from __future__ import annotations

import threading
import time

import pytest

from mlverify.inference import (
    InferenceTimeout,
    LazyModel,
    load_in_time,
    on_inference_thread,
    run_inference,
)


def test_runs_on_the_inference_thread_and_returns_the_value() -> None:
    caller = threading.get_ident()
    ran_on, flagged = run_inference(lambda: (threading.get_ident(), on_inference_thread()), 5)
    assert ran_on != caller
    assert flagged is True
    assert on_inference_thread() is False


def test_a_nested_call_runs_inline_instead_of_deadlocking() -> None:
    """A model call that itself calls another model service (CLIP's text fallback calling the
    page encoder) would otherwise wait for the one worker it is occupying."""

    def outer() -> tuple[int, int]:
        inner_thread = run_inference(threading.get_ident, 0.5)
        return threading.get_ident(), inner_thread

    started = time.perf_counter()
    outer_thread, inner_thread = run_inference(outer, 5)
    assert inner_thread == outer_thread
    assert time.perf_counter() - started < 0.5


def test_a_thread_is_not_the_inference_thread_because_of_its_name() -> None:
    seen: list[bool] = []
    impostor = threading.Thread(
        target=lambda: seen.append(on_inference_thread()), name="mlverify-inference_0"
    )
    impostor.start()
    impostor.join(5)
    assert seen == [False]


def test_a_slow_call_times_out_and_the_thread_serves_the_next_one() -> None:
    release = threading.Event()
    with pytest.raises(InferenceTimeout, match=r"no answer within 0\.1 s"):
        run_inference(lambda: release.wait(5), 0.1)
    release.set()
    assert run_inference(lambda: 42, 5) == 42


def test_load_in_time_loads_on_the_inference_thread_once() -> None:
    threads: list[bool] = []

    def loader() -> str:
        threads.append(on_inference_thread())
        return "model"

    holder: LazyModel[str] = LazyModel("test", loader)
    assert load_in_time(holder, 5) == "model"
    assert load_in_time(holder, 5) == "model"
    assert threads == [True]
    assert holder.load_count == 1


def test_load_in_time_gives_up_waiting_but_the_load_completes() -> None:
    release = threading.Event()

    def slow_loader() -> str:
        release.wait(5)
        return "model"

    holder: LazyModel[str] = LazyModel("slow", slow_loader)
    with pytest.raises(InferenceTimeout):
        load_in_time(holder, 0.1)
    release.set()
    assert load_in_time(holder, 5) == "model"
    assert holder.load_count == 1
