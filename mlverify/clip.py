"""CLIP image verification: does this image show the named product?

The pieces, in the order a request meets them:

* :func:`load_clip` builds the open_clip model from a LOCAL weights file only. A missing,
  corrupt or mismatched file raises :class:`~mlverify.loading.ModelUnavailable` with a reason
  an operator can act on; it never falls back to random weights and never reaches a hub.
* :func:`fetch_image_bytes` fetches through the project's safe outbound client (image content
  types only, at most 5 MB) and :func:`decode_image` decodes with Pillow behind the
  decompression-bomb guard. Either failing raises :class:`~buyhive.exceptions.ImageFetchFailed`.
* :class:`ClipService` scores the image against the product name and a few generic negatives
  (softmax over CLIP's scaled similarities; the score is the product's probability), caches the
  image embedding by URL, the text embedding by name and the score by (URL, name), all keyed by
  the model version, and runs the model on a worker thread with a timeout so a hung model never
  pins a web worker.
* When CLIP is unavailable, :meth:`ClipService.best_image` ranks candidates by the MiniLM
  similarity of their alt text or file name to the product name (``method="text"``).

The module-level :func:`verify_image` and :func:`best_image` are what the API and extraction
call; they build a :class:`ClipService` from Django settings and the registry's loader.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import threading
import time
import unicodedata
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

import numpy as np
import structlog

from buyhive.cache import cache_get, cache_set
from buyhive.exceptions import ImageFetchFailed, ValidationFailed
from mlverify.checks import CheckResult
from mlverify.loading import LazyModel, ModelUnavailable

if TYPE_CHECKING:
    from PIL import Image as PILImage

logger = structlog.get_logger(__name__)

T = TypeVar("T")

MAX_IMAGE_BYTES = 5 * 1024 * 1024
# 40 megapixels covers any real product photo (8000 x 5000); a larger image is refused before
# its pixels are decoded. Pillow's own guard (MAX_IMAGE_PIXELS) stays on as a second line.
MAX_IMAGE_PIXELS = 40_000_000
WEIGHTS_METADATA_NAME = "open_clip_metadata.json"  # written by download_models next to the weights

# Prompt ensembling (CLIP paper, sec. 3.1.4): the product class is the mean of these prompts.
PRODUCT_TEMPLATES: tuple[str, ...] = (
    "a photo of {}.",
    "a product photo of {}.",
    "{}",
)
# Generic images that sit on shop pages but are not the product. The score is the product's
# share of the probability against these, so a logo or a banner scores low for any name.
NEGATIVE_PROMPTS: tuple[str, ...] = (
    "a close-up portrait photo of a person's face.",
    "a company logo.",
    "a screenshot of a web page.",
    "a banner advertisement with text.",
    "a blank white image.",
    "a small icon.",
    "a placeholder image.",
)


# ----------------------------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------------------------


def _repo_dir() -> Path:
    return Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ClipConfig:
    """Everything the CLIP check needs, read from settings by :meth:`from_settings`."""

    model_name: str = "ViT-B-32"
    weights: Path | None = None  # None with a ``local-dir:`` model name (weights in that folder)
    threshold: float = 0.5
    calibration_file: Path | None = None
    num_threads: int = 1
    inference_timeout: float = 10.0
    cache_timeout: int = 7 * 24 * 3600
    max_image_bytes: int = MAX_IMAGE_BYTES
    max_image_pixels: int = MAX_IMAGE_PIXELS
    max_candidates: int = 8
    text_fallback_threshold: float = 0.5

    @classmethod
    def from_settings(cls) -> ClipConfig:
        from django.conf import settings

        model_dir = Path(getattr(settings, "BUYHIVE_MODEL_DIR", None) or _repo_dir() / "var/models")
        model_name = str(getattr(settings, "CLIP_MODEL", None) or "ViT-B-32")
        weights = getattr(settings, "CLIP_WEIGHTS", None) or model_dir / "clip" / (
            "open_clip_model.safetensors"
        )
        calibration = getattr(settings, "CLIP_CALIBRATION_FILE", None) or (
            model_dir / "clip" / "calibration.json"
        )
        return cls(
            model_name=model_name,
            weights=None if model_name.startswith("local-dir:") else Path(weights),
            threshold=float(getattr(settings, "CLIP_THRESHOLD", 0.5)),
            calibration_file=Path(calibration),
            num_threads=int(getattr(settings, "ML_NUM_THREADS", 1)),
            inference_timeout=float(getattr(settings, "ML_INFERENCE_TIMEOUT", 10.0)),
            cache_timeout=int(getattr(settings, "ML_CACHE_TIMEOUT", 7 * 24 * 3600)),
            max_image_bytes=int(getattr(settings, "CLIP_MAX_IMAGE_BYTES", MAX_IMAGE_BYTES)),
            max_image_pixels=int(getattr(settings, "CLIP_MAX_IMAGE_PIXELS", MAX_IMAGE_PIXELS)),
            max_candidates=int(getattr(settings, "CLIP_MAX_CANDIDATES", 8)),
            text_fallback_threshold=float(getattr(settings, "CLIP_TEXT_FALLBACK_THRESHOLD", 0.5)),
        )


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------


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
            # OpenAI's weights load into "ViT-B-32" without an error but score wrongly: they
            # need QuickGELU ("ViT-B-32-quickgelu").
            raise ModelUnavailable(
                f"CLIP weights at {weights} are for {expected_name!r} but CLIP_MODEL is "
                f"{name!r}; set CLIP_MODEL={expected_name}"
            )

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

    version_id = (
        str(metadata["sha256"])[:12] if metadata and metadata.get("sha256") else None
    ) or weights_fingerprint(weights)
    model_label = name.removeprefix("local-dir:").rstrip("/").split("/")[-1]
    source = (metadata or {}).get("variant")
    label = f"open_clip {model_label}" + (f" {source}" if source else "") + f" @{version_id}"
    logit_scale = float(model.logit_scale.exp().item())
    bundle = ClipBundle(
        model=model,
        preprocess=preprocess,
        tokenizer=tokenizer,
        model_name=name,
        weights_path=weights,
        version=f"{model_label}@{version_id}",
        label=label,
        logit_scale=min(logit_scale, 100.0),
        negatives=np.zeros((0, 0), dtype=np.float32),
    )
    bundle.negatives = encode_texts(bundle, list(NEGATIVE_PROMPTS))
    bundle.dim = int(bundle.negatives.shape[1])
    if _can_trim_text(model):
        bundle.trim_text = True
        trimmed = encode_texts(bundle, list(NEGATIVE_PROMPTS))
        if np.allclose(trimmed, bundle.negatives, atol=1e-4):
            bundle.negatives = trimmed
        else:
            bundle.trim_text = False
            logger.warning("clip_text_trim_disabled", model=name)
    logger.info("clip_loaded", model=label, weights=str(weights), threads=config.num_threads)
    return bundle


# ----------------------------------------------------------------------------------------------
# Encoding and scoring (pure functions of a loaded bundle)
# ----------------------------------------------------------------------------------------------


def encode_images(bundle: ClipBundle, images: Sequence[PILImage.Image]) -> np.ndarray:
    """Preprocess and encode images as one batch: [n, dim] float32, L2-normalised."""
    import torch

    from buyhive import metrics

    started = time.perf_counter()
    with torch.inference_mode():
        batch = torch.stack([bundle.preprocess(image) for image in images])
        features = bundle.model.encode_image(batch, normalize=True)
    metrics.record_inference(
        model="clip-image", seconds=time.perf_counter() - started, batch_size=len(images)
    )
    return features.float().numpy().astype(np.float32, copy=False)


def _encode_text_trimmed(model: Any, tokens: Any) -> Any:
    """open_clip's ``CLIP.encode_text`` over the used tokens only, instead of all 77.

    The text tower is causal: the end-of-text token (where the embedding is pooled) never
    sees the padding after it, so cutting the padding off gives the same embedding for a
    fraction of the work (a product name is ~10 tokens). :func:`load_clip` checks this
    equality on the loaded model and falls back to ``encode_text`` if it does not hold.
    """
    import torch
    from open_clip.transformer import text_global_pool

    length = max(1, int((tokens != 0).sum(dim=1).max()))
    tokens = tokens[:, :length]
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast_dtype)
    x = x + model.positional_embedding[:length].to(cast_dtype)
    x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
    x = model.ln_final(x)
    x = text_global_pool(x, tokens, model.text_pool_type, eos_token_id=model.text_eos_id)
    if model.text_projection is not None:
        if isinstance(model.text_projection, torch.nn.Linear):
            x = model.text_projection(x)
        else:
            x = x @ model.text_projection
    return torch.nn.functional.normalize(x, dim=-1)


def _can_trim_text(model: Any) -> bool:
    """Only open_clip's plain CLIP with a causal mask and EOT pooling is trimmed."""
    return (
        type(model).__name__ == "CLIP"
        and getattr(model, "text_pool_type", None) in ("argmax", "eos")
        and getattr(model, "attn_mask", None) is not None
        and all(hasattr(model, a) for a in ("token_embedding", "positional_embedding", "ln_final"))
    )


