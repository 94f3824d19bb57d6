"""The API's one JSON parser: DRF's, with a bound on how deeply a body may nest.

Python's JSON decoder recurses once per nesting level, so a body nested 100,000 levels deep
raises ``RecursionError`` inside ``request.data`` (a 500, and a traceback in the logs), and a
body just under the interpreter's limit parses but then recurses again in every serializer,
error flattener and BSON encoder it reaches. No API body needs more than a handful of levels,
so anything deeper than :data:`MAX_JSON_DEPTH` is refused here, once for every endpoint, as
the 400 ``validation_error`` envelope (DRF's ``ParseError``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DrfJSONParser

#: The deepest nesting accepted (objects and arrays both count a level).
MAX_JSON_DEPTH = 32
TOO_DEEP = f"JSON parse error - nesting deeper than {MAX_JSON_DEPTH} levels."


def json_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``value`` nests more than ``limit`` containers deep (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, Mapping):
            children: Any = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class JSONParser(DrfJSONParser):
    """DRF's JSON parser; too-deep bodies are a ``ParseError`` (400), never a 500."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(TOO_DEEP) from exc
        if json_depth_exceeds(data):
            raise ParseError(TOO_DEEP)
        return data
