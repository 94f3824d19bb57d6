"""buyhive.product.text: page text cleaning and the add-to-cart vocabulary."""

from __future__ import annotations

import re

import pytest

from buyhive.product.text import (
    ADD_TO_CART_PHRASES,
    ADD_TO_CART_TOKENS,
    BUY_LABEL_WORDS,
    clean_text,
)


def test_clean_text_strips_markup_entities_and_whitespace() -> None:
    assert clean_text("<p>Soft &amp; <b>warm</b></p>\n\n  scarf") == "Soft & warm scarf"
    assert clean_text("&lt;strong&gt;Bold&lt;/strong&gt; claim") == "Bold claim"
    assert clean_text(["", "first"]) == "first"
    assert clean_text("   ") is None
    assert clean_text(5) is None
    assert clean_text("abcdef", max_length=4) == "abc…"


@pytest.mark.parametrize(
    "words", [ADD_TO_CART_PHRASES, BUY_LABEL_WORDS, ADD_TO_CART_TOKENS], ids=["p", "w", "t"]
)
def test_the_vocabulary_is_lower_case_trimmed_and_stated_once(words: tuple[str, ...]) -> None:
    assert len(set(words)) == len(words)
    assert all(w == w.lower().strip() and w for w in words)


def test_a_phrase_is_never_also_a_label_start_word() -> None:
    """Each word is stated once: the label-start list holds only what the phrases do not."""
    assert not set(ADD_TO_CART_PHRASES) & set(BUY_LABEL_WORDS)


def test_tokens_are_compact() -> None:
    assert all(re.fullmatch(r"[a-z]+", token) for token in ADD_TO_CART_TOKENS)