def encode_texts(bundle: ClipBundle, texts: Sequence[str]) -> np.ndarray:
    """Encode texts as one batch: [n, dim] float32, L2-normalised."""
    import torch

    with torch.inference_mode():
        tokens = bundle.tokenizer(list(texts))
        if bundle.trim_text:
            features = _encode_text_trimmed(bundle.model, tokens)
        else:
            features = bundle.model.encode_text(tokens, normalize=True)
    return features.float().numpy().astype(np.float32, copy=False)


def product_embedding(bundle: ClipBundle, name: str) -> np.ndarray:
    """The product class: the re-normalised mean of its prompt embeddings, [dim]."""
    prompts = [template.format(name) for template in PRODUCT_TEMPLATES]
    mean = encode_texts(bundle, prompts).mean(axis=0)
    norm = float(np.linalg.norm(mean)) or 1.0
    return (mean / norm).astype(np.float32)


def match_probability(bundle: ClipBundle, image_emb: np.ndarray, product_emb: np.ndarray) -> float:
    """Softmax over [product, negatives...] of CLIP's scaled cosine similarities; P(product)."""
    classes = np.vstack([product_emb[None, :], bundle.negatives])
    logits = bundle.logit_scale * (classes @ image_emb)
    logits = logits - logits.max()
    probs = np.exp(logits)
    return float(probs[0] / probs.sum())


