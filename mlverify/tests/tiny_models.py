"""A tiny BERT and a matching head for the page-classifier tests.

:func:`build_tiny_bert` saves a 2-layer, 32-wide BERT (random weights, fixed seed) with a
small word-piece vocabulary in the layout of the shipped MiniLM folder (``config.json``,
``model.safetensors``, ``tokenizer.json``, ``vocab.txt``), and a ``head.json`` of 32 weights
in the committed head's format. The tests load both through the production loader, exactly
as the real encoder and head are loaded. Built in well under a second.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

WORDS = [
    *("shop", "example", "com", "www", "p", "product", "products", "item", "buy", "cart"),
    *("basket", "help", "faq", "news", "article", "blog", "story", "oak", "table", "chair"),
    *("lamp", "black", "white", "html", "php", "the", "a", "of", "and", "to", "in", "for"),
    *("on", "is", "2019", "2020", "en", "de", "fr", "category", "search", "account", "login"),
]
TINY_HIDDEN = 32


@dataclass(frozen=True)
class TinyBert:
    root: Path
    encoder_dir: Path  # PAGE_ENCODER_DIR
    classifier_dir: Path  # PAGE_CLASSIFIER_DIR (head.json)


def tiny_vocab() -> list[str]:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list(string.ascii_lowercase + string.digits)
    pieces = [f"##{c}" for c in chars]
    return specials + chars + pieces + [w for w in WORDS if w not in chars]


def write_head(
    classifier_dir: Path,
    *,
    weights: list[float],
    bias: float = 0.0,
    threshold: float = 0.5,
    fingerprint: str | None = None,
) -> Path:
    """A head file in the production format (with its checksum) whose two layers read only the
    embedding: the product logit is ``weights . x + bias``, the collection class is off and
    the other class is the reference, so ``P(product) = sigmoid(weights . x + bias)``."""
    from mlverify.page_check.config import HEAD_FORMAT, PAGE_TYPES
    from mlverify.page_check.features import FEATURES_VERSION
    from mlverify.page_check.head import head_digest

    layer = {
        "features": [],
        "mean": [],
        "scale": [],
        "text_scale": 1.0,
        "biases": [bias, -50.0, 0.0],
        "weights": [list(weights), [0.0] * len(weights), [0.0] * len(weights)],
    }
    layers = {"url": layer, "page": layer}
    classifier_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": HEAD_FORMAT,
        "features_version": FEATURES_VERSION,
        "classes": list(PAGE_TYPES),
        "encoder": {"fingerprint": fingerprint, "dim": len(weights)},
        "dim": len(weights),
        "threshold": threshold,
        "digest": head_digest(layers),
        "layers": layers,
    }
    path = classifier_dir / "head.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def product_weights(head: dict[str, Any]) -> list[float]:
    """The product row's embedding weights of a head written by :func:`write_head`."""
    return list(head["layers"]["url"]["weights"][0][: head["dim"]])


def build_tiny_bert(directory: Path, *, seed: int = 0) -> TinyBert:
    """Save the tiny encoder under ``directory/encoder`` and its head under
    ``directory/classifier``; the head's weights are a fixed pseudo-random vector."""
    import torch
    from tokenizers.implementations import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel

    from mlverify.page_check.encoder import fingerprint_encoder

    directory = Path(directory)
    encoder_dir = directory / "encoder"
    encoder_dir.mkdir(parents=True, exist_ok=True)
    vocab = tiny_vocab()
    (encoder_dir / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertWordPieceTokenizer(
        vocab={token: i for i, token in enumerate(vocab)}, lowercase=True
    )
    tokenizer.save(str(encoder_dir / "tokenizer.json"))

    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=TINY_HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    torch.manual_seed(seed)
    model = BertModel(config, add_pooling_layer=False)
    model.save_pretrained(str(encoder_dir))

    generator = torch.Generator().manual_seed(seed + 1)
    weights = torch.randn(TINY_HIDDEN, generator=generator).tolist()
    classifier_dir = directory / "classifier"
    write_head(
        classifier_dir,
        weights=[round(w, 6) for w in weights],
        bias=0.0,
        fingerprint=fingerprint_encoder(encoder_dir),
    )
    return TinyBert(root=directory, encoder_dir=encoder_dir, classifier_dir=classifier_dir)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> TinyBert:
    """The tiny encoder and head, built once per test session (read-only: copy to modify)."""
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture
def tiny_classifier(tiny_bert: TinyBert) -> Iterator[TinyBert]:
    """Point the process-wide page classifier at the tiny model for one test, then restore
    the holders built from settings (nothing loads until used)."""
    from mlverify import registry
    from mlverify.page_check.config import ClassifierConfig

    registry.configure_page_classifier(
        ClassifierConfig(encoder_dir=tiny_bert.encoder_dir, classifier_dir=tiny_bert.classifier_dir)
    )
    yield tiny_bert
    registry.configure_page_classifier()
