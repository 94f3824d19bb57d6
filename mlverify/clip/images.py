"""Image bytes to a checkable picture: fetch through the safe client, decode small behind guards.

Kept apart from the model code on purpose: what an image may cost (bytes, pixels, frames,
memory, time) is decided here and nowhere else.

Memory (issue 13, item 3): a 4.9 KB PNG of 6300 x 6300 pixels at one bit per pixel decodes to
40 MB in Pillow's mode "1" and to 160 MB once converted to RGB (four bytes per pixel); four such
candidates held at once raised a worker's peak by more than 500 MB. So:

* the size is read from the header and anything above ``max_pixels`` (16 megapixels by
  default) is refused before a single pixel is decoded;
* JPEGs are decoded at 1/2, 1/4 or 1/8 scale by the decoder itself (Pillow's ``draft``), so
  the full-size raster never exists;
* other formats decode at their native depth (1 byte per pixel for grey, palette and 1-bit
  images) and are box-reduced (``Image.reduce``) and resized to the model's input side at
  once; a mode ``reduce`` cannot take (1-bit, palette, 16-bit) is converted a strip of rows
  at a time as it is reduced, so no converted full-size raster (four bytes a pixel for a
  palette image in RGB) ever exists; the native raster is closed right away;
* decodes run on at most ``max_concurrent`` threads of their own in a process
  (:data:`DECODE_THREADS`), so concurrent requests cannot multiply the worst case, neither
  while decoding nor in the memory malloc keeps per thread afterwards.
"""

from __future__ import annotations

import contextvars
import io
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

import structlog
from PIL import Image, UnidentifiedImageError

from buyhive.exceptions import ImageFetchFailed, RateLimited
from buyhive.http import OutboundRequestError, TooManyFetches, get_client
from mlverify.clip.config import (
    DEFAULT_INPUT_SIDE,
    MAX_CONCURRENT_DECODES,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
)

logger = structlog.get_logger(__name__)

T = TypeVar("T")

# Box-reduce to at least this many times the target before the final bicubic resize (as
# Pillow's ``thumbnail(reducing_gap=2.0)``): cheap and memory-light, with bicubic quality.
_REDUCING_GAP = 2
# Rows converted at once when an image's mode must change before it is reduced.
_STRIP_ROWS = 256


def fetch_image_bytes(
    url: str,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    owner: str | None = None,
    deadline: float | None = None,
) -> bytes:
    """Fetch an image through the safe outbound client; any refusal is ImageFetchFailed.

    ``owner`` (the user id) and ``deadline`` (``time.monotonic()``) go to the client: at most
    ``OUTBOUND_HTTP_MAX_CONCURRENT_PER_USER`` fetches of one user at once, and one overall
    deadline for a whole image step. A fetch refused by the per-user cap is
    :class:`~buyhive.exceptions.RateLimited` (429), since waiting is what helps.
    """
    try:
        response = get_client().get(
            url,
            allowed_content_types=("image/",),
            max_bytes=max_bytes,
            owner=owner,
            deadline=deadline,
        )
    except TooManyFetches as exc:
        logger.info("image_fetch_refused", reason=exc.reason)
        raise RateLimited(
            "Too many images are being fetched for this account at once. Try again shortly.",
            retry_after=1,
        ) from exc
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