def normalise_name(name: str) -> str:
    """NFKC, collapsed whitespace, casefolded: the cache key and the prompt text."""
    text = unicodedata.normalize("NFKC", name or "")
    return " ".join(text.split()).casefold()[:300]


def filename_text(url: str) -> str:
    """Words of an image URL's file name: "red-leather-boot_800x600.jpg" -> "red leather boot"."""
    stem = PurePosixPath(unquote(urlsplit(url).path)).stem
    words = []
    for word in re.split(r"[\s\-_+.,;:()\[\]]+", stem):
        if not word or word.isdigit() or re.fullmatch(r"\d+x\d+|[0-9a-f]{8,}|v\d+", word, re.I):
            continue
        words.append(word)
    return " ".join(words)


# ----------------------------------------------------------------------------------------------
# Images: fetch through the safe client, decode behind the bomb guard
# ----------------------------------------------------------------------------------------------


def fetch_image_bytes(url: str, *, max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """Fetch an image through the safe outbound client; any refusal is ImageFetchFailed."""
    from buyhive.http import OutboundRequestError, get_client

    try:
        response = get_client().get(url, allowed_content_types=("image/",), max_bytes=max_bytes)
    except OutboundRequestError as exc:
        # The client's messages are safe to show (no addresses or internals).
        message = getattr(exc, "message", None) or "The address could not be fetched."
        status_code = getattr(exc, "status_code", None)
        if status_code:
            message = f"{message.rstrip('.')} (HTTP {status_code})."
        logger.info("image_fetch_refused", reason=getattr(exc, "reason", None), status=status_code)
        raise ImageFetchFailed(f"The image could not be fetched: {message}") from exc
    status = int(getattr(response, "status_code", 200))
    if not 200 <= status < 300:
        raise ImageFetchFailed(f"The image could not be fetched: HTTP {status}")
    content = bytes(response.content or b"")
    if not content:
        raise ImageFetchFailed("The image could not be fetched: empty response")
    if len(content) > max_bytes:
        raise ImageFetchFailed(f"The image could not be fetched: larger than {max_bytes} bytes")
    return content


def decode_image(data: bytes, *, max_pixels: int = MAX_IMAGE_PIXELS) -> PILImage.Image:
    """Decode to RGB, refusing bombs, truncated files and non-images (ImageFetchFailed).

    The size is checked from the header before any pixel is decoded; Pillow's own
    DecompressionBombWarning is raised as an error. Transparent images are flattened onto
    white, as shops show them, instead of Pillow's black.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                probe.verify()
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width <= 0 or height <= 0 or width * height > max_pixels:
                raise ImageFetchFailed(
                    f"The image is too large to check ({width}x{height} pixels; "
                    f"the limit is {max_pixels})."
                )
            if getattr(image, "n_frames", 1) > 1:
                image.seek(0)
            image.load()
    except ImageFetchFailed:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageFetchFailed(f"The image is too large to check: {exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageFetchFailed(f"The file is not a readable image: {type(exc).__name__}") from exc
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


# ----------------------------------------------------------------------------------------------
# Timeouts: inference runs on a worker thread
# ----------------------------------------------------------------------------------------------


class InferenceTimeout(Exception):
    """The model did not answer within ML_INFERENCE_TIMEOUT."""


# One worker: with one torch thread per process, running inferences side by side only slows
# both. A request whose turn does not come within the timeout answers "unavailable: timeout".
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlverify-clip")


_worker_state = threading.local()


def _in_worker(fn: Callable[[], T], threads: int | None) -> T:
    # torch's intra-op thread count is per OS thread (a value set on the request thread does
    # not reach this one), so the inference thread sets its own before running models.
    if threads is not None and getattr(_worker_state, "threads", None) != threads:
        import torch

        torch.set_num_threads(max(1, threads))
        _worker_state.threads = threads
    return fn()


def run_with_timeout(fn: Callable[[], T], timeout: float, *, threads: int | None = None) -> T:
    """Run ``fn`` on the inference thread; raise InferenceTimeout after ``timeout`` seconds."""
    future = _executor.submit(_in_worker, fn, threads)
    try:
        return future.result(timeout=timeout)
    except FutureTimeout as exc:
        future.cancel()  # drops it if it has not started; a running call finishes unobserved
        raise InferenceTimeout(f"no answer within {timeout:g} s") from exc


# ----------------------------------------------------------------------------------------------
# Calibration
# ----------------------------------------------------------------------------------------------

_calibration_lock = threading.Lock()
_calibration_cache: dict[str, tuple[float, dict[str, Any] | None]] = {}


def read_calibration(path: Path | None) -> dict[str, Any] | None:
    """The calibration JSON written by ``calibrate_clip`` (re-read when its mtime changes)."""
    if path is None:
        return None
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    key = str(path)
    with _calibration_lock:
        cached = _calibration_cache.get(key)
        if cached and cached[0] == mtime:
            return cached[1]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("threshold"), int | float):
            raise ValueError("no numeric threshold")
    except (OSError, ValueError) as exc:
        logger.warning("clip_calibration_unreadable", path=key, error=str(exc))
        data = None
    with _calibration_lock:
        _calibration_cache[key] = (mtime, data)
    return data


class LocalScores:
    """A small per-process LRU of scores in front of the shared cache.

    A repeat check then costs a dictionary lookup instead of a Redis round trip (which, on a
    busy 2-core machine, waits for the Redis process to be scheduled). Same keys and TTL as
    the shared cache; bounded; cleared by :func:`mlverify.registry.reset_models`.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def get(self, key: str) -> float | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] < time.monotonic():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return item[1]

    def set(self, key: str, score: float, ttl: float) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + ttl, score)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


