"""The page check as the API and extraction call it: :func:`classify_url`, :func:`classify_page`
(both answer ``page_type`` and ``is_product``), and :func:`text_similarity` (CLIP's text
fallback)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from buyhive import metrics
from buyhive.cache import cache_get, cache_set
from mlverify import registry
from mlverify.inference import InferenceTimeout, ModelUnavailable, run_inference
from mlverify.page_check import encoder as page_encoder
from mlverify.page_check.classifier import PageClassifier
from mlverify.page_check.config import DEFAULT_THRESHOLD, TEXT_FORMAT, ClassifierConfig
from mlverify.page_check.features import (
    feature_dict,
    page_input,
    url_features,
)
from mlverify.page_check.head import decide
from mlverify.page_check.scoring import COMBINED_THRESHOLD, combine_scores
from mlverify.page_check.signals import extract_page_signals, parse_html
from mlverify.page_check.url_text import PageInput
from mlverify.results import CheckResult

if TYPE_CHECKING:
    from lxml.html import HtmlElement


def _cache_key(text: str, version: str) -> str:
    digest = hashlib.sha256(f"{TEXT_FORMAT}\x00{version}\x00{text}".encode()).hexdigest()[:32]
    return f"mlverify:page:{digest}"


def _run_inference(fn: Callable[[], list[float]], config: ClassifierConfig) -> list[float]:
    """Run ``fn`` on the shared inference thread with ``ML_INFERENCE_TIMEOUT`` (inline when
    already on it); a timeout is :class:`ModelUnavailable`."""
    try:
        return run_inference(fn, config.inference_timeout, threads=config.num_threads)
    except InferenceTimeout as exc:
        raise ModelUnavailable(f"page classifier timed out: {exc}") from exc


def _cached_probabilities(
    classifier: PageClassifier,
    page: PageInput,
    features: Mapping[str, float],
    config: ClassifierConfig,
) -> list[float]:
    """The three page-type probabilities for ``page``, cached in Django's cache by (normalised
    text, features, model version). A cache outage costs a model call, never an error."""
    feature_text = ",".join(f"{features[n]:.6g}" for n in sorted(features))
    key = _cache_key(f"{page.key}\x00{feature_text}", classifier.version)
    cached = cache_get(key, event="page_classifier_cache_unavailable")
    if isinstance(cached, list) and len(cached) == len(classifier.classes):
        return [float(x) for x in cached]
    started = time.perf_counter()
    probs = _run_inference(
        lambda: [float(x) for x in classifier.predict([page], [features])[0]], config
    )
    metrics.record_inference(model="page-classifier", seconds=time.perf_counter() - started)
    cache_set(key, probs, config.cache_timeout, event="page_classifier_cache_unavailable")
    return probs


def _model_answer(page: PageInput, features: Mapping[str, float], *, method: str) -> CheckResult:
    """Load (once) and classify; :class:`ModelUnavailable` when the model cannot answer."""
    classifier = registry.get_page_classifier().get()
    config = registry.get_page_classifier_config()
    probs = _cached_probabilities(classifier, page, features, config)
    threshold = classifier.threshold_for(features)
    page_type = classifier.classes[decide(probs, threshold)]
    return CheckResult(
        status="ok",
        value=page_type == "product",
        score=round(probs[0], 4),
        threshold=threshold,
        method=method,
        model=classifier.version,
        reason=None,
        page_type=page_type,
    )


def classify_url(
    *, url: str, title: str | None = None, html: str | bytes | HtmlElement | None = None
) -> CheckResult:
    """What kind of page is ``url`` (with its title, and its HTML when given)?

    ``page_type`` is ``product`` when ``P(product) >= threshold``, otherwise the likelier of
    ``collection`` and ``other`` (:func:`~mlverify.page_check.head.decide`); ``is_product`` is
    ``page_type == "product"`` and ``score`` is ``P(product)``. Without HTML
    the URL layer answers (method ``model``); with it see :func:`classify_page`. Answers
    ``status="unavailable"`` with the reason when the model cannot be loaded or does not answer
    within ``ML_INFERENCE_TIMEOUT``.
    """
    if html is not None:
        return classify_page(url=url, title=title, html=html)
    try:
        return _model_answer(PageInput.from_url(url, title), url_features(url), method="model")
    except ModelUnavailable as exc:
        return CheckResult.unavailable(exc.reason, method="model")


def classify_page(
    *, url: str, title: str | None = None, html: str | bytes | HtmlElement | None = None
) -> CheckResult:
    """The page check with the page: the page layer reads the URL, title, main heading and
    description with the structural features of the HTML (method ``model+page``).

    Without HTML (or HTML that does not parse) it is :func:`classify_url`. When the model is
    unavailable it still answers ``is_product`` from the page signals alone (method ``page``,
    ``page_type`` only when it is ``product``) and says why in ``reason``.
    """
    doc = parse_html(html) if isinstance(html, str | bytes) else html
    if doc is None:
        return classify_url(url=url, title=title)
    # The page's own <title> first: the layer was trained on it (extraction passes the
    # product's name, which a grid page does not have).
    page = page_input(url, doc, title)
    try:
        return _model_answer(page, feature_dict(url, doc), method="model+page")
    except ModelUnavailable as exc:
        signals = extract_page_signals(doc)
        score = combine_scores(None, DEFAULT_THRESHOLD, signals)
        is_product = score >= COMBINED_THRESHOLD
        return CheckResult(
            status="ok",
            value=is_product,
            score=round(score, 4),
            threshold=COMBINED_THRESHOLD,
            method="page",
            model=None,
            reason=f"model unavailable, page signals only: {exc.reason}",
            page_type="product" if is_product else None,
        )


def text_similarity(query: str, candidates: list[str]) -> list[float]:
    """Cosine similarity of ``query`` to each candidate with the MiniLM encoder, in [-1, 1].

    CLIP's fallback ranks candidate images by their alt text or file name with it. Raises
    :class:`ModelUnavailable` when the encoder cannot be loaded.
    """
    if not candidates:
        return []
    return page_encoder.text_similarity(registry.get_text_encoder().get(), query, candidates)
