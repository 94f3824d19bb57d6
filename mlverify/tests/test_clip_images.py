"""Image decoding memory and the image step's deadline (issue 13, items 3 and 10).

Memory is asserted on what Pillow actually decodes: a spy on Pillow's own
``ImageFile.load`` (third-party code, like ``CallCounter`` wraps open_clip's towers) records
the raster size each decode produced, so "never decoded at full size" is observable without
touching our code. Time is asserted on real loopback servers that never answer.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from PIL import Image, ImageFile

from buyhive.exceptions import ImageFetchFailed, RateLimited
from buyhive.tests.http_servers import LoopbackServer, respond
from mlverify.clip import images
from mlverify.clip.service import best_image, verify_image
from mlverify.registry import get_clip_model
from mlverify.tests.tiny_clip import ImageServer, bomb_png, png_bytes


class LoadSpy:
    """Records the size of every raster Pillow decodes, and the most decodes at once."""

    def __init__(self, delay: float = 0.0) -> None:
        self.sizes: list[tuple[int, int]] = []
        self.threads: set[int] = set()  # the threads that decoded
        self.active = 0
        self.peak = 0
        self.delay = delay
        self._lock = threading.Lock()

    def install(self, monkeypatch: pytest.MonkeyPatch) -> LoadSpy:
        original = ImageFile.ImageFile.load
        spy = self

        def load(image: ImageFile.ImageFile) -> Any:
            # Only a load with tiles left to decode decodes pixels (later calls, and a format's
            # own load calling this one, find none).
            if not image.tile:
                return original(image)
            with spy._lock:
                spy.active += 1
                spy.peak = max(spy.peak, spy.active)
                spy.sizes.append(image.size)
                spy.threads.add(threading.get_ident())
            try:
                if spy.delay:
                    time.sleep(spy.delay)
                return original(image)
            finally:
                with spy._lock:
                    spy.active -= 1

        monkeypatch.setattr(ImageFile.ImageFile, "load", load)
        return self


def _jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, format="JPEG", quality=80)
    return out.getvalue()


# ------------------------------------------------------------------------------ decode memory


def test_6300_square_png_bomb_is_refused_before_any_pixel_is_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = bomb_png(6300, 6300)
    assert len(data) < 6 * 1024  # the finding's 4.9 KB file
    spy = LoadSpy().install(monkeypatch)
    with pytest.raises(ImageFetchFailed, match=r"too large to check \(6300x6300"):
        images.decode_image(data)
    assert spy.sizes == []  # refused from the header: Pillow never decoded a pixel


def test_default_pixel_cap_is_16_megapixels(settings: Any) -> None:
    from mlverify.clip.config import ClipConfig

    # The default is stated once, in buyhive/settings/base.py; the test settings keep it.
    assert ClipConfig.from_settings().max_image_pixels == 16_000_000
    with pytest.raises(ImageFetchFailed, match="too large"):
        images.decode_image(bomb_png(4001, 4000))


def test_large_jpeg_is_decoded_at_reduced_scale_never_full_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = LoadSpy().install(monkeypatch)
    image = images.decode_image(_jpeg(4000, 3000), side=224)
    assert (image.mode, min(image.size)) == ("RGB", 224)
    assert image.size == (299, 224)
    # Pillow's draft: the JPEG decoder itself scaled by 1/8; 12 MP were never allocated.
    assert spy.sizes == [(500, 375)]


def test_png_under_the_cap_is_shrunk_to_the_model_input_right_after_decoding() -> None:
    image = images.decode_image(bomb_png(3000, 2000), side=32)
    assert (image.mode, image.size) == ("RGB", (48, 32))
    assert image.getpixel((10, 10)) == (0, 0, 0)


def test_palette_png_is_converted_a_strip_at_a_time_as_it_is_reduced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A palette raster is 1 byte a pixel, in RGB 4: converting a 16 MP one whole held 64 MB.
    pixels = Image.linear_gradient("L").resize((3000, 2000)).convert("RGB")
    palette = pixels.quantize(64)
    out = io.BytesIO()
    palette.save(out, format="PNG")
    converted: list[tuple[int, int]] = []
    original = Image.Image.convert

    def convert(image: Image.Image, *args: Any, **kwargs: Any) -> Image.Image:
        converted.append(image.size)
        return original(image, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "convert", convert)
    image = images.decode_image(out.getvalue(), side=224)
    monkeypatch.setattr(Image.Image, "convert", original)

    assert converted and max(height for _, height in converted) <= 256
    # The same pixels as converting the whole raster, then reducing and resizing it.
    factor = 2000 // (224 * 2)
    whole = palette.convert("RGB").reduce(factor).resize((336, 224), Image.Resampling.BICUBIC)
    assert (image.mode, image.size) == ("RGB", (336, 224))
    assert image.tobytes() == whole.tobytes()


def _decode_from_threads(data: bytes, *, callers: int = 6, each: int = 1) -> set[int]:
    """``callers`` threads each decode ``data`` ``each`` times (two decode threads); every
    decode must succeed. The callers' thread ids."""
    idents: set[int] = set()
    errors: list[BaseException] = []

    def decode() -> None:
        idents.add(threading.get_ident())
        try:
            for _ in range(each):
                images.decode_image(data, max_concurrent=2)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=decode) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return idents


