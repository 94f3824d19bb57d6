"""What the CLIP check needs from settings: :class:`ClipConfig` and its defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

MAX_IMAGE_BYTES = 5 * 1024 * 1024
# 16 megapixels covers any product photo a shop serves (4900 x 3265); a larger image is refused
# from its header, before its pixels are decoded (issue 13: 40 MP let a 4.9 KB PNG cost 160 MB).
# Pillow's own guard (MAX_IMAGE_PIXELS) stays on as a second line.
MAX_IMAGE_PIXELS = 16_000_000
# Image decodes running at once per process, on threads of their own: each may briefly hold
# one full-size raster (CLIP_MAX_CONCURRENT_DECODES in buyhive/settings/base.py says why 1).
MAX_CONCURRENT_DECODES = 1
# Images are shrunk to this shorter side right after decoding unless the loaded model says
# otherwise (ViT-B-32's input is 224 x 224).
DEFAULT_INPUT_SIDE = 224
# One deadline for fetching and decoding all of a check's images (seconds), and how many
# candidates are fetched in parallel (never more than the per-user outbound cap).
IMAGE_STEP_TIMEOUT = 5.0
FETCH_WORKERS = 4


def _repo_dir() -> Path:
    return Path(__file__).resolve().parents[2]


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
    max_concurrent_decodes: int = MAX_CONCURRENT_DECODES
    image_step_timeout: float = IMAGE_STEP_TIMEOUT
    fetch_workers: int = FETCH_WORKERS
    # MODEL_RUNTIME (auto/onnx/torch) and BUYHIVE_MODEL_DIR, whose onnx/ holds the export
    # (mlverify.clip.onnx_serving). model_dir None: no export is looked for (torch).
    runtime: str = "auto"
    model_dir: Path | None = None

    @classmethod
    def from_settings(cls) -> ClipConfig:
        model_dir = Path(settings.BUYHIVE_MODEL_DIR or _repo_dir() / "var/models")
        model_name = str(settings.CLIP_MODEL or "ViT-B-32")
        weights = settings.CLIP_WEIGHTS or model_dir / "clip" / ("open_clip_model.safetensors")
        calibration = settings.CLIP_CALIBRATION_FILE or (model_dir / "clip" / "calibration.json")
        return cls(
            model_name=model_name,
            weights=None if model_name.startswith("local-dir:") else Path(weights),
            threshold=float(settings.CLIP_THRESHOLD),
            calibration_file=Path(calibration),
            num_threads=int(settings.ML_NUM_THREADS),
            inference_timeout=float(settings.ML_INFERENCE_TIMEOUT),
            cache_timeout=int(settings.ML_CACHE_TIMEOUT),
            max_image_bytes=int(settings.CLIP_MAX_IMAGE_BYTES),
            max_image_pixels=int(settings.CLIP_MAX_IMAGE_PIXELS),
            max_candidates=int(settings.CLIP_MAX_CANDIDATES),
            text_fallback_threshold=float(settings.CLIP_TEXT_FALLBACK_THRESHOLD),
            max_concurrent_decodes=int(settings.CLIP_MAX_CONCURRENT_DECODES),
            image_step_timeout=float(settings.CLIP_IMAGE_STEP_TIMEOUT),
            fetch_workers=_fetch_workers(),
            runtime=str(settings.MODEL_RUNTIME or "auto").strip().lower(),
            model_dir=model_dir,
        )


def _fetch_workers() -> int:
    """Parallel fetches per check: CLIP_FETCH_WORKERS, never above the per-user outbound cap
    (one request alone must not trip the cap meant for concurrent requests)."""
    workers = max(1, int(settings.CLIP_FETCH_WORKERS))
    per_user = int(settings.OUTBOUND_HTTP_MAX_CONCURRENT_PER_USER or 0)
    return min(workers, per_user) if per_user > 0 else workers
