"""CLIP's math on a loaded bundle: images and names to unit vectors, and the match score.

Pure functions of a :class:`~mlverify.clip.loading.ClipBundle`; they run on the inference
thread (:mod:`mlverify.inference`) and touch no cache.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from buyhive import metrics

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from mlverify.clip.loading import ClipBundle

# Prompt ensembling (CLIP paper, sec. 3.1.4): the product class is the mean of these prompts.
PRODUCT_TEMPLATES: tuple[str, ...] = (
    "a photo of {}.",
    "a product photo of {}.",
    "{}",
)
# Generic images that sit on shop pages but are not the product. The score is the product's
# share of the probability against these, so a logo or a banner scores low for any name.
NEGATIVE_PROMPTS: tuple[str, ...] = (
    "a close-up portrait photo of a person's face.",
    "a company logo.",
    "a screenshot of a web page.",
    "a banner advertisement with text.",
    "a blank white image.",
    "a small icon.",
    "a placeholder image.",
)


def encode_images(bundle: ClipBundle, images: Sequence[PILImage.Image]) -> np.ndarray:
    """Preprocess and encode images as one batch: [n, dim] float32, L2-normalised."""
    if bundle.onnx is not None:  # ONNX Runtime (mlverify.clip.onnx_serving): no torch
        started = time.perf_counter()
        out = np.asarray(bundle.onnx.encode_images(images), dtype=np.float32)
        metrics.record_inference(
            model="clip-image", seconds=time.perf_counter() - started, batch_size=len(images)
        )
        return out
    import torch  # torch is heavy: imported when a model runs, not when mlverify is imported

    started = time.perf_counter()
    with torch.inference_mode():
        batch = torch.stack([bundle.preprocess(image) for image in images])
        features = bundle.model.encode_image(batch, normalize=True)
    metrics.record_inference(
        model="clip-image", seconds=time.perf_counter() - started, batch_size=len(images)
    )
    return features.float().numpy().astype(np.float32, copy=False)


def used_length(tokens: Any) -> int:
    """How many leading token columns a batch uses: up to its last end-of-text token.

    The end-of-text token has the highest id (49407), so it is each row's argmax. Counting the
    non-zero ids instead would be wrong: id 0 is the byte "!" and occurs inside texts
    ("really!?~" has one), so such a batch would be cut before its end-of-text token.
    Works on numpy arrays and torch tensors.
    """
    return max(1, int(tokens.argmax(1).max()) + 1)


def encode_text_prefix(model: Any, tokens: Any) -> Any:
    """open_clip's ``CLIP.encode_text`` over the token columns given, however many (<= 77).

    The text tower is causal: the end-of-text token (where the embedding is pooled) never
    sees the padding after it, so cutting the padding off gives the same embedding for a
    fraction of the work (a product name is ~10 tokens). ``export_onnx`` traces this into a
    graph with a dynamic sequence length (the positional embedding and the causal mask cut to
    the input's length).
    """
    import torch  # torch and open_clip are heavy: imported when a model runs
    from open_clip.transformer import text_global_pool

    # Positions 0..L-1 from a tensor op, not from ``tokens.shape[1]``: the legacy tracer bakes
    # a Python int into the graph (the slice becomes a constant [L, width], and shape
    # inference then fixes every reshape to L).
    positions = torch.ones_like(tokens[0]).cumsum(0) - 1
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast_dtype)
    x = x + model.positional_embedding.index_select(0, positions).to(cast_dtype)
    mask = model.attn_mask.index_select(0, positions).index_select(1, positions)
    x = model.transformer(x, attn_mask=mask)
    x = model.ln_final(x)
    x = text_global_pool(x, tokens, model.text_pool_type, eos_token_id=model.text_eos_id)
    if model.text_projection is not None:
        if isinstance(model.text_projection, torch.nn.Linear):
            x = model.text_projection(x)
        else:
            x = x @ model.text_projection
    return torch.nn.functional.normalize(x, dim=-1)


def _encode_text_trimmed(model: Any, tokens: Any) -> Any:
    """:func:`encode_text_prefix` over the used tokens only, instead of all 77.
    :func:`~mlverify.clip.loading.load_clip` checks this equals ``encode_text`` on the loaded
    model and falls back to ``encode_text`` if it does not."""
    return encode_text_prefix(model, tokens[:, : used_length(tokens)])


def can_trim_text(model: Any) -> bool:
    """Only open_clip's plain CLIP with a causal mask and EOT pooling is trimmed."""
    return (
        type(model).__name__ == "CLIP"
        and getattr(model, "text_pool_type", None) in ("argmax", "eos")
        and getattr(model, "attn_mask", None) is not None
        and all(hasattr(model, a) for a in ("token_embedding", "positional_embedding", "ln_final"))
    )


def encode_texts(bundle: ClipBundle, texts: Sequence[str]) -> np.ndarray:
    """Encode texts as one batch: [n, dim] float32, L2-normalised."""
    if bundle.onnx is not None:
        return np.asarray(bundle.onnx.encode_texts(list(texts)), dtype=np.float32)
    import torch  # torch is heavy: imported when a model runs

    with torch.inference_mode():
        tokens = bundle.tokenizer(list(texts))
        if bundle.trim_text:
            features = _encode_text_trimmed(bundle.model, tokens)
        else:
            features = bundle.model.encode_text(tokens, normalize=True)
    return features.float().numpy().astype(np.float32, copy=False)


def product_embedding(bundle: ClipBundle, name: str) -> np.ndarray:
    """The product class: the re-normalised mean of its prompt embeddings, [dim]."""
    prompts = [template.format(name) for template in PRODUCT_TEMPLATES]
    mean = encode_texts(bundle, prompts).mean(axis=0)
    norm = float(np.linalg.norm(mean)) or 1.0
    return (mean / norm).astype(np.float32)


def match_probability(bundle: ClipBundle, image_emb: np.ndarray, product_emb: np.ndarray) -> float:
    """Softmax over [product, negatives...] of CLIP's scaled cosine similarities; P(product)."""
    classes = np.vstack([product_emb[None, :], bundle.negatives])
    logits = bundle.logit_scale * (classes @ image_emb)
    logits = logits - logits.max()
    probs = np.exp(logits)
    return float(probs[0] / probs.sum())


def normalise_name(name: str) -> str:
    """NFKC, collapsed whitespace, casefolded: the cache key and the prompt text."""
    text = unicodedata.normalize("NFKC", name or "")
    return " ".join(text.split()).casefold()[:300]
