"""Embeddings for training and evaluation, cached on disk and shown with a progress bar.

Embedding the ~1,000 labelled pages and their links costs minutes on these shared 2-core
machines, and every ``train_page_classifier`` / ``eval_page_classifier`` run embeds the same
texts again. The cache (``var/page-embeddings/``, gitignored) keys each vector by a hash of
the text *and* the encoder (fingerprint and token limit), so a changed encoder or a changed
text misses instead of answering stale vectors. The cache only saves time: deleting it changes
no result.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mlverify.training.defaults import REPO_ROOT

if TYPE_CHECKING:
    from mlverify.page_check.encoder import AnyTextEncoder

DEFAULT_CACHE_DIR = REPO_ROOT / "var" / "page-embeddings"
CHUNK = 64


def text_key(text: str, model_key: str) -> str:
    return hashlib.sha256(f"{model_key}\x00{text}".encode()).hexdigest()[:32]


class EmbeddingCache:
    """A dict of text hash -> vector, loaded from and saved to one ``.npz`` per encoder."""

    def __init__(self, cache_dir: Path | None, model_key: str, dim: int) -> None:
        self.model_key = model_key
        self.dim = dim
        self.path = None if cache_dir is None else Path(cache_dir) / f"{_safe(model_key)}-{dim}.npz"
        self.vectors: dict[str, np.ndarray] = {}
        self.dirty = False
        if self.path is not None and self.path.is_file():
            try:
                with np.load(self.path) as data:
                    keys, matrix = data["keys"], data["vectors"]
                if matrix.shape[1:] == (dim,):
                    self.vectors = {str(k): matrix[i] for i, k in enumerate(keys)}
            except (OSError, ValueError, KeyError):
                self.vectors = {}  # a broken cache is rebuilt, never trusted

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(self.vectors)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            keys=np.array(keys),
            vectors=np.stack([self.vectors[k] for k in keys]).astype(np.float32),
        )
        tmp.replace(self.path)
        self.dirty = False


def _safe(value: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in value)[:80]


def embed_texts(
    encoder: AnyTextEncoder,
    texts: Sequence[str],
    *,
    cache_dir: Path | None = DEFAULT_CACHE_DIR,
    desc: str = "embedding",
) -> np.ndarray:
    """``(len(texts), dim)`` unit vectors; texts already in the cache are not embedded again.

    A tqdm bar on stderr shows the embedding step when stderr is a terminal (quiet in logs,
    pipes and tests).
    """
    from tqdm import tqdm  # installed with transformers; imported when a run embeds

    model_key = f"{encoder.fingerprint}-{getattr(encoder, 'max_length', 0)}"
    cache = EmbeddingCache(cache_dir, model_key, encoder.dim)
    keys = [text_key(t, model_key) for t in texts]
    missing: dict[str, str] = {}
    for key, text in zip(keys, texts, strict=True):
        if key not in cache.vectors and key not in missing:
            missing[key] = text
    todo = list(missing.items())
    with tqdm(
        total=len(todo), desc=desc, unit="text", disable=not sys.stderr.isatty(), file=sys.stderr
    ) as bar:
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start : start + CHUNK]
            vectors = np.asarray(encoder.embed([t for _, t in chunk]), dtype=np.float32)
            for (key, _), vec in zip(chunk, vectors, strict=True):
                cache.vectors[key] = vec
            cache.dirty = True
            bar.update(len(chunk))
            if start // CHUNK % 8 == 7:
                cache.save()  # an interrupted run keeps what it embedded
    cache.save()
    if not texts:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    return np.stack([cache.vectors[k] for k in keys]).astype(np.float32)