local_scores = LocalScores()


def clear_calibration_cache() -> None:
    with _calibration_lock:
        _calibration_cache.clear()


def resolve_threshold(config: ClipConfig, model_version: str) -> tuple[float, bool]:
    """(threshold, calibrated): the calibration file's, when it was made for this model."""
    data = read_calibration(config.calibration_file)
    if data is not None:
        if data.get("model_version") == model_version:
            return float(data["threshold"]), True
        logger.warning(
            "clip_calibration_for_other_model",
            path=str(config.calibration_file),
            calibrated_for=data.get("model_version"),
            loaded=model_version,
        )
    return float(config.threshold), False


# ----------------------------------------------------------------------------------------------
# The service
# ----------------------------------------------------------------------------------------------


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Candidate:
    url: str
    alt: str = ""


def normalise_candidates(
    candidates: Iterable[str | Mapping[str, Any]], *, limit: int
) -> list[Candidate]:
    """Accept URLs or ``{"url", "alt"?}`` dicts; drop blanks and duplicates; keep the first N."""
    seen: set[str] = set()
    out: list[Candidate] = []
    for item in candidates:
        if isinstance(item, str):
            url, alt = item, ""
        elif isinstance(item, Mapping):
            url, alt = str(item.get("url") or ""), str(item.get("alt") or "")
        else:
            continue
        url = url.strip()
        if not url or url in seen:
            continue
        seen.add(url)
        out.append(Candidate(url=url, alt=" ".join(alt.split())[:300]))
        if len(out) >= limit:
            break
    return out


