"""CLIP image verification through the production loader, with a tiny CLIP saved to disk.

Images come from a loopback HTTP server through the real safe outbound client; the cache is
the test Redis. Model calls are counted on the loaded open_clip object (CallCounter).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from buyhive.exceptions import ImageFetchFailed, ValidationFailed
from mlverify.clip import encoding, images, score_cache, service
from mlverify.clip.loading import WEIGHTS_METADATA_NAME, ClipBundle
from mlverify.clip.service import best_image, verify_image
from mlverify.inference import run_inference
from mlverify.registry import get_clip_model, model_states, reset_models
from mlverify.tests.tiny_clip import CallCounter, ImageServer, TinyClip, bomb_png, png_bytes

RED = (220, 30, 30)
BLUE = (30, 40, 220)
GREEN = (30, 180, 60)


def counter() -> CallCounter:
    return CallCounter(get_clip_model().get().model)


# ---------------------------------------------------------------------------------- loading


def test_model_loads_lazily_and_once_under_concurrent_first_use(
    clip_settings: Any, image_server: ImageServer
) -> None:
    url = image_server.add("/red.png", png_bytes(RED))
    holder = get_clip_model()
    loads_before = holder.load_count
    assert model_states()["clip"]["state"] == "not_loaded"

    results: list[Any] = []
    barrier = threading.Barrier(6)

    def call() -> None:
        barrier.wait()
        results.append(verify_image(image_url=url, product_name="red box"))

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert holder.load_count == loads_before + 1
    assert [r.status for r in results] == ["ok"] * 6
    assert len({r.score for r in results}) == 1
    state = model_states()["clip"]
    assert state["state"] == "loaded"
    assert state["load_seconds"] is not None
    assert "buyhive-tiny-clip" in state["version"]


def test_local_dir_form_loads(settings: Any, tiny_clip: TinyClip) -> None:
    settings.CLIP_MODEL = f"local-dir:{tiny_clip.local_dir}"
    settings.CLIP_WEIGHTS = None
    reset_models()
    try:
        bundle = get_clip_model().get()
        assert bundle.dim == 32
        assert bundle.negatives.shape == (len(encoding.NEGATIVE_PROMPTS), 32)
    finally:
        reset_models()


def test_tokenizer_is_the_bundled_bpe_and_needs_no_hub(clip_settings: Any) -> None:
    bundle = get_clip_model().get()
    assert type(bundle.tokenizer).__name__ == "SimpleTokenizer"
    assert tuple(bundle.tokenizer(["a photo of a red shoe"]).shape) == (1, 16)


# ------------------------------------------------------------------------- unavailable reasons


def _assert_unavailable(result: Any, *fragments: str) -> None:
    assert result.status == "unavailable"
    assert (result.value, result.score, result.threshold) == (None, None, None)
    for fragment in fragments:
        assert fragment in result.reason
    body = result.as_dict("match")
    assert (body["match"], body["status"]) == (None, "unavailable")


def test_missing_weights_answer_unavailable_without_fetching(
    clip_settings: Any, image_server: ImageServer, tmp_path: Path
) -> None:
    clip_settings.CLIP_WEIGHTS = tmp_path / "nothing-here.safetensors"
    reset_models()
    loads_before = get_clip_model().load_count
    url = image_server.add("/red.png", png_bytes(RED))

    first = verify_image(image_url=url, product_name="red box")
    second = verify_image(image_url=url, product_name="red box")

    _assert_unavailable(first, "CLIP weights not found at", "nothing-here", "download_models")
    assert second.reason == first.reason
    assert (
        get_clip_model().load_count == loads_before + 1
    )  # a broken model costs one load, not one per call
    assert image_server.hits["/red.png"] == 0
    assert model_states()["clip"] == {
        "state": "unavailable",
        "reason": first.reason,
        "load_seconds": None,
        "version": None,
    }


def test_truncated_weights_are_reported_corrupt(
    clip_settings: Any, tiny_clip: TinyClip, image_server: ImageServer, tmp_path: Path
) -> None:
    broken = tmp_path / "truncated.safetensors"
    data = tiny_clip.weights.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    clip_settings.CLIP_WEIGHTS = broken
    reset_models()
    result = verify_image(image_url=image_server.add("/r.png", png_bytes(RED)), product_name="x")
    _assert_unavailable(result, "are corrupt", str(broken))


def test_garbage_and_empty_weights_are_reported_corrupt(clip_settings: Any, tmp_path: Path) -> None:
    for name, content in (("garbage", b"<html>not weights</html>" * 20), ("empty", b"")):
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(content)
        clip_settings.CLIP_WEIGHTS = path
        reset_models()
        result = verify_image(image_url="http://127.0.0.1:9/x.png", product_name="x")
        _assert_unavailable(result, "are corrupt")


def test_nan_weights_are_reported_corrupt_not_used(
    clip_settings: Any, tiny_clip: TinyClip, tmp_path: Path
) -> None:
    state = load_file(str(tiny_clip.weights))
    state["visual.proj"] = torch.full_like(state["visual.proj"], float("nan"))
    path = tmp_path / "nan.safetensors"
    save_file(state, str(path))
    clip_settings.CLIP_WEIGHTS = path
    reset_models()
    result = verify_image(image_url="http://127.0.0.1:9/x.png", product_name="x")
    _assert_unavailable(result, "are corrupt", "NaN")


def test_weights_of_another_architecture_are_a_load_error(
    clip_settings: Any, tiny_clip: TinyClip
) -> None:
    clip_settings.CLIP_MODEL = tiny_clip.other_model_name
    reset_models()
    result = verify_image(image_url="http://127.0.0.1:9/x.png", product_name="x")
    _assert_unavailable(result, "load error", "model buyhive-tiny-clip-wide could not be built")


def test_unknown_model_name_is_a_load_error(clip_settings: Any) -> None:
    clip_settings.CLIP_MODEL = "no-such-architecture"
    reset_models()
    result = verify_image(image_url="http://127.0.0.1:9/x.png", product_name="x")
    _assert_unavailable(result, "load error", "no-such-architecture")


def test_hub_model_names_are_refused_offline(clip_settings: Any) -> None:
    clip_settings.CLIP_MODEL = "hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K"
    reset_models()
    started = time.perf_counter()
    result = verify_image(image_url="http://127.0.0.1:9/x.png", product_name="x")
    _assert_unavailable(result, "model hub")
    assert time.perf_counter() - started < 2


def test_weights_recorded_for_another_model_name_are_refused(
    clip_settings: Any, tiny_clip: TinyClip, tmp_path: Path
) -> None:
    """OpenAI weights load into plain ViT-B-32 without error but score wrongly: refuse."""
    weights = tmp_path / "w" / "open_clip_model.safetensors"
    weights.parent.mkdir()
    weights.write_bytes(tiny_clip.weights.read_bytes())
    (weights.parent / WEIGHTS_METADATA_NAME).write_text(
        json.dumps({"file": weights.name, "model_name": "ViT-B-32-quickgelu"})
    )
    clip_settings.CLIP_WEIGHTS = weights
    reset_models()
    result = verify_image(image_url="http://127.0.0.1:9/x.png", product_name="x")
    _assert_unavailable(result, "ViT-B-32-quickgelu", "set CLIP_MODEL=")


# ---------------------------------------------------------------------- scoring and threshold


def test_verify_image_answers_a_score_and_the_settings_threshold_uncalibrated(
    clip_settings: Any, image_server: ImageServer
) -> None:
    url = image_server.add("/red.png", png_bytes(RED))
    result = verify_image(image_url=url, product_name="Red  Box")

    assert result.status == "ok"
    assert result.method == "clip"
    assert result.model.startswith("open_clip buyhive-tiny-clip @")
    assert 0.0 <= result.score <= 1.0
    assert result.threshold == 0.5
    assert result.calibrated is False
    assert result.value == (result.score >= 0.5)
    assert result.as_dict("match") == {
        "status": "ok",
        "match": result.value,
        "score": result.score,
        "threshold": 0.5,
        "method": "clip",
        "model": result.model,
        "reason": None,
        "calibrated": False,
    }


def test_threshold_decides_match(clip_settings: Any, image_server: ImageServer) -> None:
    url = image_server.add("/red.png", png_bytes(RED))
    clip_settings.CLIP_THRESHOLD = 0.0
    assert verify_image(image_url=url, product_name="red box").value is True
    clip_settings.CLIP_THRESHOLD = 1.0
    strict = verify_image(image_url=url, product_name="red box")
    assert strict.value is False  # the softmax share of the product is below 1
    assert strict.threshold == 1.0


def test_calibration_file_sets_threshold_and_calibrated_true(
    clip_settings: Any, image_server: ImageServer
) -> None:
    url = image_server.add("/red.png", png_bytes(RED))
    version = get_clip_model().get().version
    path = Path(clip_settings.CLIP_CALIBRATION_FILE)
    path.write_text(json.dumps({"threshold": 0.000123, "model_version": version}))
    result = verify_image(image_url=url, product_name="red box")
    assert (result.threshold, result.calibrated, result.value) == (0.000123, True, True)

    # A calibration made for other weights is not applied.
    time.sleep(0.01)
    path.write_text(json.dumps({"threshold": 0.000123, "model_version": "other@123"}))
    import os

    os.utime(path, (time.time() + 5, time.time() + 5))
    result = verify_image(image_url=url, product_name="red box")
    assert (result.threshold, result.calibrated) == (0.5, False)


def test_softmax_against_negatives_is_a_probability() -> None:
    bundle = ClipBundle(
        model=None,
        preprocess=lambda x: x,
        tokenizer=lambda x: x,
        model_name="m",
        weights_path=Path("w"),
        version="v",
        label="l",
        logit_scale=100.0,
        negatives=torch.eye(3)[1:].numpy(),
    )
    image = torch.eye(3)[0].numpy()
    assert encoding.match_probability(bundle, image, torch.eye(3)[0].numpy()) > 0.99
    # Orthogonal to the image like both negatives: an even three-way split.
    assert encoding.match_probability(bundle, image, torch.eye(3)[1].numpy()) == pytest.approx(
        1 / 3
    )


# ------------------------------------------------------------------------------------ caching


def test_repeat_is_served_from_cache_without_fetch_or_model_calls(
    clip_settings: Any, image_server: ImageServer
) -> None:
    url = image_server.add("/red.png", png_bytes(RED))
    calls = counter()
    first = verify_image(image_url=url, product_name="Red Box")
    assert (image_server.hits["/red.png"], calls.image_calls) == (1, 1)
    text_calls = calls.text_calls
    assert text_calls >= 1

    again = verify_image(image_url=url, product_name="  red   BOX ")  # same normalised name
    assert again == first
    assert image_server.hits["/red.png"] == 1
    assert (calls.image_calls, calls.text_calls) == (1, text_calls)


class CacheSpy:
    """Django's cache, recording which of its methods are called (or failing every call)."""

    def __init__(self, real: Any, *, down: bool = False) -> None:
        self.real, self.down = real, down
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.real, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            if self.down:
                raise ConnectionError("cache down")
            return method(*args, **kwargs)

        return call


