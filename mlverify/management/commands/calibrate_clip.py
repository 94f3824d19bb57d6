"""``manage.py calibrate_clip --data DIR``: pick the CLIP match threshold from labelled images.

``DIR/labels.csv`` has a header and one row per pair: ``file,product_name,match`` where
``file`` is an image path relative to DIR and ``match`` is 1 when the image shows the named
product, 0 when it does not. Each image is scored as the API scores it (same decoding, same
prompts and negatives), the threshold maximising F1 (or Youden's J) is chosen, and the
calibration JSON (threshold, counts, metrics, model version, date) is written to
``CLIP_CALIBRATION_FILE``. The API then reports that threshold with ``calibrated: true`` for
as long as the same weights are loaded.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from buyhive.exceptions import ImageFetchFailed
from mlverify.clip.calibration import choose_threshold, score_pairs
from mlverify.clip.config import MAX_IMAGE_BYTES, ClipConfig
from mlverify.clip.images import decode_image
from mlverify.inference import ModelUnavailable
from mlverify.registry import get_clip_model

_TRUE = {"1", "true", "yes", "y"}
_FALSE = {"0", "false", "no", "n"}


def read_labels(data_dir: Path) -> list[tuple[Path, str, bool]]:
    """Rows of ``labels.csv`` as (image path inside DIR, product name, match)."""
    labels = data_dir / "labels.csv"
    if not labels.is_file():
        raise CommandError(f"{labels} not found (columns: file,product_name,match)")
    root = data_dir.resolve()
    rows: list[tuple[Path, str, bool]] = []
    with labels.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"file", "product_name", "match"} - set(reader.fieldnames or [])
        if missing:
            raise CommandError(f"{labels} lacks column(s): {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            path = (root / (row["file"] or "").strip()).resolve()
            if not path.is_relative_to(root):
                raise CommandError(f"{labels}:{line}: {row['file']!r} is outside {root}")
            flag = (row["match"] or "").strip().lower()
            if flag not in _TRUE | _FALSE:
                raise CommandError(f"{labels}:{line}: match must be 0 or 1, got {row['match']!r}")
            name = (row["product_name"] or "").strip()
            if not name:
                raise CommandError(f"{labels}:{line}: empty product_name")
            rows.append((path, name, flag in _TRUE))
    return rows


class Command(BaseCommand):
    help = "Compute the CLIP match threshold from a labelled folder and write the calibration."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", required=True, help="Folder with labels.csv and images.")
        parser.add_argument(
            "--output", default=None, help="Calibration file (default: CLIP_CALIBRATION_FILE)."
        )
        parser.add_argument("--metric", choices=("f1", "youden"), default="f1")
        parser.add_argument("--batch", type=int, default=16, help="Images per forward pass.")

    def handle(self, *args: Any, **options: Any) -> None:
        data_dir = Path(options["data"])
        if not data_dir.is_dir():
            raise CommandError(f"{data_dir} is not a folder")
        config = ClipConfig.from_settings()
        output = Path(options["output"]) if options["output"] else config.calibration_file
        if output is None:
            raise CommandError("no --output and CLIP_CALIBRATION_FILE is not set")
        rows = read_labels(data_dir)
        try:
            bundle = get_clip_model().get()
        except ModelUnavailable as exc:
            raise CommandError(f"CLIP is unavailable: {exc.reason}") from exc

        pairs, labels, skipped = [], [], []
        for path, name, match in rows:
            try:
                data = path.read_bytes()
                if len(data) > MAX_IMAGE_BYTES:
                    raise ImageFetchFailed(f"larger than {MAX_IMAGE_BYTES} bytes")
                pairs.append((decode_image(data, max_pixels=config.max_image_pixels), name))
                labels.append(match)
            except (OSError, ImageFetchFailed) as exc:
                skipped.append(path.name)
                self.stderr.write(f"skipped {path.name}: {exc}")
        if not pairs:
            raise CommandError("no readable images")
        scores = score_pairs(bundle, pairs, batch=max(1, options["batch"]))
        try:
            chosen = choose_threshold(scores, labels, metric=options["metric"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

        labels_file = data_dir / "labels.csv"
        calibration = {
            "threshold": chosen["threshold"],
            "metric": options["metric"],
            "model_version": bundle.version,
            "model": bundle.label,
            "n": len(pairs),
            "positives": sum(labels),
            "negatives": len(labels) - sum(labels),
            "skipped": len(skipped),
            "metrics": {k: v for k, v in chosen.items() if k not in ("threshold", "metric")},
            "data_dir": str(data_dir.resolve()),
            "labels_sha256": hashlib.sha256(labels_file.read_bytes()).hexdigest(),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_name(output.name + ".tmp")
        tmp.write_text(json.dumps(calibration, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, output)
        m = calibration["metrics"]
        self.stdout.write(
            self.style.SUCCESS(
                f"threshold {chosen['threshold']:.4f} ({options['metric']}) on {len(pairs)} pairs "
                f"({calibration['positives']} match, {calibration['negatives']} not): "
                f"precision {m['precision']:.3f} recall {m['recall']:.3f} F1 {m['f1']:.3f} "
                f"-> {output}"
            )
        )
