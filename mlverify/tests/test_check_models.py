"""check_models: loads every configured model and reports its state, reason and load time."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from mlverify.registry import get_clip_model, reset_models


def run(*args: str) -> str:
    out = StringIO()
    call_command("check_models", *args, stdout=out)
    return out.getvalue()


def test_reports_a_loaded_clip_with_its_load_time(clip_settings: Any) -> None:
    out = run("--model", "clip", "--strict")
    line = next(x for x in out.splitlines() if x.startswith("clip"))
    assert "loaded" in line
    assert "open_clip buyhive-tiny-clip @" in line
    assert " s " in line  # "load 0.05 s"
    assert get_clip_model().describe().state == "loaded"


def test_missing_weights_are_reported_with_the_reason(clip_settings: Any, tmp_path: Path) -> None:
    clip_settings.CLIP_WEIGHTS = tmp_path / "absent.safetensors"
    reset_models()
    out = run("--model", "clip")  # without --strict: reports, succeeds
    assert "unavailable" in out
    assert "CLIP weights not found at" in out
    assert "download_models" in out

    with pytest.raises(CommandError, match="unavailable: clip"):
        run("--model", "clip", "--strict")


def test_reload_picks_up_new_settings(clip_settings: Any, tiny_clip: Any, tmp_path: Path) -> None:
    clip_settings.CLIP_WEIGHTS = tmp_path / "absent.safetensors"
    reset_models()
    assert "unavailable" in run("--model", "clip")
    clip_settings.CLIP_WEIGHTS = tiny_clip.weights
    assert "unavailable" in run("--model", "clip")  # a failed model stays failed...
    assert "loaded" in run("--model", "clip", "--reload")  # ...until reloaded


def test_unknown_model_name_is_an_error(clip_settings: Any) -> None:
    with pytest.raises(CommandError, match="unknown model"):
        run("--model", "nope")


@pytest.mark.heavy
def test_checks_every_configured_model(clip_settings: Any) -> None:
    out = run()
    names = [line.split()[0] for line in out.splitlines() if line and not line.startswith(" ")]
    assert names == ["clip", "page_classifier"]
