"""Cost bounds of one LLM call, from Django settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def setting(name: str, default: Any) -> Any:
    try:
        from django.conf import settings

        value = getattr(settings, name, default)
    except Exception:  # noqa: BLE001 - Django not configured (scripts, plain pytest)
        return default
    return default if value is None else value


@dataclass(frozen=True)
class LLMConfig:
    """Cost bounds of one LLM call."""

    max_input_chars: int = 12000
    max_output_tokens: int = 400

    @classmethod
    def from_settings(cls) -> LLMConfig:
        return cls(
            max_input_chars=int(setting("LLM_MAX_INPUT_CHARS", cls.max_input_chars)),
            max_output_tokens=int(setting("LLM_MAX_OUTPUT_TOKENS", cls.max_output_tokens)),
        )
