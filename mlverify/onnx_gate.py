"""The int8 accuracy gates of ``export_onnx``: is a model's int8 file served, or its fp32 one?

Dynamic quantisation's error depends on the weights, and a high cosine alone did not keep
decisions (MiniLM int8 per tensor: cosine 0.99 to torch, 72 of 1,559 page-check decisions
flipped, bench/onnx.py). So each gate measures what the model is used for:

* :func:`clip_gate`: each int8 tower keeps a cosine of :data:`INT8_MIN_COSINE` to its fp32
  tower, and on (sample image, product name) pairs no match decision at the configured
  threshold flips and no probability moves by more than :data:`INT8_MAX_SCORE_DELTA`;
* :func:`minilm_gate`: every page-check decision on the development pages is the fp32
  export's.

Each returns ``{"passed", "reason", ...figures}``, which :mod:`mlverify.onnx_export` records in
the manifest. Runs where the export runs (torch installed), on ONNX Runtime sessions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlverify.onnx_runtime import CLIP_IMAGE_KEY, CLIP_TEXT_KEY, MINILM_KEY

INT8_MIN_COSINE = 0.99
Files = dict[str, dict[str, str]]  # variant -> {"path" (relative to the export), "sha256"}


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.reshape(a.shape[0], -1).astype(np.float64)
    b = b.reshape(b.shape[0], -1).astype(np.float64)
    num = (a * b).sum(axis=1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.asarray(num / np.clip(den, 1e-12, None))


def session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def page_decisions(classifier: Any, pages: Sequence[Any]) -> list[tuple[bool, bool]]:
    """Each page's model decision and combined model+page decision, as the page check makes
    them (the URL layer on address and title; the page's signals for the combined one)."""
    from mlverify.page_check.scoring import COMBINED_THRESHOLD, combine_scores
    from mlverify.page_check.url_text import PageInput

    scores = classifier.score([PageInput.from_url(p.url, p.title) for p in pages])
    threshold = classifier.threshold
    return [
        (
            score >= threshold,
            combine_scores(score, threshold, page.signals) >= COMBINED_THRESHOLD,
        )
        for score, page in zip(scores, pages, strict=True)
    ]


def minilm_gate(
    files: Files,
    root: Path,
    *,
    int8_cosine: float,
    encoder: Any,
    classifier_dir: Path | None,
    pages_dir: Path | None,
) -> dict[str, Any]:
    """MiniLM's int8 gate: its worst cosine to torch clears :data:`INT8_MIN_COSINE` and every
    page-check decision on the development pages in ``pages_dir`` is the fp32 export's. A
    cosine alone is not enough (per-tensor int8 kept 0.99 yet flipped 72 of 1,559 decisions,
    bench/onnx.py); without the pages nothing shows the decisions hold, so fp32 is served."""
    from mlverify import onnx_runtime
    from mlverify.inference import ModelUnavailable
    from mlverify.page_check.classifier import load_page_classifier
    from mlverify.page_check.config import ClassifierConfig

    figures: dict[str, Any] = {"cosine_to_torch": int8_cosine}
    if int8_cosine < INT8_MIN_COSINE:
        reason = f"int8 cosine to torch {int8_cosine} < {INT8_MIN_COSINE}"
        return {"passed": False, "reason": reason, **figures}
    if pages_dir is None or not Path(pages_dir).is_dir() or classifier_dir is None:
        return {
            "passed": False,
            "reason": f"no development pages to check the decisions on ({pages_dir})",
            **figures,
        }
    from mlverify.training.dataset import load_dataset

    pages = load_dataset(Path(pages_dir)).pages
    decisions = {}
    for variant, info in files.items():
        served = onnx_runtime.load_onnx_text_encoder(
            onnx_runtime.ExportedModel(
                key=MINILM_KEY,
                path=root / info["path"],
                sha256=info["sha256"],
                variant=variant,
                source_fingerprint=encoder.fingerprint,
                opset=0,  # not read by the loader
            ),
            tokenizer=encoder.tokenizer,
            name=encoder.name,
            version=encoder.version,
            fingerprint=encoder.fingerprint,
            max_length=encoder.max_length,
        )
        config = ClassifierConfig(encoder_dir=None, classifier_dir=Path(classifier_dir))
        try:
            classifier = load_page_classifier(config, encoder=served)
        except ModelUnavailable as exc:  # e.g. a head made for another encoder
            return {"passed": False, "reason": f"no page check to gate on: {exc.reason}"}
        decisions[variant] = page_decisions(classifier, pages)
    changed = sum(a != b for a, b in zip(decisions["fp32"], decisions["int8"], strict=True))
    figures.update(pages=len(pages), decisions_changed=changed)
    if changed:
        reason = f"int8 changed {changed} of {len(pages)} page-check decisions"
        return {"passed": False, "reason": reason, **figures}
    reason = f"every page-check decision on {len(pages)} development pages unchanged"
    return {"passed": True, "reason": reason, **figures}


# The CLIP gate's product names: every sample image is scored against each, as the image check
# scores an image against a product name (three prompts, the negatives, the softmax).
GATE_PRODUCT_NAMES: tuple[str, ...] = (
    "solid oak dining table",
    "red leather ankle boots",
    "wireless noise cancelling headphones",
    "stainless steel chef's knife 20 cm",
    "women's linen summer dress, blue",
    "ceramic coffee mug 350 ml",
    "kids' bicycle 16 inch",
    "LED desk lamp with USB charging port!",
    "organic green tea, 100 bags",
    "men's waterproof hiking jacket (XL)",
    'smartphone case for 6.1" phones',
    "garden hose 25 m",
)
INT8_MAX_SCORE_DELTA = 0.02  # the CLIP gate: no pair's match probability moves more than this


def clip_scores(
    image_emb: np.ndarray, names: np.ndarray, negatives: np.ndarray, logit_scale: float
) -> np.ndarray:
    """P(product) for every (image, name) pair: [images, names]. ``names`` holds each name's
    prompt embeddings [names, prompts, dim]; the product class is their renormalised mean, as
    :func:`mlverify.clip.encoding.product_embedding` makes it."""
    product = names.mean(axis=1)
    product /= np.clip(np.linalg.norm(product, axis=1, keepdims=True), 1e-12, None)
    logits = logit_scale * (image_emb @ np.vstack([product, negatives]).T)  # [img, names+neg]
    out = np.empty((len(image_emb), len(product)))
    for j in range(len(product)):
        row = logits[:, [j, *range(len(product), logits.shape[1])]]
        row = np.exp(row - row.max(axis=1, keepdims=True))
        out[:, j] = row[:, 0] / row.sum(axis=1)
    return out


def clip_gate(
    files: dict[str, Files],
    root: Path,
    *,
    pixels: np.ndarray,
    name_tokens: np.ndarray,
    negative_tokens: np.ndarray,
    logit_scale: float,
    threshold: float,
) -> dict[str, dict[str, Any]]:
    """CLIP's int8 gate, for each tower: the int8 tower's embeddings keep a cosine of at least
    :data:`INT8_MIN_COSINE` to the fp32 tower's, and on every (sample image, product name)
    pair the match decision at ``threshold`` (the configured one) is the fp32 towers' and the
    probability moves by at most :data:`INT8_MAX_SCORE_DELTA`. Both towers in int8 are tried
    first, then each alone; the first combination that holds is served.

    ``name_tokens`` is [names, prompts, tokens]. The images are synthetic (the weights' real
    images are not here): the cosine and the score movement are what carry over."""
    keys = (CLIP_IMAGE_KEY, CLIP_TEXT_KEY)
    sessions = {(k, v): session(root / info["path"]) for k in keys for v, info in files[k].items()}
    n_names, n_prompts = name_tokens.shape[:2]
    embedded: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    for variant in ("fp32", "int8"):
        text = sessions[(CLIP_TEXT_KEY, variant)]
        flat = name_tokens.reshape(n_names * n_prompts, -1)
        embedded[(CLIP_TEXT_KEY, variant)] = {
            "names": text.run(None, {"tokens": flat})[0].reshape(n_names, n_prompts, -1),
            "negatives": text.run(None, {"tokens": negative_tokens})[0],
        }
        image = sessions[(CLIP_IMAGE_KEY, variant)]
        embedded[(CLIP_IMAGE_KEY, variant)] = {"images": image.run(None, {"pixels": pixels})[0]}
    image_cos = float(
        cosines(
            embedded[(CLIP_IMAGE_KEY, "int8")]["images"],
            embedded[(CLIP_IMAGE_KEY, "fp32")]["images"],
        ).min()
    )
    text_int8, text_fp32 = embedded[(CLIP_TEXT_KEY, "int8")], embedded[(CLIP_TEXT_KEY, "fp32")]
    text_cos = float(
        min(cosines(text_int8[part], text_fp32[part]).min() for part in ("names", "negatives"))
    )

    def scores(image_variant: str, text_variant: str) -> np.ndarray:
        text = embedded[(CLIP_TEXT_KEY, text_variant)]
        return clip_scores(
            embedded[(CLIP_IMAGE_KEY, image_variant)]["images"],
            text["names"],
            text["negatives"],
            logit_scale,
        )

    reference = scores("fp32", "fp32")
    common = {
        "threshold": threshold,
        "pairs": int(reference.size),
        "cosine_to_fp32": {"image": round(image_cos, 6), "text": round(text_cos, 6)},
        "min_cosine": INT8_MIN_COSINE,
        "max_score_delta_allowed": INT8_MAX_SCORE_DELTA,
    }
    tried: list[dict[str, Any]] = []  # in the order tried (the manifest sorts dict keys)
    chosen: tuple[str, str] = ("fp32", "fp32")
    for combination in (("int8", "int8"), ("int8", "fp32"), ("fp32", "int8")):
        got = scores(*combination)
        flips = int(((got >= threshold) != (reference >= threshold)).sum())
        delta = float(np.abs(got - reference).max())
        cosines_hold = all(
            cos >= INT8_MIN_COSINE
            for cos, variant in ((image_cos, combination[0]), (text_cos, combination[1]))
            if variant == "int8"
        )
        holds = cosines_hold and flips == 0 and delta <= INT8_MAX_SCORE_DELTA
        tried.append(
            {
                "image": combination[0],
                "text": combination[1],
                "decisions_flipped": flips,
                "max_score_delta": round(delta, 6),
                "holds": holds,
            }
        )
        if holds:
            chosen = combination
            break
    gates = {}
    for key, variant in zip(keys, chosen, strict=True):
        passed = variant == "int8"
        reason = (
            f"served in int8: image {chosen[0]}, text {chosen[1]} keep every decision"
            if passed
            else "int8 failed the gate (cosine, flipped decisions or score movement)"
        )
        gates[key] = {"passed": passed, "reason": reason, **common, "tried": tried}
    return gates
