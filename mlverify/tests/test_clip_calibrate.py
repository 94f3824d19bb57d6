"""calibrate_clip: threshold selection, and the command on a tiny labelled folder."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from mlverify.clip.calibration import choose_threshold
from mlverify.clip.service import verify_image
from mlverify.registry import get_clip_model
from mlverify.tests.tiny_clip import ImageServer, png_bytes


def test_choose_threshold_maximises_f1_between_scores() -> None:
    scores = [0.9, 0.8, 0.7, 0.4, 0.3, 0.2]
    labels = [True, True, False, True, False, False]
    chosen = choose_threshold(scores, labels)
    # >= 0.4 gives tp 3, fp 1: F1 0.857 (best); the cut sits between 0.4 and 0.3.
    assert chosen["threshold"] == pytest.approx(0.35)
    assert (chosen["tp"], chosen["fp"], chosen["fn"], chosen["tn"]) == (3, 1, 0, 2)
    assert chosen["f1"] == pytest.approx(0.8571, abs=1e-4)


def test_choose_threshold_youden_can_differ_from_f1() -> None:
    scores = [0.9, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    labels = [True, True, False, False, True, False, False]
    f1 = choose_threshold(scores, labels, metric="f1")
    youden = choose_threshold(scores, labels, metric="youden")
    assert f1["threshold"] == pytest.approx(0.55)
    assert youden["metric"] == "youden"
    assert youden["youden_j"] >= f1["youden_j"]


def test_choose_threshold_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="at least one"):
        choose_threshold([0.2, 0.3], [True, True])


def make_folder(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    colors = {"red": (220, 30, 30), "blue": (30, 40, 220), "green": (30, 180, 60)}
    lines = ["file,product_name,match"]
    for name, color in colors.items():
        (root / f"{name}.png").write_bytes(png_bytes(color))
        for other in colors:
            lines.append(f"{name}.png,{other} square,{int(other == name)}")
    (root / "broken.png").write_bytes(b"not an image")
    lines.append("broken.png,red square,1")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root


def test_command_writes_calibration_used_by_the_api(
    clip_settings: Any, tmp_path: Path, image_server: ImageServer
) -> None:
    data = make_folder(tmp_path / "data")
    out, err = StringIO(), StringIO()
    call_command("calibrate_clip", "--data", str(data), stdout=out, stderr=err)

    written = json.loads(Path(clip_settings.CLIP_CALIBRATION_FILE).read_text())
    assert written["n"] == 9
    assert (written["positives"], written["negatives"], written["skipped"]) == (3, 6, 1)
    assert written["model_version"] == get_clip_model().get().version
    assert 0.0 <= written["threshold"] <= 1.0
    assert set(written["metrics"]) >= {"precision", "recall", "f1", "youden_j", "accuracy"}
    assert written["created_at"]
    assert "skipped broken.png" in err.getvalue()
    assert "threshold" in out.getvalue()

    url = image_server.add("/red.png", png_bytes((220, 30, 30)))
    result = verify_image(image_url=url, product_name="red square")
    assert result.calibrated is True
    assert result.threshold == written["threshold"]


def test_command_refuses_paths_outside_the_folder(clip_settings: Any, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "labels.csv").write_text("file,product_name,match\n../secret.png,x,1\n")
    with pytest.raises(CommandError, match="outside"):
        call_command("calibrate_clip", "--data", str(data))


def test_command_without_clip_says_why(clip_settings: Any, tmp_path: Path) -> None:
    from mlverify.registry import reset_models

    clip_settings.CLIP_WEIGHTS = tmp_path / "absent.safetensors"
    reset_models()
    data = make_folder(tmp_path / "data")
    with pytest.raises(CommandError, match="CLIP is unavailable: CLIP weights not found"):
        call_command("calibrate_clip", "--data", str(data))