def test_decodes_at_once_are_bounded_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = LoadSpy(delay=0.15).install(monkeypatch)
    _decode_from_threads(png_bytes((200, 0, 0), size=64))
    assert len(spy.sizes) == 6
    assert spy.peak == 2


def test_decodes_run_on_their_own_threads_never_on_the_callers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # glibc keeps a freed raster in the malloc arena of the thread that decoded it: decoding
    # on the request threads let each of them hold one (bench/worker_memory.py, at-cap).
    spy = LoadSpy().install(monkeypatch)
    callers = _decode_from_threads(png_bytes((0, 120, 0), size=64), each=3)
    assert len(spy.sizes) == 18
    assert 1 <= len(spy.threads) <= 2
    assert not spy.threads & callers


def test_waiting_for_a_decode_slot_stops_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    LoadSpy(delay=0.6).install(monkeypatch)
    data = png_bytes((200, 0, 0), size=64)
    holder = threading.Thread(target=lambda: images.decode_image(data, max_concurrent=1))
    holder.start()
    time.sleep(0.1)
    started = time.monotonic()
    with pytest.raises(ImageFetchFailed, match="busy"):
        images.decode_image(data, max_concurrent=1, deadline=time.monotonic() + 0.2)
    assert time.monotonic() - started < 0.45
    holder.join()