def test_a_check_reads_and_writes_the_shared_cache_once_each(
    clip_settings: Any, image_server: ImageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = image_server.add("/red.png", png_bytes(RED))
    spy = CacheSpy(service.default_cache)
    monkeypatch.setattr(service, "default_cache", spy)
    first = verify_image(image_url=url, product_name="red box")
    # The score and both embeddings looked up together, the three new values written together.
    assert spy.calls == ["get_many", "set_many"]

    score_cache.local_scores.clear()  # another worker: its own local scores, the same cache
    spy.calls.clear()
    assert verify_image(image_url=url, product_name="red box") == first
    assert spy.calls == ["get_many"]
    assert image_server.hits["/red.png"] == 1


def test_a_cache_outage_costs_the_cache_not_the_check(
    clip_settings: Any, image_server: ImageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = image_server.add("/red.png", png_bytes(RED))
    expected = verify_image(image_url=url, product_name="red box")
    score_cache.local_scores.clear()
    spy = CacheSpy(service.default_cache, down=True)
    monkeypatch.setattr(service, "default_cache", spy)
    result = verify_image(image_url=url, product_name="red box")
    assert result == expected
    assert spy.calls == ["get_many", "set_many"]
    assert image_server.hits["/red.png"] == 2  # nothing could be read: fetched again


def test_new_name_on_same_image_reuses_the_image_embedding(
    clip_settings: Any, image_server: ImageServer
) -> None:
    url = image_server.add("/red.png", png_bytes(RED))
    calls = counter()
    verify_image(image_url=url, product_name="red box")
    text_calls = calls.text_calls
    verify_image(image_url=url, product_name="green bottle")
    assert image_server.hits["/red.png"] == 1  # no second fetch
    assert calls.image_calls == 1  # no second image encode
    assert calls.text_calls == text_calls + 1  # only the new name is encoded


def test_same_name_on_new_image_reuses_the_text_embedding(
    clip_settings: Any, image_server: ImageServer
) -> None:
    red = image_server.add("/red.png", png_bytes(RED))
    blue = image_server.add("/blue.png", png_bytes(BLUE))
    calls = counter()
    verify_image(image_url=red, product_name="red box")
    text_calls = calls.text_calls
    verify_image(image_url=blue, product_name="red box")
    assert calls.image_calls == 2
    assert calls.text_calls == text_calls


def test_new_weights_do_not_reuse_cached_scores(
    clip_settings: Any, image_server: ImageServer, tmp_path: Path
) -> None:
    url = image_server.add("/red.png", png_bytes(RED))
    first = verify_image(image_url=url, product_name="red box")
    other = tmp_path / "retrained.safetensors"
    state = load_file(str(clip_settings.CLIP_WEIGHTS))
    state = {
        k: v + 0.01 * torch.randn_like(v) if v.dtype.is_floating_point else v
        for k, v in state.items()
    }
    save_file(state, str(other))
    clip_settings.CLIP_WEIGHTS = other
    reset_models()
    second = verify_image(image_url=url, product_name="red box")
    assert second.model != first.model
    assert image_server.hits["/red.png"] == 2


# -------------------------------------------------------------------------- image fetch errors


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"gone", "text/plain", 404, "HTTP 404"),
        (b"<html>a page</html>", "text/html", 200, "could not be fetched"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "image/png", 200, "not a readable image"),
        (bomb_png(), "image/png", 200, "too large to check"),
    ],
    ids=["404", "html", "truncated", "bomb"],
)
def test_unusable_images_raise_image_fetch_failed(
    clip_settings: Any,
    image_server: ImageServer,
    body: bytes,
    content_type: str,
    status: int,
    message: str,
) -> None:
    url = image_server.add("/thing", body, content_type, status)
    calls = counter()
    with pytest.raises(ImageFetchFailed) as info:
        verify_image(image_url=url, product_name="red box")
    assert message in info.value.message
    assert (info.value.status_code, info.value.code) == (422, "image_fetch_failed")
    assert calls.image_calls == 0


