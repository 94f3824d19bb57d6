"""CLIP's text tokenizer without torch: open_clip's ``SimpleTokenizer`` ported to numpy.

The ONNX text tower (:mod:`mlverify.clip.onnx_serving`) takes the token ids open_clip's
``SimpleTokenizer`` would give, as an ``int64`` array ``[n, context_length]``; this module makes
them from the same byte-level BPE vocabulary (``bpe_simple_vocab_16e6.txt.gz``, which
``export_onnx`` copies next to the exported towers), with the same cleaning, the same
pre-tokenising pattern, the same merges and the same truncation, so the ids are identical
(``mlverify/tests/test_clip_onnx.py`` compares them with open_clip's on varied strings).

Two third-party helpers open_clip uses are not in the production image (requirements/base.txt):

* ``regex`` (for ``\\p{L}`` and ``\\p{N}`` in the pattern): the same classes are built here
  from :mod:`unicodedata` for the standard ``re`` module, once per process;
* ``ftfy`` (``fix_text``, run on every text first): used when it is installed. Without it the
  deterministic part of ``fix_text`` is done here (HTML entities, full-width forms, curly
  quotes, ligatures, line breaks, control characters, NFC). What is left out is ftfy's
  heuristic repair of mojibake ("cafÃ©" -> "café"): on such text the ids can differ.
"""

from __future__ import annotations

import functools
import gzip
import html
import itertools
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

BPE_FILENAME = "bpe_simple_vocab_16e6.txt.gz"
SOT = "<start_of_text>"
EOT = "<end_of_text>"
# The merges open_clip reads from the vocabulary file (its lines 1 .. 48,894).
_MERGES = 49152 - 256 - 2


@functools.lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map, as open_clip builds it."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, [chr(c) for c in chars], strict=True))


def _ranges(points: list[int]) -> str:
    """A regex character-class body: ``points`` (sorted) as escaped ranges."""
    parts: list[str] = []
    start = prev = -2
    for cp in [*points, -1]:
        if cp == prev + 1:
            prev = cp
            continue
        if start >= 0:
            parts.append(
                re.escape(chr(start)) + ("-" + re.escape(chr(prev)) if prev > start else "")
            )
        start = prev = cp
    return "".join(parts)


@functools.lru_cache(maxsize=1)
def _pattern() -> re.Pattern[str]:
    """open_clip's pattern with ``\\p{L}``/``\\p{N}`` spelled out for :mod:`re` (once, ~0.5 s)."""
    letters: list[int] = []
    numbers: list[int] = []
    category = unicodedata.category
    for cp in range(sys.maxunicode + 1):
        kind = category(chr(cp))[0]
        if kind == "L":
            letters.append(cp)
        elif kind == "N":
            numbers.append(cp)
    lets, nums = _ranges(letters), _ranges(numbers)
    special = "|".join(re.escape(t) for t in (SOT, EOT))
    return re.compile(
        special + rf"|'s|'t|'re|'ve|'m|'ll|'d|[{lets}]+|[{nums}]|[^\s{lets}{nums}]+",
        re.IGNORECASE,
    )


# ---------------------------------------------------------------------------------------------
# Cleaning: ftfy.fix_text when installed, its deterministic steps otherwise
# ---------------------------------------------------------------------------------------------

_WIDTH_MAP: dict[int, str] = {0x3000: " "}
for _cp in range(0xFF01, 0xFFF0):
    if (_alt := unicodedata.normalize("NFKC", chr(_cp))) != chr(_cp):
        _WIDTH_MAP[_cp] = _alt
_LIGATURES: dict[int, str] = {
    cp: unicodedata.normalize("NFKC", chr(cp)) for cp in range(0xFB00, 0xFB07)
}
_LIGATURES.update({ord("Ĳ"): "IJ", ord("ĳ"): "ij", ord("ŉ"): "ʼn"})
for _pair in ("ǱDZ", "ǲDz", "ǳdz", "ǄDŽ", "ǅDž", "ǆdž", "ǇLJ", "ǈLj", "ǉlj", "ǊNJ", "ǋNj", "ǌnj"):
    _LIGATURES[ord(_pair[0])] = _pair[1:]
