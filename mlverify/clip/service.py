"""The CLIP check as the API and extraction call it: :func:`verify_image`, :func:`best_image`.

:class:`ClipService` ties the pieces together for one configuration, one model holder and one
cache; the module-level functions build one from Django settings and the registry's holder.
"""

from __future__ import annotations

import contextvars
import hashlib
import math
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import numpy as np
import structlog
from django.core.cache import cache as default_cache

from buyhive.cache import cache_get_many, cache_set_many
from buyhive.exceptions import ImageFetchFailed, RateLimited, ValidationFailed
from mlverify import registry
from mlverify.clip.calibration import resolve_threshold
from mlverify.clip.config import DEFAULT_INPUT_SIDE, ClipConfig
from mlverify.clip.encoding import (
    encode_images,
    match_probability,
    normalise_name,
    product_embedding,
)
from mlverify.clip.images import decode_image, fetch_image_bytes
from mlverify.clip.loading import ClipBundle
from mlverify.clip.score_cache import local_scores
from mlverify.inference import (
    InferenceTimeout,
    LazyModel,
    ModelUnavailable,
    load_in_time,
    run_inference,
)
from mlverify.page_check.config import ENCODER_NAME
from mlverify.page_check.services import text_similarity
from mlverify.results import CheckResult

if TYPE_CHECKING:
    from PIL import Image as PILImage

logger = structlog.get_logger(__name__)

# How long past the image step's deadline a caller waits for fetch threads to notice it (the
# outbound client stops each one at the deadline itself; this only absorbs scheduling).
DEADLINE_SLACK = 0.25


def filename_text(url: str) -> str:
    """Words of an image URL's file name: "red-leather-boot_800x600.jpg" -> "red leather boot"."""
    stem = PurePosixPath(unquote(urlsplit(url).path)).stem
    words = []
    for word in re.split(r"[\s\-_+.,;:()\[\]]+", stem):
        if not word or word.isdigit() or re.fullmatch(r"\d+x\d+|[0-9a-f]{8,}|v\d+", word, re.I):
            continue
        words.append(word)
    return " ".join(words)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Candidate:
    url: str
    alt: str = ""


def normalise_candidates(
    candidates: Iterable[str | Mapping[str, Any]], *, limit: int
) -> list[Candidate]:
    """Accept URLs or ``{"url", "alt"?}`` dicts; drop blanks and duplicates; keep the first N."""
    seen: set[str] = set()
    out: list[Candidate] = []
    for item in candidates:
        if isinstance(item, str):
            url, alt = item, ""
        elif isinstance(item, Mapping):
            url, alt = str(item.get("url") or ""), str(item.get("alt") or "")
        else:
            continue
        url = url.strip()
        if not url or url in seen:
            continue
        seen.add(url)
        out.append(Candidate(url=url, alt=" ".join(alt.split())[:300]))
        if len(out) >= limit:
            break
    return out


