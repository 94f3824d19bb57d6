"""open_clip's eval image transform in Pillow and numpy, for the ONNX image tower (no torch).

open_clip (resize mode ``shortest``, a square input) evaluates images with torchvision's
``Resize(side, bicubic)``, ``CenterCrop(side)``, ``convert("RGB")``, ``ToTensor()`` and
``Normalize(mean, std)``. On a PIL image each of those is plain arithmetic on Pillow's output,
done here step for step:

* ``Resize(side)``: the shorter edge becomes ``side``, the longer one
  ``int(side * long / short)`` (truncated, as torchvision does), with Pillow's bicubic
  ``Image.resize`` (torchvision calls exactly that for PIL images);
* ``CenterCrop(side)``: top and left offsets ``int(round((edge - side) / 2))`` (Python's
  round, half to even), zero padding when an edge is short;
* ``ToTensor`` and ``Normalize``: ``(pixels / 255 - mean) / std``, channels first, float32.

``mlverify/tests/test_clip_onnx.py`` checks the result equals open_clip's transform on images
of many sizes and modes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

# OpenAI's CLIP statistics: open_clip's defaults and ViT-B-32's.
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class PreprocessConfig:
    """What the eval transform needs, recorded by ``export_onnx`` from the loaded model."""

    image_size: int
    mean: tuple[float, float, float] = OPENAI_MEAN
    std: tuple[float, float, float] = OPENAI_STD
    interpolation: str = "bicubic"
    resize_mode: str = "shortest"

    def check(self) -> None:
        """Only the transform this module implements is accepted."""
        if self.resize_mode != "shortest" or self.interpolation not in ("bicubic", "bilinear"):
            raise ValueError(
                f"unsupported CLIP preprocessing: resize {self.resize_mode!r}, "
                f"interpolation {self.interpolation!r}"
            )


def _resize_shortest(image: Image.Image, side: int, resample: Image.Resampling) -> Image.Image:
    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(side * long / short)
    new_w, new_h = (side, new_long) if width <= height else (new_long, side)
    return image.resize((new_w, new_h), resample)


def _center_crop(image: Image.Image, side: int) -> Image.Image:
    width, height = image.size
    if width < side or height < side:  # torchvision pads with zeros, then crops
        left_pad = (side - width) // 2 if side > width else 0
        top_pad = (side - height) // 2 if side > height else 0
        padded = Image.new(
            image.mode, (max(width, side), max(height, side)), 0 if image.mode != "P" else None
        )
        padded.paste(image, (left_pad, top_pad))
        image = padded
        width, height = image.size
        if width == side and height == side:
            return image
    top = round((height - side) / 2.0)  # Python's round, as torchvision
    left = round((width - side) / 2.0)
    return image.crop((left, top, left + side, top + side))


def preprocess(image: Image.Image, config: PreprocessConfig) -> np.ndarray:
    """One PIL image -> ``[3, side, side]`` float32, as open_clip's eval transform gives it."""
    resample = (
        Image.Resampling.BILINEAR
        if config.interpolation == "bilinear"
        else Image.Resampling.BICUBIC
    )
    image = _center_crop(_resize_shortest(image, config.image_size, resample), config.image_size)
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / np.float32(255.0)
    mean = np.asarray(config.mean, dtype=np.float32)
    std = np.asarray(config.std, dtype=np.float32)
    return np.ascontiguousarray(((pixels - mean) / std).transpose(2, 0, 1), dtype=np.float32)


def preprocess_batch(images: Sequence[Image.Image], config: PreprocessConfig) -> np.ndarray:
    """``[n, 3, side, side]`` float32."""
    return np.stack([preprocess(image, config) for image in images])