class ClipService:
    """Image checks for one configuration, one model holder and one cache.

    Cached values, all keyed by the model version so new weights never reuse old answers:
    the image embedding by URL (a new product name on the same image skips fetch and encode),
    the product embedding by normalised name, and the score by (URL, name). The threshold is
    applied when answering, so a new calibration takes effect on cached scores too.
    """

    def __init__(self, *, config: ClipConfig, model: LazyModel[ClipBundle], cache: Any) -> None:
        self.config = config
        self.model = model
        self.cache = cache

    # -- cache helpers (a cache outage is a miss, never an error) --

    def _score_get(self, key: str) -> float | None:
        local = local_scores.get(key)
        if local is not None:
            return local
        cached = self._cache_get(key)
        if isinstance(cached, float):
            local_scores.set(key, cached, self.config.cache_timeout)
            return cached
        return None

    def _score_set(self, key: str, score: float) -> None:
        local_scores.set(key, score, self.config.cache_timeout)
        self._cache_set(key, score)

    def _cache_get(self, key: str) -> Any:
        return cache_get(key, backend=self.cache, event="mlverify_cache_get_failed")

    def _cache_set(self, key: str, value: Any) -> None:
        cache_set(
            key,
            value,
            self.config.cache_timeout,
            backend=self.cache,
            event="mlverify_cache_set_failed",
        )

    def _get_vector(self, key: str, dim: int) -> np.ndarray | None:
        raw = self._cache_get(key)
        if not isinstance(raw, bytes | bytearray) or len(raw) != dim * 4:
            return None
        return np.frombuffer(bytes(raw), dtype=np.float32)

    def _set_vector(self, key: str, vector: np.ndarray) -> None:
        self._cache_set(key, np.asarray(vector, dtype=np.float32).tobytes())

    @staticmethod
    def _image_key(version: str, url: str) -> str:
        return f"mlverify:clip:img:{version}:{_digest(url)}"

    @staticmethod
    def _text_key(version: str, name: str) -> str:
        return f"mlverify:clip:txt:{version}:{_digest(name)}"

    @staticmethod
    def _score_key(version: str, url: str, name: str) -> str:
        return f"mlverify:clip:score:{version}:{_digest(url)}:{_digest(name)}"

    # -- model access --

    def _bundle(self) -> ClipBundle:
        """The loaded model (loading it on the inference thread, under the timeout)."""
        if self.model.describe().state == "loaded":
            return self.model.get()
        return run_with_timeout(
            self.model.get, self.config.inference_timeout, threads=self.config.num_threads
        )

    def _unavailable(self, reason: str) -> CheckResult:
        return CheckResult.unavailable(reason, model=self.config.model_name, method="clip")

    def _result(self, bundle: ClipBundle, score: float) -> CheckResult:
        threshold, calibrated = resolve_threshold(self.config, bundle.version)
        return CheckResult(
            status="ok",
            value=score >= threshold,
            score=round(score, 4),
            threshold=threshold,
            method="clip",
            model=bundle.label,
            reason=None,
            calibrated=calibrated,
        )

    @staticmethod
    def _name_or_error(product_name: str) -> str:
        name = normalise_name(product_name)
        if not name:
            raise ValidationFailed(fields={"product_name": ["A product name is required."]})
        return name

    # -- public operations --

    def verify_image(self, *, image_url: str, product_name: str) -> CheckResult:
        """Does the image at ``image_url`` show ``product_name``?

        Raises ImageFetchFailed when the image cannot be fetched or decoded; answers
        ``status="unavailable"`` when CLIP cannot load or does not answer in time.
        """
        name = self._name_or_error(product_name)
        url = (image_url or "").strip()
        if not url:
            raise ValidationFailed(fields={"image_url": ["An image URL is required."]})
        try:
            bundle = self._bundle()
        except ModelUnavailable as exc:
            return self._unavailable(exc.reason)
        except InferenceTimeout:
            return self._unavailable("timeout")

        score_key = self._score_key(bundle.version, url, name)
        cached = self._score_get(score_key)
        if cached is not None:
            return self._result(bundle, cached)

        image_key = self._image_key(bundle.version, url)
        text_key = self._text_key(bundle.version, name)
        image_emb = self._get_vector(image_key, bundle.dim)
        text_emb = self._get_vector(text_key, bundle.dim)
        image = None
        if image_emb is None:
            image = decode_image(
                fetch_image_bytes(url, max_bytes=self.config.max_image_bytes),
                max_pixels=self.config.max_image_pixels,
            )

        def work() -> tuple[np.ndarray, np.ndarray]:
            if image_emb is not None:
                img = image_emb
            else:
                assert image is not None  # fetched above whenever the embedding was not cached
                img = encode_images(bundle, [image])[0]
            txt = text_emb if text_emb is not None else product_embedding(bundle, name)
            return img, txt

        try:
            new_image_emb, new_text_emb = run_with_timeout(
                work, self.config.inference_timeout, threads=self.config.num_threads
            )
        except InferenceTimeout:
            logger.warning("clip_inference_timeout", url=url)
            return self._unavailable("timeout")
        if image_emb is None:
            self._set_vector(image_key, new_image_emb)
        if text_emb is None:
            self._set_vector(text_key, new_text_emb)
        score = match_probability(bundle, new_image_emb, new_text_emb)
        self._score_set(score_key, score)
        return self._result(bundle, score)

    def best_image(
        self, *, candidates: Iterable[str | Mapping[str, Any]], product_name: str
    ) -> tuple[str | None, CheckResult]:
        """The candidate image that best shows ``product_name``, with its check.

        Candidates that cannot be fetched are skipped; ImageFetchFailed only when none can be.
        Uncached images are encoded as one batch. When CLIP is unavailable, candidates are
        ranked by the text similarity of their alt text or file name (``method="text"``).
        """
        name = self._name_or_error(product_name)
        cands = normalise_candidates(candidates, limit=self.config.max_candidates)
        if not cands:
            return None, CheckResult.unavailable("no candidate images", method="clip")
        try:
            bundle = self._bundle()
        except ModelUnavailable as exc:
            return self._best_by_text(cands, name, clip_reason=exc.reason)
        except InferenceTimeout:
            return self._best_by_text(cands, name, clip_reason="timeout")

        scores: dict[str, float] = {}
        embeddings: dict[str, np.ndarray] = {}
        to_encode: list[tuple[str, PILImage.Image]] = []
        failures: list[str] = []
        for cand in cands:
            cached = self._score_get(self._score_key(bundle.version, cand.url, name))
            if cached is not None:
                scores[cand.url] = cached
                continue
            emb = self._get_vector(self._image_key(bundle.version, cand.url), bundle.dim)
            if emb is not None:
                embeddings[cand.url] = emb
                continue
            try:
                data = fetch_image_bytes(cand.url, max_bytes=self.config.max_image_bytes)
                to_encode.append(
                    (cand.url, decode_image(data, max_pixels=self.config.max_image_pixels))
                )
            except ImageFetchFailed as exc:
                failures.append(exc.message)
                logger.info("best_image_candidate_skipped", url=cand.url, reason=exc.message)
        if not scores and not embeddings and not to_encode:
            raise ImageFetchFailed(
                f"None of the {len(cands)} candidate images could be fetched: {failures[0]}"
            )

        if embeddings or to_encode:
            text_key = self._text_key(bundle.version, name)
            text_emb = self._get_vector(text_key, bundle.dim)

            def work() -> tuple[np.ndarray | None, np.ndarray]:
                batch = encode_images(bundle, [img for _, img in to_encode]) if to_encode else None
                txt = text_emb if text_emb is not None else product_embedding(bundle, name)
                return batch, txt

            try:
                batch, new_text_emb = run_with_timeout(
                    work, self.config.inference_timeout, threads=self.config.num_threads
                )
            except InferenceTimeout:
                if scores:  # answer from what the cache already scored
                    best = max(scores, key=lambda u: scores[u])
                    return best, self._result(bundle, scores[best])
                return self._best_by_text(cands, name, clip_reason="timeout")
            if text_emb is None:
                self._set_vector(text_key, new_text_emb)
            if batch is not None:
                for (url, _), emb in zip(to_encode, batch, strict=True):
                    embeddings[url] = emb
                    self._set_vector(self._image_key(bundle.version, url), emb)
            for url, emb in embeddings.items():
                scores[url] = match_probability(bundle, emb, new_text_emb)
                self._score_set(self._score_key(bundle.version, url, name), scores[url])

        order = [c.url for c in cands if c.url in scores]
        best = max(order, key=lambda u: scores[u])  # ties keep the page's order
        return best, self._result(bundle, scores[best])

    def _best_by_text(
        self, cands: list[Candidate], name: str, *, clip_reason: str
    ) -> tuple[str | None, CheckResult]:
        """Rank by MiniLM similarity of alt text / file name to the name (CLIP unavailable)."""
        texts = [c.alt or filename_text(c.url) for c in cands]
        usable = [i for i, t in enumerate(texts) if t.strip()]
        if not usable:
            return None, CheckResult.unavailable(
                f"CLIP unavailable ({clip_reason}); the candidates have no alt text or "
                "file name to compare",
                method="text",
            )
        try:
            from mlverify import classifier

            similarity = classifier.text_similarity
        except (ImportError, AttributeError) as exc:
            return None, CheckResult.unavailable(
                f"CLIP unavailable ({clip_reason}); text fallback not installed: {exc}",
                method="text",
            )
        try:
            sims = run_with_timeout(
                lambda: similarity(name, [texts[i] for i in usable]),
                self.config.inference_timeout,
                threads=self.config.num_threads,
            )
        except ModelUnavailable as exc:
            return None, CheckResult.unavailable(
                f"CLIP unavailable ({clip_reason}); text fallback unavailable ({exc.reason})",
                method="text",
            )
        except InferenceTimeout:
            return None, CheckResult.unavailable(
                f"CLIP unavailable ({clip_reason}); text fallback: timeout", method="text"
            )
        values = [float(s) for s in sims]
        if len(values) != len(usable) or not all(math.isfinite(v) for v in values):
            return None, CheckResult.unavailable(
                f"CLIP unavailable ({clip_reason}); text fallback gave no usable scores",
                method="text",
            )
        model_label = _text_model_label(classifier)
        best_pos = max(range(len(usable)), key=lambda k: values[k])
        score = values[best_pos]
        threshold = self.config.text_fallback_threshold
        return cands[usable[best_pos]].url, CheckResult(
            status="ok",
            value=score >= threshold,
            score=round(score, 4),
            threshold=threshold,
            method="text",
            model=model_label,
            reason=f"CLIP unavailable: {clip_reason}",
            calibrated=False,
        )


