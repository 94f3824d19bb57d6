"""Build CLIP from a local weights file, or say exactly why it cannot be built.

:func:`load_clip` never returns randomly initialised weights and never reaches a model hub;
the web process only reads files that ``manage.py download_models`` (:mod:`mlverify.hub`)
put in place and described in :data:`WEIGHTS_METADATA_NAME`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from mlverify.clip.config import ClipConfig
from mlverify.clip.encoding import NEGATIVE_PROMPTS, can_trim_text, encode_texts
from mlverify.clip.preprocess import preprocess
from mlverify.inference import ModelUnavailable

logger = structlog.get_logger(__name__)

WEIGHTS_METADATA_NAME = "open_clip_metadata.json"  # written by download_models next to the weights


@dataclass
class ClipBundle:
    """A loaded CLIP model with what scoring needs next to it."""

    model: Any  # open_clip CLIP module, eval mode
    preprocess: Callable[[Any], Any]  # PIL image -> tensor [3, H, W]
    tokenizer: Callable[[list[str]], Any]
    model_name: str
    weights_path: Path
    version: str  # model name + weights fingerprint: part of every cache key
    label: str  # what the API reports as "model"
    logit_scale: float
    negatives: np.ndarray = field(repr=False)  # [len(NEGATIVE_PROMPTS), dim], L2-normalised
    dim: int = 0
    trim_text: bool = False  # encode only the used tokens (checked equal at load)
    image_size: int = 0  # the model's input side (224 for ViT-B-32); 0: unknown
    # The ONNX Runtime towers (mlverify.clip.onnx_serving) when served without torch; then
    # ``model`` is None and encoding.py runs these instead.
    onnx: Any = None
    # The weights' own version when ``version`` is an int8 export's (its calibration applies).
    weights_version: str = ""


def _ensure_offline() -> None:
    """open_clip and huggingface_hub must never reach a hub from the web process."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def read_weights_metadata(weights: Path) -> dict[str, Any] | None:
    """The JSON ``download_models`` writes beside the weights, if any (None when absent/bad)."""
    path = weights.parent / WEIGHTS_METADATA_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("file") not in (None, weights.name):
        return None
    return data


def weights_fingerprint(path: Path) -> str:
    """A cheap, stable fingerprint of a weights file (12 hex chars).

    Hashing all 600 MB would add about a second to every cold start, so this hashes the size,
    the first and the last MiB. It changes whenever the file is replaced by other weights,
    which is what cache keys and calibration files need.
    """
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as fh:
        digest.update(fh.read(1 << 20))
        if size > 2 << 20:
            fh.seek(-(1 << 20), os.SEEK_END)
            digest.update(fh.read(1 << 20))
    return digest.hexdigest()[:12]


def _check_safetensors(path: Path) -> None:
    """Validate the header and the byte coverage before open_clip touches the file."""
    # Part of the ML stack, like torch: imported on first load, so importing mlverify stays light.
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            if not list(handle.keys()):
                raise ModelUnavailable(f"CLIP weights at {path} are corrupt: no tensors")
    except SafetensorError as exc:
        raise ModelUnavailable(f"CLIP weights at {path} are corrupt: {exc}") from exc


def _resolve_weights(config: ClipConfig) -> tuple[str, str | None, Path]:
    """Return (open_clip model name, pretrained argument, weights file), or raise."""
    name = config.model_name.strip()
    if not name:
        raise ModelUnavailable("CLIP_MODEL is empty")
    if name.startswith("hf-hub:"):
        raise ModelUnavailable(
            f"CLIP_MODEL {name!r} would download from a model hub; use a local model name "
            "and CLIP_WEIGHTS (run manage.py download_models)"
        )
    if name.startswith("local-dir:"):
        folder = Path(name.removeprefix("local-dir:"))
        weights = folder / "open_clip_model.safetensors"
        if not (folder / "open_clip_config.json").is_file() or not weights.is_file():
            raise ModelUnavailable(
                f"CLIP weights not found at {weights} (with open_clip_config.json); "
                "run manage.py download_models"
            )
        return name, None, weights
    if config.weights is None or str(config.weights).strip() in ("", "."):
        raise ModelUnavailable("CLIP_WEIGHTS is not set; run manage.py download_models")
    weights = Path(config.weights)
    if not weights.is_file():
        raise ModelUnavailable(
            f"CLIP weights not found at {weights}; run manage.py download_models"
        )
    return name, str(weights), weights


