"""``manage.py check_models``: load every configured model and report its state, for operators.

Prints one line per model: state (loaded / unavailable), load time, version and, when
unavailable, the reason. ``--strict`` exits non-zero when any model is unavailable (for
deploy checks); without it the command always succeeds, as the API does.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlverify.inference import ModelUnavailable
from mlverify.registry import model_holders, model_states, reset_models


class Command(BaseCommand):
    help = "Load every configured model (CLIP, page classifier) and report state and load time."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--strict", action="store_true", help="Exit non-zero if any model is unavailable."
        )
        parser.add_argument(
            "--model",
            action="append",
            dest="models",
            default=None,
            help="Check only this model (clip, page_classifier); repeatable.",
        )
        parser.add_argument(
            "--reload", action="store_true", help="Forget loaded models and load them again."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["reload"]:
            reset_models()
        holders = model_holders()
        wanted = options["models"] or list(holders)
        unknown = sorted(set(wanted) - set(holders))
        if unknown:
            raise CommandError(f"unknown model(s): {', '.join(unknown)}; known: {sorted(holders)}")
        for name in wanted:
            with contextlib.suppress(ModelUnavailable):  # state and reason are printed below
                holders[name].get()
        states = model_states()
        failed = []
        for name in wanted:
            info = states[name]
            seconds = info.get("load_seconds")
            timing = f"{seconds:.2f} s" if isinstance(seconds, int | float) else "-"
            line = f"{name:<16} {info['state']:<12} load {timing:<8} {info.get('version') or ''}"
            if info["state"] == "loaded":
                self.stdout.write(self.style.SUCCESS(line.rstrip()))
            else:
                failed.append(name)
                self.stdout.write(self.style.ERROR(line.rstrip()))
                self.stdout.write(f"{'':<16} reason: {info.get('reason')}")
        if failed and options["strict"]:
            raise CommandError(f"unavailable: {', '.join(failed)}")
