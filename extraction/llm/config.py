"""Cost bounds of one LLM call, from Django settings."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class LLMConfig:
    """Cost bounds of one LLM call."""

    max_input_chars: int = 12000
    max_output_tokens: int = 400

    @classmethod
    def from_settings(cls) -> LLMConfig:
        return cls(
            max_input_chars=int(settings.LLM_MAX_INPUT_CHARS),
            max_output_tokens=int(settings.LLM_MAX_OUTPUT_TOKENS),
        )