def score_pairs(
    bundle: ClipBundle, pairs: Sequence[tuple[PILImage.Image, str]], *, batch: int = 16
) -> list[float]:
    """Scores of local (image, product name) pairs, uncached (calibrate_clip, bench)."""
    scores: list[float] = []
    text_cache: dict[str, np.ndarray] = {}
    for start in range(0, len(pairs), batch):
        chunk = pairs[start : start + batch]
        image_embs = encode_images(bundle, [img for img, _ in chunk])
        for (_, product), emb in zip(chunk, image_embs, strict=True):
            key = normalise_name(product)
            if key not in text_cache:
                text_cache[key] = product_embedding(bundle, key)
            scores.append(match_probability(bundle, emb, text_cache[key]))
    return scores


def choose_threshold(
    scores: Sequence[float], labels: Sequence[bool], *, metric: str = "f1"
) -> dict[str, Any]:
    """The threshold that maximises F1 (or Youden's J) on labelled scores.

    Candidates are the observed scores (predict "match" when score >= t). The returned
    threshold is the midpoint between the chosen score and the next lower one, which keeps
    the same decisions on this data but does not sit exactly on a training example. Ties on
    the metric are broken by the other metric, then by the higher threshold.
    """
    if len(scores) != len(labels) or not scores:
        raise ValueError("scores and labels must be non-empty and of equal length")
    if metric not in ("f1", "youden"):
        raise ValueError("metric must be 'f1' or 'youden'")
    positives = sum(1 for y in labels if y)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("calibration needs at least one matching and one non-matching pair")
    distinct = sorted(set(scores), reverse=True)
    best: tuple[tuple[float, float, float], dict[str, Any]] | None = None
    for index, cut in enumerate(distinct):
        tp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= cut and y)
        fp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= cut and not y)
        fn, tn = positives - tp, negatives - fp
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / positives
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        youden = recall - fp / negatives
        key = (f1, youden, cut) if metric == "f1" else (youden, f1, cut)
        if best is None or key > best[0]:
            lower = distinct[index + 1] if index + 1 < len(distinct) else None
            threshold = (cut + lower) / 2 if lower is not None else cut
            best = (
                key,
                {
                    "threshold": round(float(threshold), 6),
                    "metric": metric,
                    "precision": round(precision, 4),
                    "recall": round(recall, 4),
                    "f1": round(f1, 4),
                    "youden_j": round(youden, 4),
                    "accuracy": round((tp + tn) / len(labels), 4),
                    "tp": tp,
                    "fp": fp,
                    "fn": fn,
                    "tn": tn,
                },
            )
    assert best is not None
    return best[1]