def test_best_image_never_decodes_a_candidate_at_full_size(
    clip_settings: Any, image_server: ImageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = [image_server.add(f"/big{i}.jpg", _jpeg(2400, 1800), "image/jpeg") for i in range(3)] + [
        image_server.add("/bomb.png", bomb_png(6300, 6300))
    ]
    get_clip_model().get()
    spy = LoadSpy().install(monkeypatch)
    best, result = best_image(candidates=urls, product_name="red box", owner="u-mem")
    assert result.status == "ok" and best in urls[:3]
    assert len(spy.sizes) == 3  # the bomb was refused from its header
    assert all(w * h <= 2400 * 1800 // 16 for w, h in spy.sizes), spy.sizes


# ------------------------------------------------------------------- deadline and per-user cap


def _hang(req: Any) -> None:
    req.server.owner.stopping.wait(30)
    req.close_connection = True


@pytest.fixture
def hanging_hosts() -> Iterator[list[LoopbackServer]]:
    """Four image hosts on loopback that accept the request and never answer."""
    with ExitStack() as stack:
        servers = [stack.enter_context(LoopbackServer()) for _ in range(4)]
        for server in servers:
            server.route("/img.png", _hang)
        yield servers


def test_best_image_fetches_in_parallel_under_one_deadline(
    clip_settings: Any, hanging_hosts: list[LoopbackServer]
) -> None:
    clip_settings.CLIP_IMAGE_STEP_TIMEOUT = 1.0
    clip_settings.OUTBOUND_HTTP_READ_TIMEOUT = 5.0
    clip_settings.OUTBOUND_HTTP_TOTAL_TIMEOUT = 10.0
    get_clip_model().get()
    urls = [server.url("/img.png") for server in hanging_hosts]
    started = time.monotonic()
    with pytest.raises(ImageFetchFailed, match="None of the 4 candidate images"):
        best_image(candidates=urls, product_name="red box", owner="u-slow")
    elapsed = time.monotonic() - started
    assert elapsed < 1.6, f"{elapsed:.2f} s"  # one deadline, not 4 x 5 s one after another
    assert [len(server.requests) for server in hanging_hosts] == [1, 1, 1, 1]


@pytest.mark.django_db
def test_extract_with_four_hanging_image_hosts_answers_within_the_deadline(
    clip_settings: Any, hanging_hosts: list[LoopbackServer], auth_client: Any
) -> None:
    clip_settings.CLIP_IMAGE_STEP_TIMEOUT = 1.0
    clip_settings.OUTBOUND_HTTP_READ_TIMEOUT = 5.0
    clip_settings.OUTBOUND_HTTP_TOTAL_TIMEOUT = 10.0
    page = (
        '<html><head><script type="application/ld+json">{"@context": "https://schema.org",'
        ' "@type": "Product", "name": "Blue Kettle", "offers": {"@type": "Offer",'
        ' "price": "19.99", "priceCurrency": "USD"}}</script></head><body></body></html>'
    )
    # Warm the models on a page without images, so the timed request measures the image step.
    warm = auth_client.post(
        "/api/v1/extract/", {"url": "https://shop.test/warm", "html": page}, format="json"
    )
    assert warm.status_code == 200, warm.content
    started = time.monotonic()
    response = auth_client.post(
        "/api/v1/extract/",
        {
            "url": "https://shop.test/kettle",
            "html": page,
            "image_urls": [server.url("/img.png") for server in hanging_hosts],
        },
        format="json",
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["product"]["title"] == "Blue Kettle"
    assert body["image_check"]["status"] == "unavailable"
    assert elapsed < 2.5, f"{elapsed:.2f} s"
    assert sum(len(server.requests) for server in hanging_hosts) == 4


def test_per_user_fetch_cap_applies_to_the_image_step(
    clip_settings: Any, hanging_hosts: list[LoopbackServer]
) -> None:
    clip_settings.OUTBOUND_HTTP_MAX_CONCURRENT_PER_USER = 2
    clip_settings.CLIP_IMAGE_STEP_TIMEOUT = 1.5
    get_clip_model().get()
    urls = [server.url("/img.png") for server in hanging_hosts]
    outcome: list[BaseException] = []

    def slow_step() -> None:
        try:
            best_image(candidates=urls, product_name="red box", owner="u-capped")
        except BaseException as exc:  # noqa: BLE001 - asserted below
            outcome.append(exc)

    step = threading.Thread(target=slow_step)
    step.start()
    deadline = time.monotonic() + 1.0
    while sum(len(s.requests) for s in hanging_hosts) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    # The step itself stays within the cap: two fetches at a time, not four.
    time.sleep(0.1)
    assert sum(len(s.requests) for s in hanging_hosts) == 2
    with LoopbackServer() as good:
        good.route("/red.png", respond(png_bytes((220, 20, 20))))
        # The same user is at the cap: refused at once, as a 429 ...
        with pytest.raises(RateLimited):
            verify_image(image_url=good.url("/red.png"), product_name="red box", owner="u-capped")
        # ... while another user is not affected.
        result = verify_image(image_url=good.url("/red.png"), product_name="red box", owner="u-2")
        assert result.status == "ok"
    step.join()
    assert isinstance(outcome[0], ImageFetchFailed)
