"""A tiny CLIP for tests: a registered open_clip config with random weights saved to a file.

The production loader (:func:`mlverify.clip.loading.load_clip`) loads it exactly as it loads
the real ViT-B-32: from a local ``.safetensors`` file, offline. About 1.6M parameters (most of
them the 49,408-token embedding the bundled BPE tokenizer needs), built and saved in well under
a second.
"""

from __future__ import annotations

import io
import json
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

TINY_MODEL_NAME = "buyhive-tiny-clip"
# Another architecture of the same family, for "weights do not fit the model" tests.
TINY_OTHER_MODEL_NAME = "buyhive-tiny-clip-wide"

TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
TINY_OTHER_CONFIG = {
    "embed_dim": 48,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 48, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 48, "heads": 2, "layers": 1},
}


@dataclass(frozen=True)
class TinyClip:
    model_name: str  # registered with open_clip: use as CLIP_MODEL
    weights: Path  # open_clip_model.safetensors: use as CLIP_WEIGHTS
    local_dir: Path  # the same model in the ``local-dir:`` layout
    other_model_name: str  # a registered architecture these weights do not fit


def build_tiny_clip(directory: Path, *, seed: int = 0) -> TinyClip:
    """Register the tiny configs, build the model (fixed seed), save it under ``directory``."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    directory = Path(directory)
    config_dir = directory / "configs"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / f"{TINY_MODEL_NAME}.json").write_text(json.dumps(TINY_CONFIG))
    (config_dir / f"{TINY_OTHER_MODEL_NAME}.json").write_text(json.dumps(TINY_OTHER_CONFIG))
    open_clip.add_model_config(config_dir)

    torch.manual_seed(seed)
    # pretrained=None on purpose: these random weights ARE the test model, saved to a file
    # and then loaded back through the production loader, which refuses to build without one.
    model = open_clip.create_model(TINY_MODEL_NAME, pretrained=None)
    with torch.no_grad():
        # A sharper logit scale (as trained CLIPs have, ~100) makes scores spread out.
        model.logit_scale.fill_(float(torch.log(torch.tensor(50.0))))
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}

    weights_dir = directory / "weights"
    weights_dir.mkdir(parents=True, exist_ok=True)
    weights = weights_dir / "open_clip_model.safetensors"
    save_file(state, str(weights))

    local_dir = directory / "local"
    local_dir.mkdir(parents=True, exist_ok=True)
    save_file(state, str(local_dir / "open_clip_model.safetensors"))
    (local_dir / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CONFIG}))
    return TinyClip(
        model_name=TINY_MODEL_NAME,
        weights=weights,
        local_dir=local_dir,
        other_model_name=TINY_OTHER_MODEL_NAME,
    )


# ----------------------------------------------------------------------------------------------
# Test helpers: images, a loopback image server, call counters, pytest fixtures
# ----------------------------------------------------------------------------------------------


def png_bytes(color: tuple[int, int, int], *, size: int = 48, shape: str = "square") -> bytes:
    """A small PNG: a coloured square or disc on white."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    box = (size // 6, size // 6, size - size // 6, size - size // 6)
    if shape == "disc":
        draw.ellipse(box, fill=color)
    else:
        draw.rectangle(box, fill=color)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def bomb_png(width: int = 8000, height: int = 6000) -> bytes:
    """A valid 1-bit PNG of width x height pixels that compresses to a few KB."""
    raw = (b"\x00" + b"\x00" * ((width + 7) // 8)) * height

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


@dataclass
class Route:
    body: bytes
    content_type: str = "image/png"
    status: int = 200


class ImageServer:
    """A threaded HTTP server on 127.0.0.1 serving :class:`Route` s; counts hits per path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                server.hits[path] += 1
                route = server.routes.get(path, Route(b"not found", "text/plain", 404))
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def add(
        self, path: str, body: bytes, content_type: str = "image/png", status: int = 200
    ) -> str:
        self.routes[path] = Route(body, content_type, status)
        return self.base_url + path

    def reset(self) -> None:
        self.routes.clear()
        self.hits.clear()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class CallCounter:
    """Counts forward passes (and batch sizes) of a loaded open_clip model's two towers.

    It wraps ``forward`` of the third-party model's image tower and token embedding, not our
    code: every image batch passes through ``model.visual`` once and every text batch through
    ``model.token_embedding`` once, whichever encode path the production code takes.
    """

    def __init__(self, model: Any) -> None:
        self.image_calls = 0
        self.text_calls = 0
        self.image_batch_sizes: list[int] = []
        self.delay = 0.0
        visual_forward = model.visual.forward
        token_forward = model.token_embedding.forward

        def visual(images: Any, *args: Any, **kwargs: Any) -> Any:
            self.image_calls += 1
            self.image_batch_sizes.append(int(images.shape[0]))
            if self.delay:
                time.sleep(self.delay)
            return visual_forward(images, *args, **kwargs)

        def tokens(ids: Any, *args: Any, **kwargs: Any) -> Any:
            self.text_calls += 1
            return token_forward(ids, *args, **kwargs)

        model.visual.forward = visual
        model.token_embedding.forward = tokens


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> TinyClip:
    """The tiny CLIP saved once per session."""
    return build_tiny_clip(tmp_path_factory.mktemp("tiny_clip"))


@pytest.fixture(scope="session")
def _image_server_session() -> Iterator[ImageServer]:
    server = ImageServer()
    yield server
    server.close()


@pytest.fixture
def image_server(_image_server_session: ImageServer) -> ImageServer:
    """The loopback image server, with no routes and zeroed hit counts."""
    _image_server_session.reset()
    return _image_server_session


@pytest.fixture
def clip_settings(settings: Any, tiny_clip: TinyClip, tmp_path: Path) -> Iterator[Any]:
    """Point the CLIP settings at the tiny model and reload; restore and reload afterwards."""
    from mlverify.registry import reset_models

    settings.CLIP_MODEL = tiny_clip.model_name
    settings.CLIP_WEIGHTS = tiny_clip.weights
    settings.CLIP_CALIBRATION_FILE = tmp_path / "calibration.json"
    settings.CLIP_THRESHOLD = 0.5
    settings.ML_INFERENCE_TIMEOUT = 10.0
    settings.OUTBOUND_HTTP_ALLOW_LOOPBACK = True
    reset_models()
    yield settings
    reset_models()
