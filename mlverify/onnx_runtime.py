"""Serving the exported models on ONNX Runtime, on the CPU, without importing torch.

``manage.py export_onnx`` (:mod:`mlverify.onnx_export`) writes ``BUYHIVE_MODEL_DIR/onnx/``:
the MiniLM encoder (``minilm/``, with its tokenizer files) and CLIP's towers (``clip/``),
each in fp32 and, where the accuracy holds, int8, plus ``manifest.json`` naming the file to
serve, its sha256, the opset and the fingerprint of the source it was exported from.

Why: torch with both models peaks at 1.65-2.1 GB per worker, which sets the hosting floor;
ONNX Runtime alone peaks at about 250 MB and runs int8 MiniLM in about a third of the time
(issue 16). The setting ``MODEL_RUNTIME`` chooses: ``torch``, ``onnx`` (the export must be
there, or the model is unavailable with the reason), or ``auto`` (the default: ONNX when an
export made from the configured source is present, torch otherwise).

Nothing here imports torch, transformers or open_clip; :func:`describe_runtime` and the
loaders only read small JSON files until a model is actually loaded.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from mlverify.inference import ModelUnavailable

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "buyhive-onnx/1"
MINILM_KEY = "minilm"
CLIP_IMAGE_KEY = "clip_image"
CLIP_TEXT_KEY = "clip_text"
RUNTIMES = ("auto", "onnx", "torch")

Runtime = Literal["auto", "onnx", "torch"]


def onnx_dir(model_dir: Path) -> Path:
    """Where the export lives: ``BUYHIVE_MODEL_DIR/onnx``."""
    return Path(model_dir) / "onnx"


def model_dir_from_settings() -> Path:
    from django.conf import settings

    default = Path(__file__).resolve().parents[1] / "var" / "models"
    return Path(settings.BUYHIVE_MODEL_DIR or default)


def runtime_from_settings() -> Runtime:
    """``MODEL_RUNTIME`` from settings; an unknown value is a configuration error."""
    from django.conf import settings

    value = str(settings.MODEL_RUNTIME or "auto").strip().lower()
    if value not in RUNTIMES:
        raise ModelUnavailable(f"MODEL_RUNTIME must be one of {', '.join(RUNTIMES)}, not {value!r}")
    return value  # type: ignore[return-value]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory: Path) -> dict[str, Any] | None:
    """The export's manifest, or None when there is none (or it is not ours)."""
    try:
        data = json.loads((Path(directory) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        return None
    return data


@dataclass(frozen=True)
class ExportedModel:
    """One model of the manifest: the file to serve and what it was made from."""

    key: str
    path: Path
    sha256: str
    variant: str  # "int8" or "fp32"
    source_fingerprint: str
    opset: int


def find_export(
    directory: Path, key: str, *, source_fingerprint: str | None
) -> ExportedModel | None:
    """The served file of ``key`` when the export has it and it was made from the source
    with ``source_fingerprint`` (None: any source). A stale export (other weights) is ignored,
    so a new encoder never silently pairs with an old ONNX file."""
    manifest = read_manifest(directory)
    if manifest is None:
        return None
    entry = (manifest.get("models") or {}).get(key)
    if not isinstance(entry, dict):
        return None
    variant = str(entry.get("serve") or "fp32")
    info = (entry.get("files") or {}).get(variant)
    if not isinstance(info, dict):
        return None
    path = Path(directory) / str(info.get("path"))
    if not path.is_file():
        return None
    fingerprint = str(entry.get("source_fingerprint") or "")
    if source_fingerprint is not None and fingerprint != source_fingerprint:
        return None
    return ExportedModel(
        key=key,
        path=path,
        sha256=str(info.get("sha256") or ""),
        variant=variant,
        source_fingerprint=fingerprint,
        opset=int(manifest.get("opset") or 0),
    )


def served_files(directory: Path) -> set[Path]:
    """The files the manifest in ``directory`` serves: one ``.onnx`` per model."""
    manifest = read_manifest(directory) or {}
    served = set()
    for entry in (manifest.get("models") or {}).values():
        if not isinstance(entry, dict):
            continue
        info = (entry.get("files") or {}).get(str(entry.get("serve") or "fp32"))
        if isinstance(info, dict) and info.get("path"):
            served.add(Path(directory) / str(info["path"]))
    return served


def unserved_files(directory: Path) -> list[Path]:
    """The ``.onnx`` files in ``directory`` that its manifest does not serve (an int8 file
    whose gate failed, the fp32 file beside a served int8 one, a leftover of an older export):
    never loaded, so in an image they are dead weight (``export_onnx --served-only``)."""
    served = served_files(directory)
    return sorted(p for p in Path(directory).rglob("*.onnx") if p not in served)


def open_session(model: ExportedModel, *, threads: int = 1) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session on the CPU with ``threads`` intra-op threads (1 per worker:
    with the other core busy, two threads are several times slower than one; scale with
    processes). The file's sha256 is checked against the manifest first: a truncated or
    replaced file is a clear "corrupt", not a crash inside onnxruntime."""
    import onnxruntime as ort  # imported on first load only: importing mlverify stays light

    if model.sha256 and sha256_file(model.path) != model.sha256:
        raise ModelUnavailable(f"ONNX model {model.path} is corrupt: sha256 differs from manifest")
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Pool threads that spin waiting for work burn the core another process needs on a busy
    # 2-core box; only matters when threads > 1. The memory arena and pattern planner stay on:
    # turning them off saved no peak RSS here (the peak is the weights) and cost ~10 % CPU.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(
            str(model.path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:
        raise ModelUnavailable(
            f"ONNX model {model.path} is corrupt: {type(exc).__name__}: {str(exc)[:160]}"
        ) from exc


class OnnxTextEncoder:
    """The MiniLM sentence encoder on ONNX Runtime: the same contract as
    :class:`mlverify.page_check.encoder.TextEncoder` (mean pooling + L2 normalisation, unit
    vectors out), with numpy arrays instead of torch tensors."""

    def __init__(
        self,
        *,
        tokenizer: Tokenizer,
        session: onnxruntime.InferenceSession,
        name: str,
        version: str,
        fingerprint: str,
        max_length: int,
        dim: int,
    ) -> None:
        self.tokenizer = tokenizer
        self.session = session
        self.name = name
        self.version = version
        self.fingerprint = fingerprint
        self.max_length = max_length
        self.dim = dim
        self.calls = 0
        self._calls_lock = threading.Lock()
        self._inputs = {i.name for i in session.get_inputs()}

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Embed ``texts`` into an ``(n, dim)`` float32 array of unit vectors."""
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(encodings), self.dim), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            longest = max(1, max(len(encodings[i].ids) for i in idx))
            ids = np.zeros((len(idx), longest), dtype=np.int64)
            mask = np.zeros((len(idx), longest), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            with self._calls_lock:
                self.calls += 1
            hidden = self.session.run(None, feeds)[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            out[idx] = pooled / norms
        return out


def load_onnx_text_encoder(
    model: ExportedModel,
    *,
    tokenizer: Tokenizer,
    name: str,
    version: str,
    fingerprint: str,
    num_threads: int = 1,
    max_length: int,
) -> OnnxTextEncoder:
    """Open the exported encoder; ``tokenizer`` is the source encoder's, configured by the
    caller exactly as the torch path configures it (no padding, truncation at max_length)."""
    session = open_session(model, threads=num_threads)
    dim = session.get_outputs()[0].shape[-1]
    if not isinstance(dim, int):
        raise ModelUnavailable(f"ONNX encoder {model.path} has no fixed hidden size")
    return OnnxTextEncoder(
        tokenizer=tokenizer,
        session=session,
        name=name,
        version=f"{version}+onnx-{model.variant}",
        fingerprint=fingerprint,
        max_length=max_length,
        dim=dim,
    )
