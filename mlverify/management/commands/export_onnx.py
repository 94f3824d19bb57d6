"""``manage.py export_onnx``: export the page encoder and CLIP to ONNX for serving without torch.

Writes ``BUYHIVE_MODEL_DIR/onnx/`` (or ``--out``): fp32 and int8 files and ``manifest.json``
(see :mod:`mlverify.onnx_export`). Run it after ``download_models`` and at image build; the web
process then serves on ONNX Runtime (``MODEL_RUNTIME=auto``). A model whose source is missing
is skipped with the reason (CLIP weights are optional, as in the API); ``--strict`` makes that
an error. Needs torch, open_clip and transformers (requirements/ml.txt), unlike serving.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlverify.inference import ModelUnavailable
from mlverify.onnx_runtime import model_dir_from_settings, onnx_dir


class Command(BaseCommand):
    help = "Export the MiniLM page encoder and CLIP (image and text towers) to ONNX (+ int8)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--out", type=Path, default=None, help="Default: BUYHIVE_MODEL_DIR/onnx"
        )
        parser.add_argument(
            "--model",
            action="append",
            dest="models",
            choices=["minilm", "clip"],
            default=None,
            help="Export only this model; repeatable.",
        )
        parser.add_argument("--no-int8", action="store_true", help="Skip int8 quantisation.")
        parser.add_argument(
            "--serve-int8",
            action="append",
            dest="serve_int8",
            choices=["minilm", "clip_image", "clip_text"],
            default=None,
            help=(
                "Serve this model's int8 file (when its cosine to torch clears the bar); "
                "repeatable. Default: fp32 everywhere, since a high cosine did not keep "
                "MiniLM's decisions (check decisions on real data first)."
            ),
        )
        parser.add_argument(
            "--strict", action="store_true", help="Fail when a model's source is missing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from mlverify import onnx_export
        from mlverify.clip.config import ClipConfig
        from mlverify.clip.loading import load_clip
        from mlverify.page_check.config import ClassifierConfig

        root = Path(options["out"] or onnx_dir(model_dir_from_settings()))
        models = options["models"] or ["minilm", "clip"]
        int8 = not options["no_int8"]
        serve_int8 = set(options["serve_int8"] or ())
        results: list[onnx_export.ExportResult] = []
        for name in models:
            try:
                if name == "minilm":
                    encoder_dir = ClassifierConfig.from_settings().encoder_dir
                    if encoder_dir is None:
                        raise ModelUnavailable("page encoder missing: package not installed")
                    results.append(
                        onnx_export.export_minilm(
                            encoder_dir, root, int8=int8, serve_int8="minilm" in serve_int8
                        )
                    )
                else:
                    bundle = load_clip(ClipConfig.from_settings())
                    results.extend(
                        onnx_export.export_clip(bundle, root, int8=int8, serve_int8=serve_int8)
                    )
            except ModelUnavailable as exc:
                if options["strict"]:
                    raise CommandError(f"{name}: {exc.reason}") from exc
                self.stdout.write(f"{name}: skipped ({exc.reason})")
        for result in results:
            cosines = ", ".join(f"{k} {v:.6f}" for k, v in sorted(result.cosine.items()))
            self.stdout.write(f"{result.key}: serve {result.serve} (cosine to torch: {cosines})")
        self.stdout.write(f"manifest: {root / 'manifest.json'}")