class ClipService:
    """Image checks for one configuration, one model holder and one cache.

    Cached values, all keyed by the model version so new weights never reuse old answers:
    the image embedding by URL (a new product name on the same image skips fetch and encode),
    the product embedding by normalised name, and the score by (URL, name). The threshold is
    applied when answering, so a new calibration takes effect on cached scores too.
    """

    def __init__(self, *, config: ClipConfig, model: LazyModel[ClipBundle], cache: Any) -> None:
        self.config = config
        self.model = model
        self.cache = cache

    # -- cache helpers (a cache outage is a miss, never an error) --

    def _cache_get_many(self, keys: list[str]) -> dict[str, Any]:
        return cache_get_many(keys, backend=self.cache, event="mlverify_cache_get_failed")

    def _cache_set_many(self, values: dict[str, Any]) -> None:
        cache_set_many(
            values,
            self.config.cache_timeout,
            backend=self.cache,
            event="mlverify_cache_set_failed",
        )

    @staticmethod
    def _vector(raw: Any, dim: int) -> np.ndarray | None:
        """A cached embedding's bytes as float32 [dim], or None when absent or malformed."""
        if not isinstance(raw, bytes | bytearray) or len(raw) != dim * 4:
            return None
        return np.frombuffer(bytes(raw), dtype=np.float32)

    @staticmethod
    def _vector_bytes(vector: np.ndarray) -> bytes:
        return np.asarray(vector, dtype=np.float32).tobytes()

    @staticmethod
    def _image_key(version: str, url: str) -> str:
        return f"mlverify:clip:img:{version}:{_digest(url)}"

    @staticmethod
    def _text_key(version: str, name: str) -> str:
        return f"mlverify:clip:txt:{version}:{_digest(name)}"

    @staticmethod
    def _score_key(version: str, url: str, name: str) -> str:
        return f"mlverify:clip:score:{version}:{_digest(url)}:{_digest(name)}"

    # -- model access --

    def _bundle(self) -> ClipBundle:
        """The loaded model (loading it on the inference thread, under the timeout)."""
        return load_in_time(
            self.model, self.config.inference_timeout, threads=self.config.num_threads
        )

    @staticmethod
    def _input_side(bundle: ClipBundle) -> int:
        """The model's input side (224 for ViT-B-32): images are shrunk to it when decoded."""
        return bundle.image_size if bundle.image_size > 0 else DEFAULT_INPUT_SIDE

    def _decode(self, data: bytes, bundle: ClipBundle, deadline: float) -> PILImage.Image:
        return decode_image(
            data,
            max_pixels=self.config.max_image_pixels,
            side=self._input_side(bundle),
            max_concurrent=self.config.max_concurrent_decodes,
            deadline=deadline,
        )

    def _fetch_in_parallel(
        self, urls: list[str], *, owner: str | None, deadline: float
    ) -> Iterator[tuple[str, bytes | ImageFetchFailed | RateLimited]]:
        """Fetch ``urls`` on a small pool, yielding ``(url, bytes or error)`` as each finishes.

        Every fetch shares ``deadline`` and counts against ``owner``'s outbound cap. What has
        not finished by the deadline (plus :data:`DEADLINE_SLACK`) is reported as not fetched
        in time and abandoned: the client ends it at the deadline on its own thread, so a slow
        host never holds the request. The pool is this call's own, never shared: a stuck
        host of one request cannot starve the next one's fetches.
        """
        pool = ThreadPoolExecutor(
            max_workers=max(1, min(self.config.fetch_workers, len(urls))),
            thread_name_prefix="clip-fetch",
        )
        futures = {
            # Each fetch runs in a copy of this context, so its logs keep the request id.
            pool.submit(
                contextvars.copy_context().run,
                fetch_image_bytes,
                url,
                max_bytes=self.config.max_image_bytes,
                owner=owner,
                deadline=deadline,
            ): url
            for url in urls
        }
        pending = set(futures)
        try:
            wait = max(0.0, deadline - time.monotonic()) + DEADLINE_SLACK
            for future in as_completed(futures, timeout=wait):
                pending.discard(future)
                try:
                    yield futures[future], future.result()
                except (ImageFetchFailed, RateLimited) as exc:
                    yield futures[future], exc
        except FutureTimeout:
            for future in pending:
                logger.info("image_fetch_deadline", url=futures[future])
                yield (
                    futures[future],
                    ImageFetchFailed("The image could not be fetched in time."),
                )
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _unavailable(self, reason: str) -> CheckResult:
        return CheckResult.unavailable(reason, model=self.config.model_name, method="clip")

    def _result(self, bundle: ClipBundle, score: float) -> CheckResult:
        threshold, calibrated = resolve_threshold(
            self.config, bundle.version, weights_version=bundle.weights_version
        )
        return CheckResult(
            status="ok",
            value=score >= threshold,
            score=round(score, 4),
            threshold=threshold,
            method="clip",
            model=bundle.label,
            reason=None,
            calibrated=calibrated,
        )

    @staticmethod
    def _name_or_error(product_name: str) -> str:
        name = normalise_name(product_name)
        if not name:
            raise ValidationFailed(fields={"product_name": ["A product name is required."]})
        return name

    # -- public operations --

    def verify_image(
        self, *, image_url: str, product_name: str, owner: str | None = None
    ) -> CheckResult:
        """Does the image at ``image_url`` show ``product_name``?

        Raises ImageFetchFailed when the image cannot be fetched or decoded (within
        ``CLIP_IMAGE_STEP_TIMEOUT``), RateLimited when ``owner`` already has its cap of
        fetches running; answers ``status="unavailable"`` when CLIP cannot load or does not
        answer in time.
        """
        name = self._name_or_error(product_name)
        url = (image_url or "").strip()
        if not url:
            raise ValidationFailed(fields={"image_url": ["An image URL is required."]})
        try:
            bundle = self._bundle()
        except ModelUnavailable as exc:
            return self._unavailable(exc.reason)
        except InferenceTimeout:
            return self._unavailable("timeout")

        score_key = self._score_key(bundle.version, url, name)
        cached = local_scores.get(score_key)
        if cached is not None:
            return self._result(bundle, cached)

        # The score and both embeddings in one round trip to the shared cache (and the new
        # values in one more below), instead of one each.
        image_key = self._image_key(bundle.version, url)
        text_key = self._text_key(bundle.version, name)
        found = self._cache_get_many([score_key, image_key, text_key])
        cached = found.get(score_key)
        if isinstance(cached, float):
            local_scores.set(score_key, cached, self.config.cache_timeout)
            return self._result(bundle, cached)
        image_emb = self._vector(found.get(image_key), bundle.dim)
        text_emb = self._vector(found.get(text_key), bundle.dim)
        image = None
        if image_emb is None:
            deadline = time.monotonic() + self.config.image_step_timeout
            data = fetch_image_bytes(
                url, max_bytes=self.config.max_image_bytes, owner=owner, deadline=deadline
            )
            image = self._decode(data, bundle, deadline)
            del data

        def work() -> tuple[np.ndarray, np.ndarray]:
            if image_emb is not None:
                img = image_emb
            else:
                assert image is not None  # fetched above whenever the embedding was not cached
                img = encode_images(bundle, [image])[0]
            txt = text_emb if text_emb is not None else product_embedding(bundle, name)
            return img, txt

        try:
            new_image_emb, new_text_emb = run_inference(
                work, self.config.inference_timeout, threads=self.config.num_threads
            )
        except InferenceTimeout:
            logger.warning("clip_inference_timeout", url=url)
            return self._unavailable("timeout")
        score = match_probability(bundle, new_image_emb, new_text_emb)
        local_scores.set(score_key, score, self.config.cache_timeout)
        writes: dict[str, Any] = {score_key: score}
        if image_emb is None:
            writes[image_key] = self._vector_bytes(new_image_emb)
        if text_emb is None:
            writes[text_key] = self._vector_bytes(new_text_emb)
        self._cache_set_many(writes)
        return self._result(bundle, score)

    def best_image(
        self,
        *,
        candidates: Iterable[str | Mapping[str, Any]],
        product_name: str,
        owner: str | None = None,
    ) -> tuple[str | None, CheckResult]:
        """The candidate image that best shows ``product_name``, with its check.

        Uncached candidates are fetched in parallel (``CLIP_FETCH_WORKERS``, as ``owner``)
        under one deadline, ``CLIP_IMAGE_STEP_TIMEOUT``, for fetching and decoding them all;
        each is decoded and shrunk to the model's input size as it arrives, one at a time, so
        at most one full-size raster exists per check. Candidates that cannot be fetched in
        time are skipped; ImageFetchFailed only when none can be. The shrunk images are
        encoded as one batch. When CLIP is unavailable, candidates are ranked by the text
        similarity of their alt text or file name (``method="text"``).
        """
        name = self._name_or_error(product_name)
        cands = normalise_candidates(candidates, limit=self.config.max_candidates)
        if not cands:
            return None, CheckResult.unavailable("no candidate images", method="clip")
        try:
            bundle = self._bundle()
        except ModelUnavailable as exc:
            return self._best_by_text(cands, name, clip_reason=exc.reason)
        except InferenceTimeout:
            return self._best_by_text(cands, name, clip_reason="timeout")

        scores: dict[str, float] = {}
        embeddings: dict[str, np.ndarray] = {}
        to_fetch: list[str] = []
        score_keys = {c.url: self._score_key(bundle.version, c.url, name) for c in cands}
        image_keys = {c.url: self._image_key(bundle.version, c.url) for c in cands}
        text_key = self._text_key(bundle.version, name)
        for cand in cands:
            local = local_scores.get(score_keys[cand.url])
            if local is not None:
                scores[cand.url] = local
        # What this worker has not scored, looked up in one round trip to the shared cache
        # (and everything new written in one more below), instead of two per candidate.
        unscored = [c.url for c in cands if c.url not in scores]
        found = (
            self._cache_get_many(
                [k for url in unscored for k in (score_keys[url], image_keys[url])] + [text_key]
            )
            if unscored
            else {}
        )
        for url in unscored:
            cached = found.get(score_keys[url])
            if isinstance(cached, float):
                local_scores.set(score_keys[url], cached, self.config.cache_timeout)
                scores[url] = cached
                continue
            emb = self._vector(found.get(image_keys[url]), bundle.dim)
            if emb is not None:
                embeddings[url] = emb
                continue
            to_fetch.append(url)

        decoded: dict[str, PILImage.Image] = {}
        failures: list[str] = []
        if to_fetch:
            deadline = time.monotonic() + self.config.image_step_timeout
            for url, fetched in self._fetch_in_parallel(to_fetch, owner=owner, deadline=deadline):
                try:
                    if not isinstance(fetched, bytes):
                        raise fetched
                    decoded[url] = self._decode(fetched, bundle, deadline)
                except (ImageFetchFailed, RateLimited) as exc:
                    failures.append(exc.message)
                    logger.info("best_image_candidate_skipped", url=url, reason=exc.message)
                del fetched  # the bytes of one candidate at a time, never all of them
        to_encode = [(url, decoded[url]) for url in to_fetch if url in decoded]
        if not scores and not embeddings and not to_encode:
            raise ImageFetchFailed(
                f"None of the {len(cands)} candidate images could be fetched: {failures[0]}"
            )

        if embeddings or to_encode:
            text_emb = self._vector(found.get(text_key), bundle.dim)

            def work() -> tuple[np.ndarray | None, np.ndarray]:
                batch = encode_images(bundle, [img for _, img in to_encode]) if to_encode else None
                txt = text_emb if text_emb is not None else product_embedding(bundle, name)
                return batch, txt

            try:
                batch, new_text_emb = run_inference(
                    work, self.config.inference_timeout, threads=self.config.num_threads
                )
            except InferenceTimeout:
                if scores:  # answer from what the cache already scored
                    best = max(scores, key=lambda u: scores[u])
                    return best, self._result(bundle, scores[best])
                return self._best_by_text(cands, name, clip_reason="timeout")
            writes: dict[str, Any] = {}
            if text_emb is None:
                writes[text_key] = self._vector_bytes(new_text_emb)
            if batch is not None:
                for (url, _), emb in zip(to_encode, batch, strict=True):
                    embeddings[url] = emb
                    writes[image_keys[url]] = self._vector_bytes(emb)
            for url, emb in embeddings.items():
                scores[url] = match_probability(bundle, emb, new_text_emb)
                local_scores.set(score_keys[url], scores[url], self.config.cache_timeout)
                writes[score_keys[url]] = scores[url]
            self._cache_set_many(writes)

        order = [c.url for c in cands if c.url in scores]
        best = max(order, key=lambda u: scores[u])  # ties keep the page's order
        return best, self._result(bundle, scores[best])

    def _best_by_text(
        self, cands: list[Candidate], name: str, *, clip_reason: str
    ) -> tuple[str | None, CheckResult]:
        """Rank by MiniLM similarity of alt text / file name to the name (CLIP unavailable)."""
        texts = [c.alt or filename_text(c.url) for c in cands]
        usable = [i for i, t in enumerate(texts) if t.strip()]
        if not usable:
            return None, CheckResult.unavailable(
                f"CLIP unavailable ({clip_reason}); the candidates have no alt text or "
                "file name to compare",
                method="text",
            )
        try:
            sims = run_inference(
                lambda: text_similarity(name, [texts[i] for i in usable]),
                self.config.inference_timeout,
                threads=self.config.num_threads,
            )
        except ModelUnavailable as exc:
            return None, CheckResult.unavailable(
                f"CLIP unavailable ({clip_reason}); text fallback unavailable ({exc.reason})",
                method="text",
            )
        except InferenceTimeout:
            return None, CheckResult.unavailable(
                f"CLIP unavailable ({clip_reason}); text fallback: timeout", method="text"
            )
        values = [float(s) for s in sims]
        if len(values) != len(usable) or not all(math.isfinite(v) for v in values):
            return None, CheckResult.unavailable(
                f"CLIP unavailable ({clip_reason}); text fallback gave no usable scores",
                method="text",
            )
        model_label = _text_model_label()
        best_pos = max(range(len(usable)), key=lambda k: values[k])
        score = values[best_pos]
        threshold = self.config.text_fallback_threshold
        return cands[usable[best_pos]].url, CheckResult(
            status="ok",
            value=score >= threshold,
            score=round(score, 4),
            threshold=threshold,
            method="text",
            model=model_label,
            reason=f"CLIP unavailable: {clip_reason}",
            calibrated=False,
        )