def weights_identity(name: str, weights: Path) -> tuple[str, str, str]:
    """(version, label, model label) of a weights file, without building the model: the
    version is part of every cache key and of the calibration, for torch and ONNX alike."""
    metadata = read_weights_metadata(weights)
    version_id = (
        str(metadata["sha256"])[:12] if metadata and metadata.get("sha256") else None
    ) or weights_fingerprint(weights)
    model_label = name.removeprefix("local-dir:").rstrip("/").split("/")[-1]
    source = (metadata or {}).get("variant")
    label = f"open_clip {model_label}" + (f" {source}" if source else "") + f" @{version_id}"
    return f"{model_label}@{version_id}", label, model_label


def _image_side(model: Any) -> int:
    """open_clip's ``visual.image_size`` (an int or a pair) as one side; 0 when unknown."""
    size = getattr(getattr(model, "visual", None), "image_size", None)
    if isinstance(size, int) and size > 0:
        return size
    if isinstance(size, tuple | list) and size and all(isinstance(v, int) for v in size):
        return max(1, min(size))
    return 0


def load_serving_clip(config: ClipConfig) -> ClipBundle:
    """The CLIP the web process serves: ONNX Runtime or torch, per ``config.runtime``.

    ``onnx`` serves the export in ``model_dir/onnx/clip`` (made by ``export_onnx``) and never
    imports torch or open_clip; the weights file need not be there (a production image ships
    the export only), but when it is, an export made from other weights is refused as stale.
    ``auto`` takes that export when it is present and current (or the weights are absent),
    torch otherwise; ``torch`` always builds the open_clip model.
    """
    from mlverify import onnx_runtime
    from mlverify.clip import onnx_serving

    runtime = config.runtime
    if runtime not in onnx_runtime.RUNTIMES:
        raise ModelUnavailable(
            f"MODEL_RUNTIME must be one of {', '.join(onnx_runtime.RUNTIMES)}, not {runtime!r}"
        )
    if runtime == "torch" or config.model_dir is None:
        return load_clip(config)
    source: str | None = None
    weights_reason: str | None = None
    try:
        name, _, weights = _resolve_weights(config)
        source = weights_identity(name, weights)[0]
    except ModelUnavailable as missing:
        weights_reason = missing.reason  # the export alone can serve
    root = onnx_runtime.onnx_dir(config.model_dir)
    image = onnx_runtime.find_export(root, onnx_runtime.CLIP_IMAGE_KEY, source_fingerprint=source)
    text = onnx_runtime.find_export(root, onnx_runtime.CLIP_TEXT_KEY, source_fingerprint=source)
    serving = onnx_serving.read_serving(root / "clip")
    if image is None or text is None or serving is None:
        if runtime == "auto":
            return load_clip(config)  # torch; without weights it says why, as before
        what = "missing" if weights_reason else "missing or stale (made from other weights)"
        raise ModelUnavailable(
            f"CLIP ONNX export {what} in {root} (MODEL_RUNTIME=onnx); run manage.py "
            "export_onnx" + (f"; {weights_reason}" if weights_reason else "")
        )
    towers = onnx_serving.load_onnx_towers(image, text, serving, threads=config.num_threads)
    # fp32 scores equal torch's (cosine >= 0.999, checked at export), so they share torch's
    # cached embeddings and calibration; an int8 tower gets a version, and a cache, of its own,
    # and keeps the weights' calibration (export_onnx served it only if no decision flipped).
    version = str(serving["version"])
    if "int8" in (image.variant, text.variant):
        version += f"+onnx-{image.variant}-{text.variant}"
    label = str(serving.get("label") or serving["version"])
    bundle = ClipBundle(
        model=None,
        preprocess=functools.partial(preprocess, config=towers.preprocess),  # numpy, no torch
        tokenizer=towers.tokenizer,
        model_name=str(serving.get("model_name") or config.model_name),
        weights_path=image.path,
        version=version,
        label=f"{label} (onnx {image.variant}/{text.variant})",
        logit_scale=min(float(serving["logit_scale"]), 100.0),
        negatives=towers.encode_texts(list(NEGATIVE_PROMPTS)),
        image_size=towers.preprocess.image_size,
        onnx=towers,
        weights_version=str(serving["version"]),
    )
    bundle.dim = int(bundle.negatives.shape[1])
    logger.info("clip_loaded", model=bundle.label, runtime="onnx", threads=config.num_threads)
    return bundle


