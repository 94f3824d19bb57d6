"""requirements/production.lock: what the image installs with --require-hashes is current.

The offline half of the lock check in ``make lint`` (``scripts/requirements_lock.py --check``):
the committed lock records the sha256 of the base.txt it was compiled from, holds every base.txt
pin at the same version, and every entry has a hash. The recompile half needs the index.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from buyhive.tests.scripts import REPO, load_script


@pytest.fixture
def lock_script() -> ModuleType:
    return load_script("requirements_lock")


def test_committed_lock_matches_base_txt(
    lock_script: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lock_script.check(offline=True) == 0, capsys.readouterr().out


def test_the_image_never_gets_the_model_training_stack(lock_script: ModuleType) -> None:
    locked = lock_script.pins((REPO / "requirements" / "production.lock").read_text())
    for package in ("torch", "torchvision", "open-clip-torch", "transformers", "timm", "extruct"):
        assert package not in locked, package
    for package in ("onnxruntime", "tokenizers", "huggingface-hub", "tqdm", "numpy"):
        assert package in locked, package


def test_an_edited_base_txt_makes_the_lock_stale(
    lock_script: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "base.txt"
    lock = tmp_path / "production.lock"
    base.write_text(lock_script.BASE.read_text().replace("tqdm==", "tqdm==0.0.1\n# was "))
    lock.write_text(lock_script.LOCK.read_text())
    lock_script.BASE, lock_script.LOCK = base, lock

    assert lock_script.check(offline=True) == 1
    out = capsys.readouterr().out
    assert "base.txt changed since the lock was compiled" in out
    assert "tqdm==0.0.1" in out


def test_an_entry_without_a_hash_is_refused(lock_script: ModuleType) -> None:
    text = "a==1 \\\n    --hash=sha256:" + "0" * 64 + "\nb==2\n    # via a\nc==3 \\\n"
    text += "    --hash=sha256:" + "1" * 64 + "\n"
    assert lock_script.unhashed_entries(text) == ["b==2"]
