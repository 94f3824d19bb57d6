"""``manage.py eval_page_classifier``: precision, recall and F1 of "is a product page" on
held-out sites, on the seven-kind mix and on product pages against articles, for URL + title
and for URL + title + page, with the per-kind confusion of the three page types.

Every person-labelled page is scored by a head trained without its site (grouped k-fold, the
protocol of :mod:`mlverify.training`); the committed head saw every site, so scoring the
labelled pages with it would not be a held-out figure.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlverify.management.commands.train_page_classifier import (
    add_common_arguments,
    data_dir_or_default,
    grid_from_options,
    load_encoder_for_command,
    shared_pages_from_options,
)
from mlverify.training.outputs import ACCEPTANCE, format_report
from mlverify.training.run import run

FULL = "url+title+page"


class Command(BaseCommand):
    help = "Evaluate the page classifier on held-out sites (URL only, URL + page signals)."

    def add_arguments(self, parser: CommandParser) -> None:
        add_common_arguments(parser)
        parser.add_argument(
            "--errors", action="store_true", help="List the misclassified pages (full check)."
        )
        parser.add_argument(
            "--strict",
            action="store_true",
            help="Exit non-zero when F1 is under the acceptance bar (mix 0.95, vs articles 0.986).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        data_dir = data_dir_or_default(options["data_dir"])
        encoder = load_encoder_for_command()
        try:
            result = run(
                encoder,
                data_dir,
                folds=options["folds"],
                seed=options["seed"],
                per_site_cap=options["per_site_cap"],
                cache_dir=options["embedding_cache"],
                train_final=False,
                progress=lambda msg: self.stdout.write(msg),
                grid=grid_from_options(options),
                shared=shared_pages_from_options(options),
            )
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        report = result.report
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=1))
        else:
            self.stdout.write(format_report(report))
        if options["errors"]:
            for error in result.cv.errors(result.dataset.pages):
                self.stdout.write(json.dumps(error, ensure_ascii=False))
        full = report[FULL]
        below = [
            f"{name} F1 {full[name]['f1']:.3f} < {bar}"
            for name, bar in ACCEPTANCE.items()
            if name in full and full[name]["f1"] < bar
        ]
        if below:
            message = "below the acceptance bar: " + "; ".join(below)
            if options["strict"]:
                raise CommandError(message)
            self.stdout.write(self.style.WARNING(message))
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    "acceptance met: "
                    + ", ".join(
                        f"{n} F1 {full[n]['f1']:.3f} >= {b}"
                        for n, b in ACCEPTANCE.items()
                        if n in full
                    )
                )
            )
