"""``manage.py train_page_classifier``: build the data set, evaluate by held-out site, and
write the committed head (``mlverify/page_classifier/head.json``) and its model card.

Deterministic: the same data, encoder and ``--seed`` give the same weights. See
:mod:`mlverify.training` for the data rules and the evaluation protocol.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlverify.inference import ModelUnavailable
from mlverify.page_check.config import ClassifierConfig
from mlverify.page_check.encoder import TextEncoder, load_text_encoder
from mlverify.selectors import labelled_page_samples
from mlverify.services import page_sample_html
from mlverify.training import defaults, outputs
from mlverify.training.dataset import SharedPage
from mlverify.training.embed_cache import DEFAULT_CACHE_DIR
from mlverify.training.run import run
from mlverify.training.selection import FIXED_GRID, WIDE_GRID, Grid


def add_common_arguments(parser: CommandParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=(
            "Folder with page-types/, product-pages/ and article-pages/ "
            "(default: <repo>/../shared/data)."
        ),
    )
    parser.add_argument("--folds", type=int, default=defaults.DEFAULT_FOLDS)
    parser.add_argument("--seed", type=int, default=defaults.DEFAULT_SEED)
    parser.add_argument(
        "--per-site-cap",
        type=int,
        default=defaults.DEFAULT_PER_SITE_CAP,
        help="At most this many rule-labelled links per site.",
    )
    parser.add_argument("--json", action="store_true", help="Print the metrics as JSON.")
    parser.add_argument(
        "--nested-grid",
        action="store_true",
        help=(
            "Choose the page layer's L2, text scale and threshold per fold by an inner grouped "
            "cross-validation over a wider grid (slow; the default keeps the fixed settings)."
        ),
    )
    parser.add_argument(
        "--criterion",
        choices=("log_loss", "f1"),
        default="log_loss",
        help="What the inner cross-validation of --nested-grid maximises.",
    )
    parser.add_argument(
        "--shared-pages",
        action="store_true",
        help=(
            "Also train on the pages users shared from the extension that staff labelled in "
            "the admin (reads the database; they are scored by held-out site like the rest)."
        ),
    )
    parser.add_argument(
        "--embedding-cache",
        type=Path,
        default=DEFAULT_CACHE_DIR,
        help="Folder of the embedding cache (default: var/page-embeddings/).",
    )


def load_encoder_for_command() -> TextEncoder:
    config = ClassifierConfig.from_settings()
    try:
        return load_text_encoder(
            config.encoder_dir, num_threads=config.num_threads, max_length=config.max_length
        )
    except ModelUnavailable as exc:
        raise CommandError(f"the page encoder is unavailable: {exc.reason}") from exc


def grid_from_options(options: dict[str, Any]) -> Grid:
    if not options.get("nested_grid"):
        return FIXED_GRID
    return dataclasses.replace(WIDE_GRID, criterion=options.get("criterion") or "log_loss")


def shared_pages_from_options(options: dict[str, Any]) -> list[SharedPage]:
    """The labelled shared pages when ``--shared-pages`` is given (the database's), else none."""
    if not options.get("shared_pages"):
        return []
    return [
        SharedPage(
            key=str(sample.pk), url=sample.url, kind=sample.label, html=page_sample_html(sample)
        )
        for sample in labelled_page_samples()
    ]


def data_dir_or_default(value: Path | None) -> Path:
    data_dir = value or defaults.default_data_dir()
    if not data_dir.is_dir():
        raise CommandError(f"data folder not found: {data_dir} (use --data-dir)")
    return data_dir


class Command(BaseCommand):
    help = "Train the page classifier head on the shared data and write it with its model card."

    def add_arguments(self, parser: CommandParser) -> None:
        add_common_arguments(parser)
        parser.add_argument(
            "--output-dir",
            type=Path,
            default=None,
            help="Where to write head.json and MODEL_CARD.md (default: PAGE_CLASSIFIER_DIR).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Evaluate and train, but write nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        data_dir = data_dir_or_default(options["data_dir"])
        output_dir = options["output_dir"] or Path(
            settings.PAGE_CLASSIFIER_DIR or defaults.REPO_ROOT / "mlverify" / "page_classifier"
        )
        encoder = load_encoder_for_command()
        try:
            result = run(
                encoder,
                data_dir,
                folds=options["folds"],
                seed=options["seed"],
                per_site_cap=options["per_site_cap"],
                cache_dir=options["embedding_cache"],
                progress=lambda msg: self.stdout.write(msg),
                grid=grid_from_options(options),
                shared=shared_pages_from_options(options),
            )
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result.report, indent=1))
        else:
            self.stdout.write(outputs.format_report(result.report))
        assert result.payload is not None
        assert result.head is not None
        if options["dry_run"]:
            self.stdout.write(f"dry run: head digest {result.payload['digest']} not written")
            return
        label = "../shared/data" if data_dir == defaults.default_data_dir() else str(data_dir)
        outputs.write_head(output_dir / "head.json", result.payload)
        outputs.write_model_card(
            output_dir / "MODEL_CARD.md", result.payload, result.report, data_dir_label=label
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"wrote {output_dir / 'head.json'} (digest {result.payload['digest']}, "
                f"L2 {result.head.lam:g}) and MODEL_CARD.md"
            )
        )
