"""CLIP on ONNX Runtime, the torch-free serving path, and the start-up warm-up.

* The numpy tokenizer gives open_clip's ids and the numpy/Pillow transform open_clip's pixels.
* The tiny CLIP and tiny BERT go through the production exporter; the ONNX bundle's
  embeddings match torch's (cosine >= 0.999) through the production loaders.
* A subprocess with torch, open_clip and transformers made unimportable loads both exported
  models and answers a page check and an image check (a real image from a loopback server).
* The warm-up loads the models on its thread while ``/ready`` answers 503 "warming", then the
  first check loads nothing; with no model files there is nothing to warm.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.test import Client

from mlverify import onnx_export, onnx_gate, onnx_runtime, registry, warmup
from mlverify.clip.tokenizer import ClipTokenizer, fix_text_basic
from mlverify.tests.tiny_clip import ImageServer, TinyClip, png_bytes
from mlverify.tests.tiny_models import TinyBert

REPO = Path(__file__).resolve().parents[2]
TEXTS = [
    "a photo of a solid oak dining table.",
    "Crème brûlée Torch — 2× “Deluxe” édition",
    "日本語の商品名 スニーカー 27.5cm",
    "ＡＢＣ　全角テキスト！",
    "emoji 👟🔥 sneakers",
    "Tom&amp;Jerry &lt;3 it's they're we'll I'd",
    "ﬁne ﬂour 1kg",
    "Ünïcödé ΑΒΓ Привет мир ١٢٣ ½ ² Ⅻ",
    "  lots   of\n\nwhitespace\t tabs\r\n",
    "x" * 300,
    "<start_of_text>hello<end_of_text>",
    "",
    "Müller's Straße 5€ £3 ¥500 ₹1,299.00",
    "한국어 제품 ไทย עברית العربية",
    "don\u2019t stop \u201cquoted\u201d",
    "nike air max 90 - men's running shoe (white/black) #CW7483-100",
]


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


def test_tokenizer_gives_open_clips_ids_with_and_without_ftfy() -> None:
    from open_clip.tokenizer import SimpleTokenizer, default_bpe

    for context in (77, 16):
        expected = SimpleTokenizer(context_length=context)(TEXTS).numpy()
        for fix_text in (None, fix_text_basic):  # ftfy when installed; the stdlib steps
            ours = ClipTokenizer(Path(default_bpe()), context_length=context, fix_text=fix_text)
            got = ours(TEXTS)
            assert got.dtype == np.int64
            np.testing.assert_array_equal(got, expected)


def test_preprocess_equals_open_clips_eval_transform() -> None:
    import open_clip
    from PIL import Image

    from mlverify.clip.preprocess import PreprocessConfig, preprocess

    _, _, transform = open_clip.create_model_and_transforms("ViT-B-32")
    config = PreprocessConfig(image_size=224)
    rng = np.random.default_rng(0)
    sizes = [(300, 400, "RGB"), (640, 480, "RGB"), (224, 224, "RGB"), (225, 999, "L")]
    sizes += [(100, 50, "RGB"), (333, 333, "RGBA"), (500, 261, "P"), (223, 300, "CMYK")]
    for width, height, mode in sizes:
        image = Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
        image = image.convert(mode)
        np.testing.assert_array_equal(preprocess(image, config), transform(image).numpy())


@pytest.fixture(scope="module")
def exports(
    tmp_path_factory: pytest.TempPathFactory, tiny_clip: TinyClip, tiny_bert: TinyBert
) -> Path:
    """A model dir whose ``onnx/`` holds the tiny BERT's and the tiny CLIP's exports."""
    from mlverify.clip.config import ClipConfig
    from mlverify.clip.loading import load_clip

    model_dir = tmp_path_factory.mktemp("onnx-both")
    root = onnx_runtime.onnx_dir(model_dir)
    onnx_export.export_minilm(tiny_bert.encoder_dir, root)
    bundle = load_clip(ClipConfig(model_name=tiny_clip.model_name, weights=tiny_clip.weights))
    onnx_export.export_clip(bundle, root)
    return model_dir


def test_onnx_clip_bundle_matches_torch(exports: Path, tiny_clip: TinyClip) -> None:
    from PIL import Image

    from mlverify.clip.config import ClipConfig
    from mlverify.clip.encoding import encode_images, encode_texts, match_probability
    from mlverify.clip.loading import load_clip, load_serving_clip

    base = ClipConfig(model_name=tiny_clip.model_name, weights=tiny_clip.weights)
    torch_bundle = load_clip(base)
    onnx_bundle = load_serving_clip(
        ClipConfig(**{**base.__dict__, "runtime": "onnx", "model_dir": exports})
    )
    assert onnx_bundle.onnx is not None and onnx_bundle.model is None
    served = onnx_bundle.onnx.variants
    if served == {"image": "fp32", "text": "fp32"}:
        assert onnx_bundle.version == torch_bundle.version  # fp32: same caches and calibration
    else:  # int8 (its gate held at export): caches of its own, the weights' calibration
        assert onnx_bundle.version.startswith(torch_bundle.version + "+onnx-")
    assert onnx_bundle.weights_version == torch_bundle.version
    # fp32 equals torch (cosine 0.999); an int8 tower was served because it kept 0.99
    bar = {"fp32": 0.999, "int8": onnx_gate.INT8_MIN_COSINE}
    assert onnx_bundle.image_size == torch_bundle.image_size == 32
    rng = np.random.default_rng(1)
    images = [
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
        for w, h in ((48, 48), (90, 40), (32, 70), (33, 33), (200, 120), (64, 64), (40, 41), (5, 9))
    ]
    got, expected = encode_images(onnx_bundle, images), encode_images(torch_bundle, images)
    assert _cos(got, expected).min() >= bar[served["image"]]
    names = ["a photo of a red leather boot.", "Crème brûlée torch", "日本語 スニーカー", "x"]
    text_onnx, text_torch = encode_texts(onnx_bundle, names), encode_texts(torch_bundle, names)
    assert _cos(text_onnx, text_torch).min() >= bar[served["text"]]
    assert _cos(onnx_bundle.negatives, torch_bundle.negatives).min() >= bar[served["text"]]
    p_onnx = match_probability(onnx_bundle, got[0], text_onnx[0])
    p_torch = match_probability(torch_bundle, expected[0], text_torch[0])
    assert abs(p_onnx - p_torch) < (1e-3 if served["image"] == served["text"] == "fp32" else 0.02)


def test_text_graph_with_dynamic_length_equals_the_77_token_output(
    exports: Path, tiny_clip: TinyClip
) -> None:
    """The text graph runs only up to the batch's last end-of-text token; what it gives equals
    open_clip's ``encode_text`` over the whole context, text by text and in mixed batches
    (from 2 tokens to the truncated context, and ids of 0 inside a text: the byte "!" in
    "really!?~")."""
    import torch

    from mlverify.clip.config import ClipConfig
    from mlverify.clip.encoding import encode_texts, used_length
    from mlverify.clip.loading import load_clip
    from mlverify.clip.onnx_serving import read_serving

    root = onnx_runtime.onnx_dir(exports)
    assert read_serving(root / "clip")["text_length"] == "dynamic"  # type: ignore[index]
    bundle = load_clip(ClipConfig(model_name=tiny_clip.model_name, weights=tiny_clip.weights))
    assert bundle.trim_text
    text = onnx_runtime.open_session(
        onnx_runtime.ExportedModel(
            key="clip_text",
            path=root / "clip" / "text.onnx",
            sha256="",
            variant="fp32",
            source_fingerprint="",
            opset=onnx_export.OPSET,
        )
    )
    texts = [*TEXTS, "really!?~ wow !~^ deal", "oak " * 40, "a", "table"]
    tokens = bundle.tokenizer(texts)
    with torch.no_grad():
        full = bundle.model.encode_text(tokens, normalize=True).numpy()
    lengths = set()
    for row in range(len(texts)):
        one = tokens[row : row + 1, : used_length(tokens[row : row + 1])].numpy()
        lengths.add(one.shape[1])
        got = text.run(None, {"tokens": one.astype(np.int64)})[0]
        assert _cos(got, full[row : row + 1]).min() >= 0.9999, texts[row]
    assert min(lengths) <= 3 and max(lengths) == tokens.shape[1]  # nearly empty to truncated
    for batch in (slice(0, 4), slice(4, 12), slice(12, None), slice(None)):
        part = tokens[batch]
        got = text.run(None, {"tokens": part[:, : used_length(part)].numpy().astype(np.int64)})
        assert _cos(got[0], full[batch]).min() >= 0.9999
    # the torch path trims the same way ("!" inside a text once cut its end-of-text token off)
    assert _cos(encode_texts(bundle, texts), full).min() >= 0.9999


def test_int8_gate_figures_are_in_the_manifest_and_decide_what_serves(exports: Path) -> None:
    manifest = json.loads((onnx_runtime.onnx_dir(exports) / "manifest.json").read_text())
    for key in ("clip_image", "clip_text"):
        entry = manifest["models"][key]
        gate = entry["int8_gate"]
        assert entry["serve"] == ("int8" if gate["passed"] else "fp32")
        assert gate["pairs"] == 8 * len(onnx_gate.GATE_PRODUCT_NAMES)
        assert set(gate["cosine_to_fp32"]) == {"image", "text"}
        holds = [t["holds"] for t in gate["tried"]]  # tried in order, up to one held
        assert not any(holds[:-1])
        served_int8 = {manifest["models"][k]["serve"] for k in ("clip_image", "clip_text")}
        assert holds[-1] == ("int8" in served_int8)
        if gate["passed"]:
            assert gate["cosine_to_fp32"][key.removeprefix("clip_")] >= onnx_gate.INT8_MIN_COSINE
    # the tiny model's int8 towers move no decision: at least one is served in int8
    assert "int8" in {manifest["models"][k]["serve"] for k in ("clip_image", "clip_text")}


def test_int8_image_tower_keeps_its_convolution_in_fp32(exports: Path) -> None:
    # ConvInteger has no fast CPU kernel: it was a fifth of ViT-B-32's int8 image tower.
    import onnx

    manifest = json.loads((onnx_runtime.onnx_dir(exports) / "manifest.json").read_text())
    files = manifest["models"]["clip_image"]["files"]
    ops = {
        variant: {
            n.op_type for n in onnx.load(onnx_runtime.onnx_dir(exports) / f["path"]).graph.node
        }
        for variant, f in files.items()
    }
    assert "Conv" in ops["fp32"]
    assert "Conv" in ops["int8"] and "ConvInteger" not in ops["int8"]
    assert ops["int8"] & {"MatMulInteger", "DynamicQuantizeMatMul"}  # the rest is int8


def test_served_only_drops_the_unserved_towers_and_serves_the_same(
    exports: Path, tiny_clip: TinyClip, tmp_path: Path
) -> None:
    """``export_onnx --served-only`` (the image build): each model keeps the one file it serves
    (the tiny CLIP's int8 towers, MiniLM's fp32 encoder), and what is served, its version and
    its embeddings are exactly those of the full export."""
    import shutil

    from PIL import Image

    from mlverify.clip.config import ClipConfig
    from mlverify.clip.encoding import encode_images, encode_texts
    from mlverify.clip.loading import load_serving_clip

    model_dir = tmp_path / "models"
    shutil.copytree(exports, model_dir)
    root = onnx_runtime.onnx_dir(model_dir)
    before = json.loads((root / "manifest.json").read_text())["models"]
    assert onnx_runtime.unserved_files(root)  # the full export holds both variants of each

    dropped = onnx_export.drop_unserved(root)

    after = json.loads((root / "manifest.json").read_text())["models"]
    assert onnx_runtime.unserved_files(root) == []
    for key, entry in before.items():
        unserved = sorted(set(entry["files"]) - {entry["serve"]})
        assert dropped[key] == unserved == after[key]["dropped"]
        assert after[key]["files"] == {entry["serve"]: entry["files"][entry["serve"]]}
        assert after[key]["int8_gate"] == entry["int8_gate"]
        for variant in unserved:
            assert not (root / entry["files"][variant]["path"]).exists()
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.onnx")) == sorted(
        e["files"][e["serve"]]["path"] for e in before.values()
    )
    images = [Image.new("RGB", (40, 30), (200, 30, 30)), Image.new("RGB", (33, 50), (9, 9, 9))]
    names = ["a photo of a red leather boot.", "x"]
    bundles = [
        load_serving_clip(
            ClipConfig(
                model_name=tiny_clip.model_name,
                weights=tmp_path / "absent.safetensors",  # an image ships the export only
                runtime="onnx",
                model_dir=where,
            )
        )
        for where in (exports, model_dir)
    ]
    full, pruned = bundles
    assert pruned.version == full.version and pruned.label == full.label
    np.testing.assert_array_equal(encode_images(pruned, images), encode_images(full, images))
    np.testing.assert_array_equal(encode_texts(pruned, names), encode_texts(full, names))


def test_int8_is_not_served_when_the_gate_fails(
    tiny_clip: TinyClip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no score movement allowed, int8's (small) movement fails the gate: fp32 serves,
    and the manifest records every combination tried and why."""
    from mlverify.clip.config import ClipConfig
    from mlverify.clip.loading import load_clip

    monkeypatch.setattr(onnx_gate, "INT8_MAX_SCORE_DELTA", 0.0)
    bundle = load_clip(ClipConfig(model_name=tiny_clip.model_name, weights=tiny_clip.weights))
    results = onnx_export.export_clip(bundle, tmp_path)
    assert [r.serve for r in results] == ["fp32", "fp32"]
    gate = results[0].gate
    assert gate["passed"] is False and "failed the gate" in gate["reason"]
    assert len(gate["tried"]) == 3 and not any(t["holds"] for t in gate["tried"])
    assert max(t["max_score_delta"] for t in gate["tried"]) > 0