def test_private_addresses_are_refused_by_the_safe_client(clip_settings: Any) -> None:
    clip_settings.OUTBOUND_HTTP_ALLOW_LOOPBACK = False
    with pytest.raises(ImageFetchFailed):
        verify_image(image_url="http://127.0.0.1:9/x.png", product_name="red box")


def test_pillow_bomb_limit_is_also_enforced_by_decode() -> None:
    with pytest.raises(ImageFetchFailed, match="too large"):
        images.decode_image(bomb_png(3000, 3000), max_pixels=1_000_000)


def test_transparent_images_are_flattened_on_white() -> None:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(out, format="PNG")
    image = images.decode_image(out.getvalue())
    assert image.mode == "RGB"
    assert image.getpixel((3, 3)) == (255, 255, 255)


def test_empty_product_name_is_a_validation_error(clip_settings: Any) -> None:
    with pytest.raises(ValidationFailed):
        verify_image(image_url="http://127.0.0.1:9/x.png", product_name="   ")


# ------------------------------------------------------------------------------------ timeout


def test_slow_inference_answers_unavailable_timeout(
    clip_settings: Any, image_server: ImageServer
) -> None:
    url = image_server.add("/red.png", png_bytes(RED))
    get_clip_model().get()
    calls = counter()
    calls.delay = 0.6
    clip_settings.ML_INFERENCE_TIMEOUT = 0.2
    started = time.perf_counter()
    result = verify_image(image_url=url, product_name="red box")
    elapsed = time.perf_counter() - started
    _assert_unavailable(result, "timeout")
    assert elapsed < 0.55  # the request did not wait for the model
    time.sleep(0.7)  # let the abandoned inference finish before the next test


