"""CLIP on ONNX Runtime: both towers, preprocessing and tokenising without torch or open_clip.

``export_onnx`` (:func:`mlverify.onnx_export.export_clip`) writes, in
``BUYHIVE_MODEL_DIR/onnx/clip/``, the image and text towers, CLIP's BPE vocabulary and
``serving.json``: what the torch bundle knew and the towers do not (the eval transform's size,
mean and std, the tokenizer's context length, the logit scale, the model's label and
version). :func:`load_onnx_towers` opens them, and
:func:`~mlverify.clip.loading.load_serving_clip` builds a bundle from those files alone, so a
production image needs neither the 577 MB weights file nor torch: the scores, cache keys and
labels are the ones the torch bundle of the same weights gives (the version is the weights'
fingerprint).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlverify.clip.encoding import used_length
from mlverify.clip.preprocess import PreprocessConfig, preprocess_batch
from mlverify.clip.tokenizer import BPE_FILENAME, ClipTokenizer
from mlverify.inference import ModelUnavailable
from mlverify.onnx_runtime import ExportedModel, open_session, sha256_file

if TYPE_CHECKING:
    import onnxruntime
    from PIL import Image as PILImage

SERVING_NAME = "serving.json"
SERVING_FORMAT = "buyhive-clip-serving/1"


@dataclass
class OnnxClipTowers:
    """The two exported towers with their numpy preprocessing and tokenizer."""

    image_session: onnxruntime.InferenceSession
    text_session: onnxruntime.InferenceSession
    tokenizer: ClipTokenizer
    preprocess: PreprocessConfig
    variants: dict[str, str]  # tower -> "fp32" / "int8", for the label
    # The text graph takes any length (serving.json "text_length": "dynamic"): run only up to
    # the batch's last end-of-text token. An export without it has a fixed 77-token input.
    text_dynamic: bool = False

    def encode_images(self, images: Sequence[PILImage.Image]) -> np.ndarray:
        pixels = preprocess_batch(images, self.preprocess)
        out = self.image_session.run(None, {"pixels": pixels})[0]
        return np.asarray(out, dtype=np.float32)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        tokens = self.tokenizer(list(texts))
        if self.text_dynamic:
            tokens = np.ascontiguousarray(tokens[:, : used_length(tokens)])
        out = self.text_session.run(None, {"tokens": tokens})[0]
        return np.asarray(out, dtype=np.float32)


def read_serving(clip_dir: Path) -> dict[str, Any] | None:
    """``serving.json`` of an export, or None when absent or not ours."""
    try:
        data = json.loads((clip_dir / SERVING_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != SERVING_FORMAT:
        return None
    return data


def load_onnx_towers(
    image: ExportedModel, text: ExportedModel, serving: dict[str, Any], *, threads: int = 1
) -> OnnxClipTowers:
    """Open both exported towers with their preprocessing and tokenizer;
    :class:`ModelUnavailable` when a file is corrupt or the towers are of two models."""
    clip_dir = image.path.parent
    bpe = clip_dir / str(serving.get("bpe", {}).get("path") or BPE_FILENAME)
    expected = str(serving.get("bpe", {}).get("sha256") or "")
    if not bpe.is_file() or (expected and sha256_file(bpe) != expected):
        raise ModelUnavailable(f"CLIP ONNX export in {clip_dir} is corrupt: {bpe.name} missing")
    if not serving.get("version") == image.source_fingerprint == text.source_fingerprint:
        raise ModelUnavailable(f"CLIP ONNX export in {clip_dir} is corrupt: towers of two models")
    try:
        config = PreprocessConfig(
            image_size=int(serving["image_size"]),
            mean=tuple(float(v) for v in serving["mean"]),  # type: ignore[arg-type]
            std=tuple(float(v) for v in serving["std"]),  # type: ignore[arg-type]
            interpolation=str(serving.get("interpolation", "bicubic")),
            resize_mode=str(serving.get("resize_mode", "shortest")),
        )
        config.check()
        tokenizer = ClipTokenizer(bpe, context_length=int(serving["context_length"]))
        float(serving["logit_scale"])
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise ModelUnavailable(
            f"CLIP ONNX export in {clip_dir} is corrupt: {type(exc).__name__}: {exc}"[:300]
        ) from exc
    return OnnxClipTowers(
        image_session=open_session(image, threads=threads),
        text_session=open_session(text, threads=threads),
        tokenizer=tokenizer,
        preprocess=config,
        variants={"image": image.variant, "text": text.variant},
        text_dynamic=serving.get("text_length") == "dynamic",
    )
