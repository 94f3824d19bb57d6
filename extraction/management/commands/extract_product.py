"""Extract products from saved pages: JSON lines in (stdin), JSON lines out (stdout).

Each input line is ``{"url", "html"?, "text"?, "image_urls"?}``; each output line is the
same shape ``POST /api/v1/extract/`` answers (``item`` is always null here). A line that is
not valid input answers ``{"error": {...}, "line": N}`` and the run goes on.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from extraction import services
from extraction.apis import ExtractApi


class Command(BaseCommand):
    help = "Extract products from JSON lines {url, html?, text?} on stdin; one JSON per line out."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-cache", action="store_true", help="Do not read or write the cache."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        out = self.stdout
        for number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            try:
                payload = json.loads(line)
            except json.JSONDecodeError as exc:
                out.write(
                    json.dumps(
                        {"line": number, "error": {"code": "invalid_json", "message": str(exc)}}
                    )
                )
                continue
            serializer = ExtractApi.InputSerializer(
                data=payload if isinstance(payload, dict) else {}
            )
            if not serializer.is_valid():
                out.write(
                    json.dumps(
                        {
                            "line": number,
                            "error": {"code": "validation_error", "fields": serializer.errors},
                        },
                        default=str,
                    )
                )
                continue
            params = serializer.validated_data
            extraction = services.extract(
                url=params["url"],
                html=params.get("html") or None,
                text=params.get("text") or None,
                image_urls=params.get("image_urls") or [],
                use_cache=not options["no_cache"],
            )
            out.write(json.dumps({**extraction.body, "cached": extraction.cached, "item": None}))
