"""Fetch CLIP weights from the Hugging Face Hub into ``BUYHIVE_MODEL_DIR`` (download_models).

This is the only code that downloads models, and only when an operator runs
``manage.py download_models``; the web process never does. The address is fixed here (not
user-supplied), so it uses httpx directly, with timeouts, streaming to a temporary file in the
destination folder, hashing while it writes, and renaming into place only when the sha256
matches the published value. A half-written or wrong file is never left under the final name.

Published digests: the sha256 of an LFS file is shown on its Hugging Face page ("Git LFS
Details"); each source below cites its page. A source whose digest could not be confirmed
from its page has ``sha256=None`` and the command then refuses to install it unless the
operator passes ``--sha256`` after checking the page themselves.

Without internet access: download the file on another machine (the URL is printed), check
its sha256, copy it to ``BUYHIVE_MODEL_DIR/clip/open_clip_model.safetensors`` and run
``manage.py check_models``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import structlog

from mlverify.clip.loading import WEIGHTS_METADATA_NAME

logger = structlog.get_logger(__name__)

DEFAULT_BASE_URL = "https://huggingface.co"
WEIGHTS_FILENAME = "open_clip_model.safetensors"  # the name CLIP_WEIGHTS defaults to
CHUNK = 1 << 20


@dataclass(frozen=True)
class WeightsSource:
    variant: str  # the open_clip pretrained tag
    model_name: str  # the CLIP_MODEL these weights need
    repo: str
    filename: str
    revision: str
    sha256: str | None  # the published LFS sha256, or None when not confirmed
    size: int | None  # bytes, when known
    page: str  # where the digest is published
    license: str

    def url(self, base_url: str = DEFAULT_BASE_URL) -> str:
        return f"{base_url.rstrip('/')}/{self.repo}/resolve/{self.revision}/{self.filename}"


SOURCES: dict[str, WeightsSource] = {
    # LAION-2B ViT-B/32 (open_clip tag laion2b_s34b_b79k), 66.6% ImageNet zero-shot, MIT.
    # sha256 from the file's page, "Git LFS Details" (605 MB, commit 08f7355 "Adding
    # `safetensors` variant of this model (#4)"):
    # https://huggingface.co/laion/CLIP-ViT-B-32-laion2B-s34B-b79K/blob/main/open_clip_pytorch_model.safetensors
    "laion2b_s34b_b79k": WeightsSource(
        variant="laion2b_s34b_b79k",
        model_name="ViT-B-32",
        repo="laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
        filename="open_clip_pytorch_model.safetensors",
        revision="main",
        sha256="ac4f8c4b88af6d963118cbf40ad93176d092abbedfcb752601ae1866352656e6",
        size=None,
        page="https://huggingface.co/laion/CLIP-ViT-B-32-laion2B-s34B-b79K/blob/main/"
        "open_clip_pytorch_model.safetensors",
        license="MIT",
    ),
    # OpenAI's ViT-B/32 as converted for open_clip by timm; needs CLIP_MODEL=ViT-B-32-quickgelu.
    # TODO(sha256): NOT CONFIRMED. The digest is on
    # https://huggingface.co/timm/vit_base_patch32_clip_224.openai/blob/main/open_clip_model.safetensors
    # ("Git LFS Details"), which could not be read from this offline machine. Until it is
    # filled in, `download_models --variant openai` requires `--sha256 <digest from that page>`.
    "openai": WeightsSource(
        variant="openai",
        model_name="ViT-B-32-quickgelu",
        repo="timm/vit_base_patch32_clip_224.openai",
        filename="open_clip_model.safetensors",
        revision="main",
        sha256=None,
        size=None,
        page="https://huggingface.co/timm/vit_base_patch32_clip_224.openai/blob/main/"
        "open_clip_model.safetensors",
        license="MIT (OpenAI CLIP)",
    ),
}


class DownloadError(Exception):
    """A download that did not produce a verified file; ``str()`` is the operator message."""


class HubUnreachable(DownloadError):
    """No connection to the hub (DNS failure, refused, timed out)."""


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    sha256: str
    size: int
    downloaded: bool  # False when a verified file was already in place
    seconds: float


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def manual_instructions(source: WeightsSource, dest: Path, *, base_url: str) -> str:
    digest = source.sha256 or f"(see {source.page})"
    return (
        f"To install without internet access: download {source.url(base_url)} on another "
        f"machine, check that its sha256 is {digest}, copy it to {dest}, then run "
        f"`python manage.py check_models`. Set CLIP_MODEL={source.model_name}."
    )


def _write_metadata(dest: Path, source: WeightsSource, *, sha256: str, size: int, url: str) -> None:
    meta = {
        "file": dest.name,
        "model_name": source.model_name,
        "variant": source.variant,
        "source": url,
        "repo": source.repo,
        "revision": source.revision,
        "sha256": sha256,
        "size": size,
        "license": source.license,
        "published_sha256_page": source.page,
        "downloaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path = dest.parent / WEIGHTS_METADATA_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def download_weights(
    source: WeightsSource,
    dest: Path,
    *,
    base_url: str = DEFAULT_BASE_URL,
    expected_sha256: str | None = None,
    force: bool = False,
    connect_timeout: float = 10.0,
    read_timeout: float = 60.0,
    progress: Callable[[int, int | None], None] | None = None,
) -> DownloadResult:
    """Download ``source`` to ``dest``, verified, atomically. Raises :class:`DownloadError`.

    ``expected_sha256`` overrides the published digest (an operator who checked the page, or a
    test serving its own file). With neither, nothing is installed.
    """
    started = time.perf_counter()
    expected = (expected_sha256 or source.sha256 or "").strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise DownloadError(
            f"No published sha256 is recorded for {source.variant!r}. Read it from "
            f"{source.page} and pass it with --sha256."
            if not expected
            else f"--sha256 must be 64 hexadecimal characters, got {expected!r}"
        )
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    url = source.url(base_url)

    if dest.is_file() and not force:
        actual = sha256_of(dest)
        if actual == expected:
            _write_metadata(dest, source, sha256=actual, size=dest.stat().st_size, url=url)
            return DownloadResult(
                dest, actual, dest.stat().st_size, False, time.perf_counter() - started
            )
        logger.warning("weights_present_but_different", path=str(dest), sha256=actual)

    timeout = httpx.Timeout(connect_timeout, read=read_timeout, write=30.0, pool=connect_timeout)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    size = 0
    try:
        with (
            os.fdopen(fd, "wb") as out,
            httpx.Client(timeout=timeout, follow_redirects=True, trust_env=True) as client,
            client.stream("GET", url, headers={"User-Agent": "buyhive-download-models/1"}) as resp,
        ):
            if resp.status_code != 200:
                raise DownloadError(f"{url} answered HTTP {resp.status_code}")
            total = int(resp.headers.get("content-length") or 0) or None
            for block in resp.iter_bytes(CHUNK):
                out.write(block)
                digest.update(block)
                size += len(block)
                if progress is not None:
                    progress(size, total)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != expected:
            raise DownloadError(
                f"sha256 mismatch for {url}: got {actual}, expected {expected}. "
                "The file was discarded."
            )
        if source.size is not None and size != source.size:
            raise DownloadError(
                f"size mismatch for {url}: got {size} bytes, expected {source.size}"
            )
        os.replace(tmp, dest)
    except httpx.TransportError as exc:
        # ConnectError covers DNS failures and refused connections; timeouts likewise.
        raise HubUnreachable(
            f"The model hub is not reachable ({type(exc).__name__}: {exc}). "
            + manual_instructions(source, dest, base_url=base_url)
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)
    _write_metadata(dest, source, sha256=actual, size=size, url=url)
    seconds = time.perf_counter() - started
    logger.info("weights_downloaded", path=str(dest), size=size, seconds=round(seconds, 1))
    return DownloadResult(dest, actual, size, True, seconds)
