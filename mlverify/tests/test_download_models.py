"""download_models through huggingface_hub's own client against a fake hub on loopback.

The fake hub (``fake_hub.FakeHub``) answers the HEAD and GET that ``hf_hub_download`` sends;
it is reached through ``HF_ENDPOINT``, as a mirror would be, or ``--base-url``.
"""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from huggingface_hub import constants as hub_constants

from mlverify.clip.loading import WEIGHTS_METADATA_NAME
from mlverify.hub import SOURCES
from mlverify.tests.fake_hub import COMMIT, FakeHub

LAION = SOURCES["laion2b_s34b_b79k"]
HUB_PATH = f"/{LAION.repo}/resolve/{LAION.revision}/{LAION.filename}"
PAYLOAD = b"fake safetensors bytes " * 5000  # 115 KB
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """The fake hub, named by HF_ENDPOINT as a mirror would be; HF_HUB_OFFLINE=1 as in
    `make test` and the image (the command goes online on purpose all the same)."""
    server = FakeHub()
    monkeypatch.setenv("HF_ENDPOINT", server.base_url)
    # The client reads HF_HUB_OFFLINE once, at import: set what it would have read.
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    try:
        yield server
    finally:
        server.close()


def run(*args: str, stderr: Any = None) -> str:
    out = StringIO()
    call_command("download_models", *args, stdout=out, stderr=stderr or StringIO())
    return out.getvalue()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".partial", ".tmp")))


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_downloads_verifies_and_installs_atomically(hub: FakeHub, tmp_path: Path) -> None:
    hub.add(LAION.repo, LAION.revision, LAION.filename, PAYLOAD)
    dest = tmp_path / "clip" / "open_clip_model.safetensors"

    out = run("--sha256", DIGEST, "--dest", str(dest))

    assert dest.read_bytes() == PAYLOAD
    assert f"sha256 {DIGEST} verified" in out
    meta = json.loads((dest.parent / WEIGHTS_METADATA_NAME).read_text())
    assert meta["file"] == dest.name
    assert meta["model_name"] == "ViT-B-32"
    assert meta["variant"] == "laion2b_s34b_b79k"
    assert meta["sha256"] == DIGEST
    assert meta["size"] == len(PAYLOAD)
    assert meta["source"] == hub.base_url + HUB_PATH
    assert meta["revision"] == LAION.revision
    assert meta["commit"] == COMMIT  # the commit the hub served, recorded
    assert sorted(p.name for p in dest.parent.iterdir()) == [WEIGHTS_METADATA_NAME, dest.name]
    assert hub.gets[HUB_PATH] == 1
    assert any("buyhive-download-models" in agent for agent in hub.user_agents)

    # Already there and verified: no second download; the recorded commit is kept.
    out = run("--sha256", DIGEST, "--dest", str(dest))
    assert "already present" in out
    assert hub.gets[HUB_PATH] == 1
    assert json.loads((dest.parent / WEIGHTS_METADATA_NAME).read_text())["commit"] == COMMIT


def test_base_url_option_overrides_hf_endpoint(
    hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    hub.add(LAION.repo, LAION.revision, LAION.filename, PAYLOAD)
    dest = tmp_path / "w.safetensors"
    run("--base-url", hub.base_url, "--sha256", DIGEST, "--dest", str(dest))
    assert dest.read_bytes() == PAYLOAD


def test_progress_in_bytes_on_a_terminal_stderr_only(hub: FakeHub, tmp_path: Path) -> None:
    hub.add(LAION.repo, LAION.revision, LAION.filename, PAYLOAD)
    err = Terminal()
    out = run("--sha256", DIGEST, "--dest", str(tmp_path / "a.safetensors"), stderr=err)
    assert "115k/115k" in err.getvalue()  # bytes, scaled, out of the size the hub announced
    assert "115k" not in out

    quiet = StringIO()  # not a terminal: no bar at all
    run("--sha256", DIGEST, "--dest", str(tmp_path / "b.safetensors"), stderr=quiet)
    assert quiet.getvalue() == ""


def test_wrong_digest_installs_nothing(hub: FakeHub, tmp_path: Path) -> None:
    hub.add(LAION.repo, LAION.revision, LAION.filename, PAYLOAD)
    dest = tmp_path / "open_clip_model.safetensors"
    with pytest.raises(CommandError, match="sha256 mismatch"):
        run("--sha256", "0" * 64, "--dest", str(dest))
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []  # no partial file, no hub bookkeeping, no metadata


def test_published_digest_is_checked_by_default(hub: FakeHub, tmp_path: Path) -> None:
    """Without --sha256 the digest recorded from the Hugging Face page applies."""
    hub.add(LAION.repo, LAION.revision, LAION.filename, PAYLOAD)
    dest = tmp_path / "w.safetensors"
    with pytest.raises(CommandError, match=f"expected {LAION.sha256}"):
        run("--dest", str(dest))
    assert not dest.exists()


def test_the_default_asks_for_its_pinned_commit_not_main(hub: FakeHub, tmp_path: Path) -> None:
    """The hub's "main" may move on: the default variant asks for the commit recorded in
    SOURCES, so a file served only at "main" is not fetched, even with a digest it matches."""
    main_path = hub.add(LAION.repo, "main", LAION.filename, PAYLOAD)
    dest = tmp_path / "w.safetensors"
    with pytest.raises(CommandError, match="HTTP 404"):
        run("--sha256", DIGEST, "--dest", str(dest))
    assert not dest.exists()
    assert hub.heads[HUB_PATH] >= 1  # it asked at the pinned commit
    assert hub.heads[main_path] == hub.gets[main_path] == 0


def test_variant_without_recorded_digest_requires_one(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="pass it with --sha256"):
        run("--variant", "openai", "--dest", str(tmp_path / "w.safetensors"))


def test_http_error_installs_nothing(hub: FakeHub, tmp_path: Path) -> None:
    dest = tmp_path / "w.safetensors"
    with pytest.raises(CommandError, match="HTTP 404"):
        run("--sha256", DIGEST, "--dest", str(dest))
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow  # the hub client retries with backoff (1+2+4+8+8 s) before giving up
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