def test_int8_clip_keeps_the_weights_calibration(
    exports: Path, tiny_clip: TinyClip, tmp_path: Path
) -> None:
    from mlverify.clip.calibration import clear_calibration_cache, resolve_threshold
    from mlverify.clip.config import ClipConfig
    from mlverify.clip.loading import load_serving_clip

    calibration = tmp_path / "calibration.json"
    config = ClipConfig(
        model_name=tiny_clip.model_name,
        weights=tiny_clip.weights,
        runtime="onnx",
        model_dir=exports,
        calibration_file=calibration,
    )
    bundle = load_serving_clip(config)
    calibration.write_text(json.dumps({"threshold": 0.31, "model_version": bundle.weights_version}))
    clear_calibration_cache()
    assert resolve_threshold(config, bundle.version, weights_version=bundle.weights_version) == (
        0.31,
        True,
    )
    calibration.write_text(json.dumps({"threshold": 0.31, "model_version": "other@123"}))
    clear_calibration_cache()
    assert resolve_threshold(config, bundle.version, weights_version=bundle.weights_version) == (
        config.threshold,
        False,
    )


def test_onnx_runtime_without_export_is_unavailable_with_reasons(
    tiny_clip: TinyClip, tmp_path: Path
) -> None:
    from mlverify.clip.config import ClipConfig
    from mlverify.clip.loading import load_serving_clip
    from mlverify.inference import ModelUnavailable

    config = ClipConfig(
        model_name=tiny_clip.model_name,
        weights=tmp_path / "absent.safetensors",
        runtime="onnx",
        model_dir=tmp_path,
    )
    with pytest.raises(ModelUnavailable, match="export_onnx; CLIP weights not found"):
        load_serving_clip(config)


