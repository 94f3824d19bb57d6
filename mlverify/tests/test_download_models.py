"""download_models against a fake Hugging Face hub on loopback."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from mlverify.clip.loading import WEIGHTS_METADATA_NAME
from mlverify.hub import SOURCES
from mlverify.tests.tiny_clip import ImageServer

LAION = SOURCES["laion2b_s34b_b79k"]
HUB_PATH = f"/{LAION.repo}/resolve/{LAION.revision}/{LAION.filename}"
PAYLOAD = b"fake safetensors bytes " * 5000  # 115 KB
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


def run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("download_models", *args, stdout=out)
    return out.getvalue()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".partial", ".tmp")))


def test_downloads_verifies_and_installs_atomically(
    image_server: ImageServer, tmp_path: Path
) -> None:
    image_server.add(HUB_PATH, PAYLOAD, "application/octet-stream")
    dest = tmp_path / "clip" / "open_clip_model.safetensors"

    out = run("--base-url", image_server.base_url, "--sha256", DIGEST, "--dest", str(dest))

    assert dest.read_bytes() == PAYLOAD
    assert f"sha256 {DIGEST} verified" in out
    meta = json.loads((dest.parent / WEIGHTS_METADATA_NAME).read_text())
    assert meta["file"] == dest.name
    assert meta["model_name"] == "ViT-B-32"
    assert meta["variant"] == "laion2b_s34b_b79k"
    assert meta["sha256"] == DIGEST
    assert meta["size"] == len(PAYLOAD)
    assert meta["source"] == image_server.base_url + HUB_PATH
    assert leftovers(dest.parent) == []

    # Already there and verified: no second download.
    out = run("--base-url", image_server.base_url, "--sha256", DIGEST, "--dest", str(dest))
    assert "already present" in out
    assert image_server.hits[HUB_PATH] == 1


def test_wrong_digest_installs_nothing(image_server: ImageServer, tmp_path: Path) -> None:
    image_server.add(HUB_PATH, PAYLOAD, "application/octet-stream")
    dest = tmp_path / "open_clip_model.safetensors"
    with pytest.raises(CommandError, match="sha256 mismatch"):
        run("--base-url", image_server.base_url, "--sha256", "0" * 64, "--dest", str(dest))
    assert not dest.exists()
    assert leftovers(tmp_path) == []
    assert not (tmp_path / WEIGHTS_METADATA_NAME).exists()


def test_published_digest_is_checked_by_default(image_server: ImageServer, tmp_path: Path) -> None:
    """Without --sha256 the digest recorded from the Hugging Face page applies."""
    image_server.add(HUB_PATH, PAYLOAD, "application/octet-stream")
    dest = tmp_path / "w.safetensors"
    with pytest.raises(CommandError, match=f"expected {LAION.sha256}"):
        run("--base-url", image_server.base_url, "--dest", str(dest))
    assert not dest.exists()


def test_variant_without_recorded_digest_requires_one(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="pass it with --sha256"):
        run("--variant", "openai", "--dest", str(tmp_path / "w.safetensors"))


def test_http_error_installs_nothing(image_server: ImageServer, tmp_path: Path) -> None:
    dest = tmp_path / "w.safetensors"
    with pytest.raises(CommandError, match="HTTP 404"):
        run("--base-url", image_server.base_url, "--sha256", DIGEST, "--dest", str(dest))
    assert not dest.exists()
    assert leftovers(tmp_path) == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("base", ["http://127.0.0.1:{port}", "http://no-such-host.invalid"])
def test_unreachable_hub_says_so_with_the_manual_path(
    tmp_path: Path, base: str, settings: Any
) -> None:
    dest = tmp_path / "clip" / "open_clip_model.safetensors"
    with pytest.raises(CommandError) as info:
        run(
            "--base-url",
            base.format(port=closed_port()),
            "--dest",
            str(dest),
            "--timeout",
            "2",
        )
    message = str(info.value)
    assert "not reachable" in message
    assert "on another machine" in message
    assert str(dest) in message
    assert LAION.sha256 in message
    assert not dest.exists()
    assert leftovers(dest.parent) == []
