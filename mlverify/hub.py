"""Fetch CLIP weights from the Hugging Face Hub into ``BUYHIVE_MODEL_DIR`` (download_models).

This is the only code that downloads models, and only when an operator (or the image build's
``models`` stage, with BAKE_MODELS=1) runs ``manage.py download_models``; the web process
never does. It uses the hub's own client, ``huggingface_hub.hf_hub_download``, at the
revision recorded below (its redirects, retries and resumable transfer are the hub's), into a
temporary folder beside the destination, then checks the file's sha256 against the published
value and renames it into place only when it matches. A half-written or wrong file is never
left under the final name; the revision the hub served is recorded in the metadata file.

``HF_ENDPOINT`` (or ``--base-url``) points it at a mirror, or at the fake hub the tests run.
``HF_HUB_OFFLINE``, which keeps transformers and open_clip from reaching the hub on their own,
does not apply here: running this command is the explicit request to go online.

Published digests: the sha256 of an LFS file is shown on its Hugging Face page ("Git LFS
Details"); each source below cites its page. A source whose digest could not be confirmed
from its page has ``sha256=None`` and the command then refuses to install it unless the
operator passes ``--sha256`` after checking the page themselves.

Without internet access: download the file on another machine (the URL is printed), check
its sha256, copy it to ``BUYHIVE_MODEL_DIR/clip/open_clip_model.safetensors`` and run
``manage.py check_models``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import structlog
from huggingface_hub import constants as hub_constants
from huggingface_hub import hf_hub_download
from huggingface_hub._local_folder import read_download_metadata
from huggingface_hub.errors import HfHubHTTPError

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
    revision: str  # what hf_hub_download asks for: a commit id pins it (see SOURCES)
    sha256: str | None  # the published LFS sha256, or None when not confirmed
    size: int | None  # bytes, when known
    page: str  # where the digest is published
    license: str

    def url(self, base_url: str = DEFAULT_BASE_URL) -> str:
        return f"{base_url.rstrip('/')}/{self.repo}/resolve/{self.revision}/{self.filename}"


SOURCES: dict[str, WeightsSource] = {
    # LAION-2B ViT-B/32 (open_clip tag laion2b_s34b_b79k), 66.6% ImageNet zero-shot, MIT.
    # PINNED: the bytes, by the sha256 below, read from the file's page, "Git LFS Details"
    # (605 MB, the version of commit 08f7355 "Adding `safetensors` variant of this model (#4)"):
    # https://huggingface.co/laion/CLIP-ViT-B-32-laion2B-s34B-b79K/blob/main/open_clip_pytorch_model.safetensors
    # PINNED: the revision, the full id of that commit. The page showed only its short id
    # 08f7355 (these machines are offline); the full id below starts with it and is the one
    # two public records give for this repository: the revision MTEB pins for the model
    # (embeddings-benchmark/mteb, mteb/models/openclip_models.py) and a hub cache's snapshot
    # folder (models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K/snapshots/<commit>). Were it
    # wrong, the hub would answer 404 and nothing would be installed; other bytes never are,
    # the sha256 refuses them. The commit the hub served is recorded in the metadata file
    # beside the weights ("commit"); the first online run should show this id there.
    "laion2b_s34b_b79k": WeightsSource(
        variant="laion2b_s34b_b79k",
        model_name="ViT-B-32",
        repo="laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
        filename="open_clip_pytorch_model.safetensors",
        revision="08f73555f1b2fb7c82058aebbd492887a94968ef",
        sha256="ac4f8c4b88af6d963118cbf40ad93176d092abbedfcb752601ae1866352656e6",
        size=None,
        page="https://huggingface.co/laion/CLIP-ViT-B-32-laion2B-s34B-b79K/blob/main/"
        "open_clip_pytorch_model.safetensors",
        license="MIT",
    ),
    # OpenAI's ViT-B/32 as converted for open_clip by timm; needs CLIP_MODEL=ViT-B-32-quickgelu.
    # PINNED: nothing here. Neither the digest nor a commit id could be read from the file's
    # page (https://huggingface.co/timm/vit_base_patch32_clip_224.openai/blob/main/open_clip_model.safetensors)
    # on the offline machines this was written on, so `sha256` is None and "main" is asked
    # for. `download_models --variant openai` therefore refuses to install the file unless the
    # operator passes `--sha256 <digest>` read from that page ("Git LFS Details"): that digest
    # is the pin that matters, since it fixes the bytes whatever "main" points at (a commit id
    # only names where to look, and a moved "main" then fails the check, installing nothing).
    # To pin it (release engineer, online): read the sha256 from "Git LFS Details" and the full
    # commit id from "History", set `sha256` and `revision`, run `manage.py download_models
    # --variant openai` without --sha256, and check that it installs and records that "commit".
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


def default_base_url() -> str:
    """``HF_ENDPOINT`` when set (a mirror, the tests' fake hub), else the public hub."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_BASE_URL).rstrip("/")


def _write_metadata(
    dest: Path, source: WeightsSource, *, sha256: str, size: int, url: str, commit: str | None
) -> None:
    meta = {
        "file": dest.name,
        "model_name": source.model_name,
        "variant": source.variant,
        "source": url,
        "repo": source.repo,
        "revision": source.revision,
        "commit": commit,
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


def _recorded_commit(dest: Path) -> str | None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        value = json.loads((dest.parent / WEIGHTS_METADATA_NAME).read_text()).get("commit")
        return str(value) if value else None
    return None


@contextlib.contextmanager
def _online() -> Iterator[None]:
    """Lift ``HF_HUB_OFFLINE`` for this call only (see the module docstring)."""
    saved = hub_constants.HF_HUB_OFFLINE
    hub_constants.HF_HUB_OFFLINE = False
    try:
        yield
    finally:
        hub_constants.HF_HUB_OFFLINE = saved


def download_weights(
    source: WeightsSource,
    dest: Path,
    *,
    base_url: str | None = None,
    expected_sha256: str | None = None,
    force: bool = False,
    timeout: float = 10.0,
    progress_class: Any = None,
) -> DownloadResult:
    """Download ``source`` to ``dest``, verified, atomically. Raises :class:`DownloadError`.

    ``expected_sha256`` overrides the published digest (an operator who checked the page, or a
    test serving its own file). With neither, nothing is installed. ``progress_class`` is the
    tqdm class the hub's client draws its byte counter with (see ``buyhive.progress``).
    """
    started = time.perf_counter()
    base_url = (base_url or default_base_url()).rstrip("/")
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
            size = dest.stat().st_size
            commit = _recorded_commit(dest)
            _write_metadata(dest, source, sha256=actual, size=size, url=url, commit=commit)
            return DownloadResult(dest, actual, size, False, time.perf_counter() - started)
        logger.warning("weights_present_but_different", path=str(dest), sha256=actual)

    # A folder of our own beside the destination (same filesystem: the final rename is atomic);
    # the hub's client keeps its partial file and bookkeeping in there, and it all goes at the end.
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        with _online():
            fetched = Path(
                hf_hub_download(
                    source.repo,
                    source.filename,
                    revision=source.revision,
                    endpoint=base_url,
                    local_dir=work,
                    token=False,
                    etag_timeout=timeout,
                    user_agent="buyhive-download-models/2",
                    tqdm_class=progress_class,
                )
            )
        served = read_download_metadata(work, source.filename)
        commit = served.commit_hash if served is not None else None
        actual = sha256_of(fetched)
        size = fetched.stat().st_size
        if actual != expected:
            raise DownloadError(
                f"sha256 mismatch for {url}: got {actual}, expected {expected}. "
                "The file was discarded."
            )
        if source.size is not None and size != source.size:
            raise DownloadError(
                f"size mismatch for {url}: got {size} bytes, expected {source.size}"
            )
        with fetched.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(fetched, dest)
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "an error"
        raise DownloadError(f"{url} answered HTTP {status}") from exc
    except (OSError, httpx2.TransportError) as exc:
        # Refused, DNS failure, timed out: before the transfer the hub's client reports each
        # as "cannot locate the file on the Hub" (a FileNotFoundError) with the transport error
        # as its cause; during the transfer, as the transport error itself.
        cause = exc.__cause__ or exc
        raise HubUnreachable(
            f"The model hub is not reachable ({type(cause).__name__}: {cause}). "
            + manual_instructions(source, dest, base_url=base_url)
        ) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _write_metadata(dest, source, sha256=actual, size=size, url=url, commit=commit)
    seconds = time.perf_counter() - started
    logger.info(
        "weights_downloaded", path=str(dest), size=size, commit=commit, seconds=round(seconds, 1)
    )
    return DownloadResult(dest, actual, size, True, seconds)