_CONTROL_CHARS: dict[int, None] = dict.fromkeys(
    (*range(0x09), 0x0B, *range(0x0E, 0x20), 0x7F, *range(0x206A, 0x2070), 0xFEFF, 0xFFF9),
)
_CONTROL_CHARS.update(dict.fromkeys((0xFFFA, 0xFFFB, 0xFFFC)))
_SINGLE_QUOTES = re.compile("[\u02bc\u2018-\u201b]")
_DOUBLE_QUOTES = re.compile("[\u201c-\u201f]")
_LINE_BREAKS = re.compile("\r\n|\r|\u2028|\u2029|\u0085")
_TERMINAL_ESCAPES = re.compile(r"\033\[((?:\d|;)*)([a-zA-Z])")


def fix_text_basic(text: str) -> str:
    """ftfy.fix_text's deterministic steps, in its order, repeated until nothing changes."""
    unescape = "<" not in text
    while True:
        before = text
        if unescape and "&" in text:
            text = html.unescape(text)
        text = text.translate(_LIGATURES).translate(_WIDTH_MAP)
        text = _DOUBLE_QUOTES.sub('"', _SINGLE_QUOTES.sub("'", text))
        text = _LINE_BREAKS.sub("\n", text)
        text = _TERMINAL_ESCAPES.sub("", text).translate(_CONTROL_CHARS)
        text = unicodedata.normalize("NFC", text)
        if text == before:
            return text


def _ftfy_or_basic() -> Callable[[str], str]:
    try:
        import ftfy  # optional: exact open_clip behaviour on mojibake when installed
    except ImportError:
        return fix_text_basic
    return ftfy.fix_text  # type: ignore[no-any-return]


def clean_lower(text: str, fix_text: Callable[[str], str]) -> str:
    """open_clip's ``_clean_lower``: fix, unescape HTML twice, collapse spaces, lower-case."""
    text = html.unescape(html.unescape(fix_text(text))).strip()
    return " ".join(text.split()).strip().lower()


# ---------------------------------------------------------------------------------------------
# The tokenizer
# ---------------------------------------------------------------------------------------------


class ClipTokenizer:
    """Token ids as open_clip's ``SimpleTokenizer(context_length=...)`` gives them, in numpy."""

    def __init__(
        self,
        bpe_path: Path,
        *,
        context_length: int,
        fix_text: Callable[[str], str] | None = None,
    ) -> None:
        with gzip.open(bpe_path) as fh:
            lines = fh.read().decode("utf-8").split("\n")
        merges = [tuple(line.split()) for line in lines[1 : _MERGES + 1]]
        if len(merges) != _MERGES or any(len(m) != 2 for m in merges):
            raise ValueError(f"{bpe_path} is not CLIP's BPE vocabulary")
        self.byte_encoder = bytes_to_unicode()
        vocab = list(self.byte_encoder.values())
        vocab = vocab + [v + "</w>" for v in vocab]
        vocab.extend("".join(m) for m in merges)
        vocab.extend([SOT, EOT])
        self.encoder = {token: i for i, token in enumerate(vocab)}
        self.bpe_ranks = {m: i for i, m in enumerate(merges)}
        self.sot_token_id = self.encoder[SOT]
        self.eot_token_id = self.encoder[EOT]
        self.context_length = int(context_length)
        self.fix_text = fix_text or _ftfy_or_basic()
        self.pattern = _pattern()
        self._cache: dict[str, str] = {SOT: SOT, EOT: EOT}

    def bpe(self, token: str) -> str:
        """open_clip's merge loop: merge the lowest-ranked pair until none is known."""
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        word: tuple[str, ...] = (*token[:-1], token[-1] + "</w>")
        while len(word) > 1:
            pairs = set(itertools.pairwise(word))
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            merged: list[str] = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    merged.extend(word[i:])
                    break
                merged.extend(word[i:j])
                i = j
                if i < len(word) - 1 and word[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = tuple(merged)
        result = " ".join(word)
        if len(self._cache) < 100_000:  # product names repeat; a bound keeps memory flat
            self._cache[token] = result
        return result

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for token in self.pattern.findall(clean_lower(text, self.fix_text)):
            chars = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[piece] for piece in self.bpe(chars).split(" "))
        return ids

    def __call__(self, texts: str | Sequence[str]) -> np.ndarray:
        """``[len(texts), context_length]`` int64 ids: start, text, end, zero padding; a text
        too long is cut and ends with the end token, as open_clip does."""
        if isinstance(texts, str):
            texts = [texts]
        out = np.zeros((len(texts), self.context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.sot_token_id, *self.encode(text), self.eot_token_id]
            if len(ids) > self.context_length:
                ids = ids[: self.context_length]
                ids[-1] = self.eot_token_id
            out[row, : len(ids)] = ids
        return out