NO_TORCH_SCRIPT = """
import sys
for name in ("torch", "open_clip", "transformers", "torchvision", "timm"):
    sys.modules[name] = None  # any import of these now raises ImportError
import django
django.setup()
from mlverify.clip.service import verify_image
from mlverify.page_check.services import classify_url
page = classify_url(url="https://shop.example.com/p/oak-table-123", title="Oak table")
image = verify_image(image_url=sys.argv[1], product_name="red square")
print("RESULT", __import__("json").dumps({"page": page.status, "page_model": page.model,
    "image": image.status, "image_model": image.model, "score": image.score,
    "reason": image.reason or page.reason}))
"""


@pytest.mark.heavy
@pytest.mark.parametrize("with_source", [True, False], ids=["with-source", "export-only"])
def test_serving_path_never_imports_torch(
    exports: Path,
    tiny_clip: TinyClip,
    tiny_bert: TinyBert,
    image_server: ImageServer,
    tmp_path: Path,
    with_source: bool,
) -> None:
    """Both exported models answer with torch, open_clip and transformers unimportable; the
    export alone is enough (a production image has neither the encoder package nor weights)."""
    url = image_server.add("/red.png", png_bytes((220, 20, 20)))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "buyhive.settings.test",
        "MODEL_RUNTIME": "onnx",
        "BUYHIVE_MODEL_DIR": str(exports),
        "PAGE_CLASSIFIER_DIR": str(tiny_bert.classifier_dir),
        "CLIP_MODEL": tiny_clip.model_name,
        "CLIP_CALIBRATION_FILE": str(tmp_path / "calibration.json"),
        "PAGE_ENCODER_DIR": str(tiny_bert.encoder_dir if with_source else tmp_path / "none"),
        "CLIP_WEIGHTS": str(tiny_clip.weights if with_source else tmp_path / "none.safetensors"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", NO_TORCH_SCRIPT, url],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    assert result["page"] == "ok" and result["image"] == "ok", result
    manifest = json.loads((onnx_runtime.onnx_dir(exports) / "manifest.json").read_text())
    served = {key: entry["serve"] for key, entry in manifest["models"].items()}
    assert f"+onnx-{served['minilm']}" in result["page_model"]
    assert f"(onnx {served['clip_image']}/{served['clip_text']})" in result["image_model"]
    assert 0.0 <= result["score"] <= 1.0
    assert image_server.hits["/red.png"] == 1


# ---------------------------------------------------------------------------------------------
# Warm-up and /ready
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def onnx_settings(
    settings: Any, exports: Path, tiny_clip: TinyClip, tiny_bert: TinyBert, tmp_path: Path
) -> Any:
    settings.MODEL_RUNTIME = "onnx"
    settings.BUYHIVE_MODEL_DIR = exports
    settings.CLIP_MODEL = tiny_clip.model_name
    settings.CLIP_WEIGHTS = tiny_clip.weights
    settings.CLIP_CALIBRATION_FILE = tmp_path / "calibration.json"
    settings.PAGE_ENCODER_DIR = str(tiny_bert.encoder_dir)
    settings.PAGE_CLASSIFIER_DIR = tiny_bert.classifier_dir
    settings.ML_WARMUP = True
    warmup.reset()
    registry.reset_models()
    yield settings
    warmup.reset()
    registry.reset_models()


@pytest.mark.heavy
@pytest.mark.django_db
def test_ready_says_warming_until_the_models_are_loaded(
    onnx_settings: Any, image_server: ImageServer
) -> None:
    client = Client()
    assert client.get("/ready").status_code == 200  # before any warm-up: as ever
    clip = registry.get_clip_model()
    before = (clip.load_count, registry.get_page_classifier().load_count)
    # A CLIP load in progress elsewhere holds the holder's lock: the warm-up waits for it.
    with clip._lock:
        thread = warmup.start_warmup()
        assert thread is not None
        response = client.get("/ready")
        body = response.json()
        assert response.status_code == 503
        assert body["status"] == "warming"
        assert body["checks"]["models"]["status"] == "warming"
        assert body["checks"]["models"]["models"]["clip"]["state"] == "warming"
        assert body["checks"]["database"]["status"] == "ok"
    thread.join(timeout=120)
    assert not thread.is_alive()
    response = client.get("/ready")
    body = response.json()
    assert response.status_code == 200, body
    models = body["checks"]["models"]["models"]
    assert {models["clip"]["state"], models["page_classifier"]["state"]} == {"loaded"}
    assert warmup.start_warmup() is None  # once per process

    # The first checks after the warm-up load nothing.
    from mlverify.clip.service import verify_image
    from mlverify.page_check.services import classify_url

    loads = (clip.load_count, registry.get_page_classifier().load_count)
    assert loads == (before[0] + 1, before[1] + 1)  # the warm-up loaded each model once
    assert classify_url(url="https://shop.example.com/p/lamp", title="Lamp").status == "ok"
    url = image_server.add("/blue.png", png_bytes((20, 20, 220)))
    assert verify_image(image_url=url, product_name="blue square").status == "ok"
    assert (clip.load_count, registry.get_page_classifier().load_count) == loads


@pytest.mark.django_db
def test_without_model_files_there_is_nothing_to_warm(
    settings: Any, tmp_path: Path, tiny_clip: TinyClip
) -> None:
    settings.MODEL_RUNTIME = "onnx"
    settings.BUYHIVE_MODEL_DIR = tmp_path
    settings.CLIP_WEIGHTS = tmp_path / "absent.safetensors"
    settings.ML_WARMUP = True
    warmup.reset()
    registry.reset_models()
    try:
        thread = warmup.start_warmup()  # only the URLconf: no model to wait for
        assert thread is not None and warmup.state() == "done"
        response = Client().get("/ready")
        assert response.status_code == 200
        models = response.json()["checks"]["models"]
        assert models["status"] == "reported"
        assert models["models"]["clip"]["state"] == "not_loaded"  # what it says today
        thread.join(timeout=60)
        assert warmup.start_warmup() is None  # once per process
    finally:
        warmup.reset()
        registry.reset_models()


def test_warm_models_reports_an_unavailable_model_with_its_reason(
    settings: Any, tmp_path: Path
) -> None:
    settings.MODEL_RUNTIME = "onnx"
    settings.BUYHIVE_MODEL_DIR = tmp_path
    settings.CLIP_WEIGHTS = tmp_path / "absent.safetensors"
    registry.reset_models()
    try:
        outcomes = warmup.warm_models(["clip"])
        assert outcomes["clip"].startswith("unavailable: CLIP ONNX export missing")
        state = registry.model_states()["clip"]
        assert state["state"] == "unavailable" and "export_onnx" in state["reason"]
    finally:
        registry.reset_models()


def test_warmup_thread_never_blocks_the_caller(onnx_settings: Any) -> None:
    clip = registry.get_clip_model()
    with clip._lock:  # the load cannot finish while held: start_warmup must still return
        thread = warmup.start_warmup()
        assert thread is not None and thread.is_alive()
        assert warmup.state() == "warming"
    thread.join(timeout=120)
    assert warmup.state() == "done"


def test_production_serves_onnx_and_warms_by_default() -> None:
    from buyhive.tests.test_production_settings import production_env, run_python

    proc = run_python(
        """
        import json
        from django.conf import settings
        print(json.dumps({"runtime": settings.MODEL_RUNTIME, "warmup": settings.ML_WARMUP}))
        """,
        production_env(),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"runtime": "onnx", "warmup": True}