def _text_model_label() -> str:
    """What the text fallback reports as "model": the loaded encoder's name and version."""
    try:
        holder = registry.get_text_encoder()
        if holder.describe().state == "loaded":
            encoder = holder.get()
            return f"{encoder.name} {encoder.version}".strip()
    except Exception:
        logger.debug("text_model_label_failed", exc_info=True)
    return ENCODER_NAME


# ----------------------------------------------------------------------------------------------
# Entry points used by the API and by extraction
# ----------------------------------------------------------------------------------------------


def get_service() -> ClipService:
    """A service over the process-wide CLIP holder, Django's cache and current settings."""
    return ClipService(
        config=ClipConfig.from_settings(), model=registry.get_clip_model(), cache=default_cache
    )


def verify_image(*, image_url: str, product_name: str, owner: str | None = None) -> CheckResult:
    """See :meth:`ClipService.verify_image` (``owner``: the user id, for the fetch cap)."""
    return get_service().verify_image(image_url=image_url, product_name=product_name, owner=owner)


def best_image(
    *,
    product_name: str,
    candidates: Iterable[str | Mapping[str, Any]] | None = None,
    image_urls: Iterable[str | Mapping[str, Any]] | None = None,
    owner: str | None = None,
) -> tuple[str | None, CheckResult]:
    """See :meth:`ClipService.best_image` (``image_urls`` is accepted as an alias; ``owner``
    is the user id the fetches count against)."""
    items = list(candidates if candidates is not None else image_urls or [])
    return get_service().best_image(candidates=items, product_name=product_name, owner=owner)