# --------------------------------------------------------------------------------- best image


def test_best_image_encodes_candidates_as_one_batch_and_skips_failures(
    clip_settings: Any, image_server: ImageServer
) -> None:
    urls = [
        image_server.add("/red.png", png_bytes(RED)),
        image_server.add("/blue.png", png_bytes(BLUE, shape="disc")),
        image_server.add("/gone.png", b"", "text/plain", 404),
        image_server.add("/green.png", png_bytes(GREEN)),
    ]
    calls = counter()
    best, result = best_image(
        candidates=[{"url": u, "alt": ""} for u in urls] + [urls[0]], product_name="red box"
    )
    assert calls.image_batch_sizes == [3]  # one forward pass, the 404 skipped, dupes dropped
    assert (result.status, result.method) == ("ok", "clip")

    # Each candidate's own check is now cached and agrees: the best has the highest score.
    singles = {
        u: verify_image(image_url=u, product_name="red box") for u in urls if "gone" not in u
    }
    assert calls.image_batch_sizes == [3]
    assert best == max(singles, key=lambda u: singles[u].score)
    assert result.score == singles[best].score


def test_best_image_accepts_plain_urls_and_uses_the_cache(
    clip_settings: Any, image_server: ImageServer
) -> None:
    urls = [
        image_server.add("/red.png", png_bytes(RED)),
        image_server.add("/b.png", png_bytes(BLUE)),
    ]
    first = best_image(image_urls=urls, product_name="red box")
    calls = counter()
    again = best_image(image_urls=urls, product_name="red box")
    assert again == first
    assert (calls.image_calls, calls.text_calls) == (0, 0)
    assert image_server.hits["/red.png"] == 1


