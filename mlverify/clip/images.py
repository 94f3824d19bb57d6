"""Image bytes to a checkable picture: fetch through the safe client, decode behind the guard.

Kept apart from the model code on purpose: what an image may cost (bytes, pixels, frames,
memory) is decided here and nowhere else.
"""

from __future__ import annotations

import io
import warnings

import structlog
from PIL import Image, UnidentifiedImageError

from buyhive.exceptions import ImageFetchFailed
from buyhive.http import OutboundRequestError, get_client
from mlverify.clip.config import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS

logger = structlog.get_logger(__name__)


def fetch_image_bytes(url: str, *, max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """Fetch an image through the safe outbound client; any refusal is ImageFetchFailed."""
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


def decode_image(data: bytes, *, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Decode to RGB, refusing bombs, truncated files and non-images (ImageFetchFailed).

    The size is checked from the header before any pixel is decoded; Pillow's own
    DecompressionBombWarning is raised as an error. Transparent images are flattened onto
    white, as shops show them, instead of Pillow's black.
    """
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