def load_clip(config: ClipConfig) -> ClipBundle:
    """Build CLIP from local files, or raise :class:`ModelUnavailable` with the reason.

    Never returns randomly initialised weights: open_clip builds random weights when
    ``pretrained`` is empty, so the file is required and ``require_pretrained=True`` is passed.
    """
    _ensure_offline()
    name, pretrained, weights = _resolve_weights(config)
    if weights.stat().st_size == 0:
        raise ModelUnavailable(f"CLIP weights at {weights} are corrupt: the file is empty")
    if weights.suffix == ".safetensors":
        _check_safetensors(weights)
    metadata = read_weights_metadata(weights)
    if metadata:
        expected_name = metadata.get("model_name")
        size = metadata.get("size")
        if isinstance(size, int) and size != weights.stat().st_size:
            raise ModelUnavailable(
                f"CLIP weights at {weights} are corrupt: {weights.stat().st_size} bytes, "
                f"download_models recorded {size}"
            )
        if expected_name and not name.startswith("local-dir:") and expected_name != name:
            # torch and open_clip are heavy (seconds, hundreds of MB): imported on first load only.
            # OpenAI's weights load into "ViT-B-32" without an error but score wrongly: they
            # need QuickGELU ("ViT-B-32-quickgelu").
            raise ModelUnavailable(
                f"CLIP weights at {weights} are for {expected_name!r} but CLIP_MODEL is "
                f"{name!r}; set CLIP_MODEL={expected_name}"
            )

    # torch and open_clip are heavy (seconds, hundreds of MB): imported on the first load only.
    import open_clip
    import torch

    torch.set_num_threads(max(1, config.num_threads))
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            name, pretrained=pretrained, require_pretrained=True, device="cpu"
        )
    except FileNotFoundError as exc:
        raise ModelUnavailable(f"CLIP weights not found: {exc}") from exc
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}"
        if "safetensor" in type(exc).__module__.lower():
            raise ModelUnavailable(f"CLIP weights at {weights} are corrupt: {text}"[:300]) from exc
        raise ModelUnavailable(
            f"load error: model {name} could not be built from {weights}: {text}"[:300]
        ) from exc
    model.eval()
    with torch.inference_mode():
        for param in model.parameters():
            # A NaN or infinity anywhere makes the float64 sum non-finite; one pass, no copy.
            if not bool(torch.isfinite(param.sum(dtype=torch.float64))):
                raise ModelUnavailable(
                    f"CLIP weights at {weights} are corrupt: they hold NaN or infinite values"
                )
    tokenizer = open_clip.get_tokenizer(name)
    if type(tokenizer).__name__ != "SimpleTokenizer" and not name.startswith("local-dir:"):
        # HF tokenizers resolve by hub id; only the bundled BPE vocabulary is known offline.
        raise ModelUnavailable(f"CLIP model {name} needs a hub tokenizer; not supported offline")

    version, label, _ = weights_identity(name, weights)
    logit_scale = float(model.logit_scale.exp().item())
    bundle = ClipBundle(
        model=model,
        preprocess=preprocess,
        tokenizer=tokenizer,
        model_name=name,
        weights_path=weights,
        version=version,
        label=label,
        logit_scale=min(logit_scale, 100.0),
        negatives=np.zeros((0, 0), dtype=np.float32),
        image_size=_image_side(model),
    )
    bundle.negatives = encode_texts(bundle, list(NEGATIVE_PROMPTS))
    bundle.dim = int(bundle.negatives.shape[1])
    if can_trim_text(model):
        bundle.trim_text = True
        trimmed = encode_texts(bundle, list(NEGATIVE_PROMPTS))
        if np.allclose(trimmed, bundle.negatives, atol=1e-4):
            bundle.negatives = trimmed
        else:
            bundle.trim_text = False
            logger.warning("clip_text_trim_disabled", model=name)
    logger.info("clip_loaded", model=label, weights=str(weights), threads=config.num_threads)
    return bundle