def test_best_image_reads_and_writes_the_shared_cache_once_each(
    clip_settings: Any, image_server: ImageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = [
        image_server.add("/red.png", png_bytes(RED)),
        image_server.add("/b.png", png_bytes(BLUE)),
        image_server.add("/g.png", png_bytes(GREEN)),
    ]
    spy = CacheSpy(service.default_cache)
    monkeypatch.setattr(service, "default_cache", spy)
    first = best_image(image_urls=urls, product_name="red box")
    assert spy.calls == ["get_many", "set_many"]  # not two reads and two writes a candidate

    # Another worker, a new name: the image embeddings come from the one read.
    score_cache.local_scores.clear()
    spy.calls.clear()
    calls = counter()
    best_image(image_urls=urls, product_name="blue disc")
    assert spy.calls == ["get_many", "set_many"]
    assert calls.image_calls == 0

    score_cache.local_scores.clear()
    spy.calls.clear()
    assert best_image(image_urls=urls, product_name="red box") == first
    assert spy.calls == ["get_many"]
    assert [image_server.hits[p] for p in ("/red.png", "/b.png", "/g.png")] == [1, 1, 1]


def test_best_image_when_no_candidate_can_be_fetched(
    clip_settings: Any, image_server: ImageServer
) -> None:
    urls = [
        image_server.add("/a", b"x", "text/html"),
        image_server.add("/b", b"", "image/png", 500),
    ]
    with pytest.raises(ImageFetchFailed, match="None of the 2 candidate images"):
        best_image(candidates=urls, product_name="red box")


def test_best_image_without_candidates(clip_settings: Any) -> None:
    url, result = best_image(candidates=[], product_name="red box")
    assert url is None
    assert (result.status, result.reason) == ("unavailable", "no candidate images")


# ------------------------------------------------------------------------------ text fallback


def test_filename_text_keeps_words_and_drops_noise() -> None:
    assert service.filename_text("https://x.test/i/Red-Leather_Boot_800x600.v2.jpg?w=1") == (
        "Red Leather Boot"
    )
    assert service.filename_text("https://x.test/img/1234567.png") == ""
    assert service.filename_text("https://x.test/a/oak%20table-3f9a2b7c1d.webp") == "oak table"


@pytest.mark.heavy
def test_text_fallback_ranks_by_alt_text_when_clip_is_unavailable(
    clip_settings: Any, image_server: ImageServer, tmp_path: Path
) -> None:
    clip_settings.CLIP_WEIGHTS = tmp_path / "missing.safetensors"
    reset_models()
    candidates = [
        {"url": image_server.base_url + "/logo.png", "alt": "Shop logo"},
        {"url": image_server.base_url + "/p1.jpg", "alt": "Red leather ankle boots, side view"},
        {"url": image_server.base_url + "/banner.jpg", "alt": "Free shipping on orders over $50"},
        {"url": image_server.base_url + "/images/blue-denim-jacket.jpg"},
    ]
    best, result = best_image(candidates=candidates, product_name="Women's red leather boots")
    assert best == image_server.base_url + "/p1.jpg"
    assert result.status == "ok"
    assert result.method == "text"
    assert result.calibrated is False
    assert "MiniLM" in (result.model or "")
    assert "CLIP weights not found" in result.reason
    assert sum(image_server.hits.values()) == 0  # nothing fetched

    best, result = best_image(candidates=candidates, product_name="blue denim jacket")
    assert best == image_server.base_url + "/images/blue-denim-jacket.jpg"  # by file name


def test_text_fallback_unavailable_too_reports_both_reasons(
    clip_settings: Any, tmp_path: Path
) -> None:
    clip_settings.CLIP_WEIGHTS = tmp_path / "missing.safetensors"
    clip_settings.PAGE_ENCODER_DIR = str(tmp_path / "no-encoder")
    reset_models()
    url, result = best_image(
        candidates=[{"url": "http://127.0.0.1:9/a.jpg", "alt": "red boots"}],
        product_name="red boots",
    )
    assert url is None
    assert result.status == "unavailable"
    assert result.method == "text"
    assert "CLIP weights not found" in result.reason
    assert "text fallback unavailable" in result.reason


def test_text_fallback_without_any_text(clip_settings: Any, tmp_path: Path) -> None:
    clip_settings.CLIP_WEIGHTS = tmp_path / "missing.safetensors"
    reset_models()
    url, result = best_image(candidates=["http://127.0.0.1:9/123456.jpg"], product_name="boots")
    assert url is None
    assert result.status == "unavailable"
    assert "no alt text or file name" in result.reason


def test_loader_lock_allows_one_load_when_threads_call_get_directly(clip_settings: Any) -> None:
    holder = get_clip_model()
    loads_before = holder.load_count
    barrier = threading.Barrier(5)
    bundles: list[Any] = []

    def call() -> None:
        barrier.wait()
        bundles.append(holder.get())

    threads = [threading.Thread(target=call) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert holder.load_count == loads_before + 1
    assert len({id(b) for b in bundles}) == 1


def test_trimmed_text_encoding_equals_open_clip_encode_text(clip_settings: Any) -> None:
    bundle = get_clip_model().get()
    assert bundle.trim_text is True
    names = ["a photo of red leather ankle boots.", "x", "a much longer product name " * 2]
    tokens = bundle.tokenizer(names)
    with torch.inference_mode():
        full = bundle.model.encode_text(tokens, normalize=True).numpy()
    assert encoding.encode_texts(bundle, names) == pytest.approx(full, abs=1e-5)


def test_another_worker_reuses_the_shared_cache(
    clip_settings: Any, image_server: ImageServer
) -> None:
    """The per-process score LRU is only a front: a fresh process answers from Redis."""
    url = image_server.add("/red.png", png_bytes(RED))
    first = verify_image(image_url=url, product_name="red box")
    score_cache.local_scores.clear()  # as in another worker process
    calls = counter()
    again = verify_image(image_url=url, product_name="red box")
    assert again == first
    assert (calls.image_calls, calls.text_calls, image_server.hits["/red.png"]) == (0, 0, 1)


def test_inference_thread_uses_ml_num_threads(
    clip_settings: Any, image_server: ImageServer
) -> None:
    clip_settings.ML_NUM_THREADS = 1
    verify_image(image_url=image_server.add("/red.png", png_bytes(RED)), product_name="red box")
    assert run_inference(torch.get_num_threads, 5) == 1
