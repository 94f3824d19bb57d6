"""Extract products from saved pages: JSON lines in (stdin), JSON lines out (stdout).

stdout carries data only, one JSON object per input line, so the output can be piped into
``jq`` or another program: logs (structlog and the standard library), metrics and anything
else that would print go to stderr while the command runs (:func:`buyhive.logconfig.
logs_to_stderr`). A line that cannot be extracted answers ``{"line": N, "error": {...}}`` on
its own line and the run goes on; the exit status is 0 unless stdin cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import structlog
from django.core.management.base import BaseCommand, CommandParser
from rest_framework import serializers

from buyhive.logconfig import logs_to_stderr
from extraction import services
from extraction.apis import ExtractApi

logger = structlog.get_logger(__name__)

#: Input fields this command ignores (they only make sense for a signed-in API call).
IGNORED_INPUT = frozenset({"cart_ids"})


def _fields(serializer: serializers.Serializer[Any], *, skip: frozenset[str]) -> str:
    """``name (required)``/``name?`` for each field, from the API's own serializer, so the
    help text follows the endpoint when a field is added."""
    names = []
    for name, field in serializer.fields.items():
        if name not in skip:
            names.append(name if field.required else f"{name}?")
    return ", ".join(names)


def describe_io() -> str:
    """The --help epilog: what a line in and a line out hold."""
    inputs = _fields(ExtractApi.InputSerializer(), skip=IGNORED_INPUT)
    outputs = _fields(ExtractApi.OutputSerializer(), skip=frozenset())
    return (
        "input (stdin), one JSON object per line:\n"
        f"  {{{inputs}}}\n"
        "  as POST /api/v1/extract/ takes it (url: the page's http(s) address; html and/or\n"
        "  text: the saved page; title: its document title, read with the text; image_urls:\n"
        "  candidate images). Blank lines are skipped.\n"
        "\n"
        "output (stdout), one JSON object per non-blank input line, in input order:\n"
        f"  {{{outputs}}}\n"
        "  exactly what POST /api/v1/extract/ answers (schema: /api/schema/, ExtractOutput);\n"
        "  item is always null here (nothing is saved). A line that fails answers instead\n"
        '  {"line": N, "error": {"code", "message"?, "fields"?}} with code invalid_json,\n'
        "  validation_error or extraction_failed, and the run goes on.\n"
        "\n"
        "Logs go to stderr (LOG_LEVEL, LOG_FORMAT), never to stdout.\n"
        "  python manage.py extract_product < pages.jsonl > products.jsonl"
    )


class Command(BaseCommand):
    help = "Extract products from JSON lines on stdin; one JSON object per line on stdout."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(
            prog_name,
            subcommand,
            epilog=describe_io(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
            **kwargs,
        )
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-cache", action="store_true", help="Do not read or write the cache."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with logs_to_stderr():
            for number, line in enumerate(sys.stdin, start=1):
                if line.strip():
                    self._emit(self._one(number, line, use_cache=not options["no_cache"]))

    def _emit(self, row: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(row, default=str, ensure_ascii=False))
        self.stdout.flush()

    def _one(self, number: int, line: str, *, use_cache: bool) -> dict[str, Any]:
        """One input line -> one output object; never raises for what the line holds."""
        try:
            payload = json.loads(line)
        except json.JSONDecodeError as exc:
            return {"line": number, "error": {"code": "invalid_json", "message": str(exc)}}
        serializer = ExtractApi.InputSerializer(data=payload if isinstance(payload, dict) else {})
        if not serializer.is_valid():
            return {
                "line": number,
                "error": {"code": "validation_error", "fields": serializer.errors},
            }
        params = serializer.validated_data
        try:
            extraction = services.extract(
                url=params["url"],
                html=params.get("html") or None,
                text=params.get("text") or None,
                title=params.get("title") or None,
                image_urls=params.get("image_urls") or [],
                use_cache=use_cache,
            )
        except Exception as exc:  # noqa: BLE001 - one bad page must not end a batch; logged
            logger.exception("extract_product_line_failed", line=number, url=params["url"])
            return {
                "line": number,
                "error": {"code": "extraction_failed", "message": f"{type(exc).__name__}: {exc}"},
            }
        return {**extraction.body, "cached": extraction.cached, "item": None}