class DecodeThreads:
    """Image decodes run on at most ``limit`` threads of their own, whichever thread asks.

    Bounding how many decodes run at once (a semaphore) was not enough: glibc gives each
    thread that allocates its own malloc arena, and a freed multi-MB raster stays reserved in
    the arena of the thread that decoded it. Four request threads (``GUNICORN_THREADS=4``)
    that had each decoded one 16-megapixel image held four rasters' worth of memory after
    the decodes ended, even with one decode at a time (``bench/worker_memory.py --images
    at-cap``: a worker's peak 637 MB). On ``limit`` threads of their own, at most ``limit``
    arenas ever hold a raster, and each reuses what it holds for the next decode.

    The limit comes from settings at each call; when it changes, new decodes go to a new
    pool (ones in progress finish on the old one). Waiting for a decode thread stops at the
    caller's deadline: the step answers "busy" instead of queueing past its budget. A decode
    that has started is waited for (its time is bounded by the pixel cap), so no thread is
    left decoding for a request that has gone.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._limit = 0
        self._pool: ThreadPoolExecutor | None = None

    def _for(self, limit: int) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None or limit != self._limit:
                if self._pool is not None:
                    self._pool.shutdown(wait=False)
                self._limit = limit
                self._pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="decode")
            return self._pool

    def run(self, fn: Callable[[], T], limit: int, deadline: float | None = None) -> T:
        """``fn()`` on a decode thread (in a copy of the caller's context, for its logs)."""
        future = self._for(max(1, limit)).submit(contextvars.copy_context().run, fn)
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            if future.cancel():  # still waiting for a thread
                raise ImageFetchFailed(
                    "The image could not be checked in time: the server is busy."
                ) from None
            return future.result()  # started: bounded by the pixel cap


DECODE_THREADS = DecodeThreads()


def _too_large(width: int, height: int, max_pixels: int) -> ImageFetchFailed:
    return ImageFetchFailed(
        f"The image is too large to check ({width}x{height} pixels; the limit is {max_pixels})."
    )


def _scaled(size: tuple[int, int], side: int) -> tuple[int, int]:
    """``size`` scaled so its shorter side is ``side`` (never enlarged)."""
    width, height = size
    shorter = min(width, height)
    if shorter <= side:
        return size
    return max(1, round(width * side / shorter)), max(1, round(height * side / shorter))


def _working_mode(image: Image.Image) -> str:
    """The mode ``reduce`` and ``resize`` work in: 8 bits a channel, alpha kept."""
    if image.mode == "1":
        return "L"  # same 1 byte per pixel
    if image.mode in ("P", "PA"):
        alpha = image.mode == "PA" or "transparency" in image.info
        return "RGBA" if alpha else "RGB"
    return image.mode if image.mode in ("L", "LA", "RGB", "RGBA") else "RGB"


def _convert_reduced(image: Image.Image, mode: str, factor: int) -> Image.Image:
    """``image.convert(mode).reduce(factor)``, a strip of rows at a time.

    A strip's height is a multiple of ``factor``, so each strip reduces to whole rows of the
    result, equal to reducing the whole converted image; only one strip is ever converted at
    full size (a 16-megapixel palette PNG: 64 MB in RGB at once, ~1 MB a strip).
    """
    width, height = image.size
    rows = factor * max(1, _STRIP_ROWS // factor)
    out = Image.new(mode, (-(-width // factor), -(-height // factor)))
    for top in range(0, height, rows):
        with image.crop((0, top, width, min(height, top + rows))) as strip:
            converted = strip.convert(mode)
            reduced = converted.reduce(factor)
            out.paste(reduced, (0, top // factor))
            converted.close()
            reduced.close()
    return out


def _decode_small(image: Image.Image, side: int) -> Image.Image:
    """Decode ``image`` (opened, not loaded) to at most ``side`` on its shorter side."""
    if image.format == "JPEG":
        # The decoder scales by 1/2, 1/4 or 1/8 while decoding; it keeps the result at least
        # the requested size, so the final resize below still has the pixels it needs.
        image.draft("RGB" if image.mode != "L" else "L", _scaled(image.size, side))
    image.load()
    mode = _working_mode(image)
    factor = min(image.size) // (side * _REDUCING_GAP)
    full = image
    if factor > 1:
        image = (
            image.reduce(factor) if mode == image.mode else _convert_reduced(image, mode, factor)
        )
    elif mode != image.mode:
        image = image.convert(mode)
    if image is not full:
        full.close()  # drop the native raster before the final resize
    target = _scaled(image.size, side)
    if target != image.size:
        resized = image.resize(target, Image.Resampling.BICUBIC)
        image.close()
        image = resized
    return image


def _on_white(image: Image.Image) -> Image.Image:
    """RGB; a transparent image flattened onto white, as shops show them (not Pillow's black)."""
    if image.mode in ("RGBA", "LA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def decode_image(
    data: bytes,
    *,
    max_pixels: int = MAX_IMAGE_PIXELS,
    side: int = DEFAULT_INPUT_SIDE,
    max_concurrent: int = MAX_CONCURRENT_DECODES,
    deadline: float | None = None,
) -> Image.Image:
    """Decode to a small RGB image (shorter side ``side``), refusing bombs, truncated files and
    non-images (ImageFetchFailed).

    The size is checked from the header before any pixel is decoded; Pillow's own
    DecompressionBombWarning is raised as an error. Decoding waits for one of
    ``max_concurrent`` process-wide decode threads (until ``deadline``). Transparent images are
    flattened onto white.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
                if width <= 0 or height <= 0 or width * height > max_pixels:
                    raise _too_large(width, height, max_pixels)
                probe.verify()  # checksums and structure, without decoding pixels
            opened: Image.Image = Image.open(io.BytesIO(data))
            if getattr(opened, "n_frames", 1) > 1:
                opened.seek(0)
            image = DECODE_THREADS.run(
                lambda: _on_white(_decode_small(opened, side)), max_concurrent, deadline
            )
    except ImageFetchFailed:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageFetchFailed(f"The image is too large to check: {exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageFetchFailed(f"The file is not a readable image: {type(exc).__name__}") from exc
    return image
