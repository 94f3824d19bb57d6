"""``manage.py export_onnx``: export the page encoder and CLIP to ONNX for serving without torch.

Writes ``BUYHIVE_MODEL_DIR/onnx/`` (or ``--out``): fp32 and int8 files and ``manifest.json``
(see :mod:`mlverify.onnx_export`); int8 is served where its accuracy gate holds, fp32
otherwise, and the manifest says which and why. Run it after ``download_models`` and at image
build; the web process then serves on ONNX Runtime (``MODEL_RUNTIME=auto``). A model whose
source is missing is skipped with the reason (CLIP weights are optional, as in the API);
``--strict`` makes that an error. ``--served-only`` (the image build) then deletes the
variants that are not served: serving never loads them. Needs torch, open_clip and
transformers (requirements/ml.txt), unlike serving.
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
            "--pages",
            type=Path,
            default=None,
            help=(
                "Development pages for MiniLM's int8 gate (every page-check decision must be "
                "the fp32 export's). Default: the shared data folder when present; without "
                "pages MiniLM is served in fp32."
            ),
        )
        parser.add_argument(
            "--strict", action="store_true", help="Fail when a model's source is missing."
        )
        parser.add_argument(
            "--served-only",
            action="store_true",
            help=(
                "Keep only the variant each model serves (the image build): the other one is "
                "never loaded. The manifest keeps both variants' figures."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from mlverify import onnx_export
        from mlverify.clip.calibration import resolve_threshold
        from mlverify.clip.config import ClipConfig
        from mlverify.clip.loading import load_clip
        from mlverify.page_check.config import ClassifierConfig
        from mlverify.training.defaults import default_data_dir

        root = Path(options["out"] or onnx_dir(model_dir_from_settings()))
        models = options["models"] or ["minilm", "clip"]
        int8 = not options["no_int8"]
        pages = options["pages"]
        if pages is None and default_data_dir().is_dir():
            pages = default_data_dir()
        results: list[onnx_export.ExportResult] = []
        for name in models:
            try:
                if name == "minilm":
                    page_config = ClassifierConfig.from_settings()
                    if page_config.encoder_dir is None:
                        raise ModelUnavailable("page encoder missing: package not installed")
                    results.append(
                        onnx_export.export_minilm(
                            page_config.encoder_dir,
                            root,
                            int8=int8,
                            classifier_dir=page_config.classifier_dir,
                            pages_dir=pages,
                        )
                    )
                else:
                    config = ClipConfig.from_settings()
                    bundle = load_clip(config)
                    threshold, _ = resolve_threshold(config, bundle.version)
                    results.extend(
                        onnx_export.export_clip(bundle, root, int8=int8, threshold=threshold)
                    )
            except ModelUnavailable as exc:
                if options["strict"]:
                    raise CommandError(f"{name}: {exc.reason}") from exc
                self.stdout.write(f"{name}: skipped ({exc.reason})")
        for result in results:
            cosines = ", ".join(f"{k} {v:.6f}" for k, v in sorted(result.cosine.items()))
            self.stdout.write(f"{result.key}: serve {result.serve} (cosine to torch: {cosines})")
            if result.gate:
                self.stdout.write(f"  int8 gate: {result.gate.get('reason')}")
        if options["served_only"]:
            for key, variants in sorted(onnx_export.drop_unserved(root).items()):
                self.stdout.write(f"{key}: dropped {', '.join(variants)} (not served)")
        self.stdout.write(f"manifest: {root / 'manifest.json'}")