def _text_model_label(classifier_module: Any) -> str:
    """What the text fallback reports as "model": the loaded encoder's name and version."""
    try:
        holder = classifier_module.get_text_encoder()
        if holder.describe().state == "loaded":
            encoder = holder.get()
            return f"{encoder.name} {encoder.version}".strip()
    except Exception:
        logger.debug("text_model_label_failed", exc_info=True)
    return str(getattr(classifier_module, "ENCODER_NAME", "text encoder"))


# ----------------------------------------------------------------------------------------------
# Entry points used by the API and by extraction
# ----------------------------------------------------------------------------------------------


def get_service() -> ClipService:
    """A service over the process-wide CLIP loader, Django's cache and current settings."""
    from django.core.cache import cache

    from mlverify.registry import get_clip_model

    return ClipService(config=ClipConfig.from_settings(), model=get_clip_model(), cache=cache)


def verify_image(*, image_url: str, product_name: str) -> CheckResult:
    """See :meth:`ClipService.verify_image`."""
    return get_service().verify_image(image_url=image_url, product_name=product_name)


def best_image(
    *,
    product_name: str,
    candidates: Iterable[str | Mapping[str, Any]] | None = None,
    image_urls: Iterable[str | Mapping[str, Any]] | None = None,
) -> tuple[str | None, CheckResult]:
    """See :meth:`ClipService.best_image` (``image_urls`` is accepted as an alias)."""
    items = list(candidates if candidates is not None else image_urls or [])
    return get_service().best_image(candidates=items, product_name=product_name)
