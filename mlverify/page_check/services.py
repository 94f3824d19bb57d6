"""The page check as the API and extraction call it: :func:`classify_url`, :func:`classify_page`,
and :func:`text_similarity` (CLIP's text fallback)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from buyhive import metrics
from buyhive.cache import cache_get, cache_set
from mlverify import registry
from mlverify.inference import InferenceTimeout, ModelUnavailable, run_inference
from mlverify.page_check import encoder as page_encoder
from mlverify.page_check.classifier import PageClassifier
from mlverify.page_check.config import DEFAULT_THRESHOLD, TEXT_FORMAT, ClassifierConfig
from mlverify.page_check.scoring import COMBINED_THRESHOLD, combine_scores
from mlverify.page_check.signals import PageSignals, extract_page_signals
from mlverify.page_check.url_text import PageInput
from mlverify.results import CheckResult

if TYPE_CHECKING:
    from lxml.html import HtmlElement


def _cache_key(text: str, version: str) -> str:
    digest = hashlib.sha256(f"{TEXT_FORMAT}\x00{version}\x00{text}".encode()).hexdigest()[:32]
    return f"mlverify:page:{digest}"


def _run_inference(fn: Callable[[], float], config: ClassifierConfig) -> float:
    """Run ``fn`` on the shared inference thread with ``ML_INFERENCE_TIMEOUT`` (inline when
    already on it); a timeout is :class:`ModelUnavailable`."""
    try:
        return run_inference(fn, config.inference_timeout, threads=config.num_threads)
    except InferenceTimeout as exc:
        raise ModelUnavailable(f"page classifier timed out: {exc}") from exc


def _cached_model_score(
    classifier: PageClassifier, page: PageInput, config: ClassifierConfig
) -> float:
    """The model's probability for ``page``, cached in Django's cache by (normalised text,
    model version). A cache outage costs a model call, never an error."""
    key = _cache_key(page.key, classifier.version)
    cached = cache_get(key, event="page_classifier_cache_unavailable")
    if isinstance(cached, int | float):
        return float(cached)
    started = time.perf_counter()
    score = _run_inference(lambda: classifier.score([page])[0], config)
    metrics.record_inference(model="page-classifier", seconds=time.perf_counter() - started)
    cache_set(key, score, config.cache_timeout, event="page_classifier_cache_unavailable")
    return score


def _model_score(url: str, title: str | None) -> tuple[PageClassifier, float]:
    """Load (once) and score; :class:`ModelUnavailable` when the model cannot answer."""
    classifier = registry.get_page_classifier().get()
    config = registry.get_page_classifier_config()
    return classifier, _cached_model_score(classifier, PageInput.from_url(url, title), config)


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
    return page_encoder.text_similarity(registry.get_text_encoder().get(), query, candidates)
