"""The two check endpoints through HTTP, with real tokens: shapes, statuses and bad input.

The models are the tiny CLIP and the tiny BERT, loaded by the production loaders; images come
from the loopback image server through the real safe outbound client.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from mlverify import registry
from mlverify.page_check.config import ClassifierConfig
from mlverify.tests.tiny_clip import ImageServer, png_bytes
from mlverify.tests.tiny_models import TinyBert

pytestmark = pytest.mark.django_db

VERIFY = "/api/v1/verify/image/"
CLASSIFY = "/api/v1/classify/url/"
CHECK_KEYS = {"status", "score", "threshold", "method", "model", "reason"}


def _assert_envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["request_id"] == response["X-Request-ID"]
    return body


@pytest.fixture
def missing_page_classifier(tmp_path: Path) -> Iterator[None]:
    """The page classifier pointed at folders that do not exist; settings restored after."""
    registry.configure_page_classifier(
        ClassifierConfig(encoder_dir=tmp_path / "no-encoder", classifier_dir=tmp_path / "no-head")
    )
    yield
    registry.configure_page_classifier()


# ------------------------------------------------------------------------------ verify/image


def test_verify_image_answers_the_check(
    auth_client: APIClient, clip_settings: Any, image_server: ImageServer
) -> None:
    url = image_server.add("/red.png", png_bytes((220, 30, 30)))
    response = auth_client.post(
        VERIFY, {"image_url": url, "product_name": "Red box"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == CHECK_KEYS | {"match", "calibrated"}
    assert body["status"] == "ok"
    assert body["method"] == "clip"
    assert body["model"].startswith("open_clip buyhive-tiny-clip @")
    assert 0.0 <= body["score"] <= 1.0
    assert body["threshold"] == 0.5
    assert body["match"] is (body["score"] >= 0.5)
    assert body["calibrated"] is False
    assert body["reason"] is None
    assert image_server.hits["/red.png"] == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"product_name": "Red box"}, "image_url"),
        ({"image_url": "javascript:alert(1)", "product_name": "Red box"}, "image_url"),
        ({"image_url": "ftp://cdn.example.com/a.png", "product_name": "Red box"}, "image_url"),
        ({"image_url": "https://cdn.example.com/a.png"}, "product_name"),
        ({"image_url": "https://cdn.example.com/a.png", "product_name": "   "}, "product_name"),
        ({"image_url": "https://cdn.example.com/a.png", "product_name": "x" * 301}, "product_name"),
    ],
    ids=["no-url", "javascript-url", "ftp-url", "no-name", "blank-name", "long-name"],
)
def test_verify_image_bad_input_is_a_400_on_the_field(
    auth_client: APIClient, clip_settings: Any, payload: dict[str, Any], field: str
) -> None:
    response = auth_client.post(VERIFY, payload, format="json")
    body = _assert_envelope(response, 400, "validation_error")
    assert set(body["error"]["fields"]) == {field}


def test_verify_image_that_cannot_be_fetched_is_a_422(
    auth_client: APIClient, clip_settings: Any, image_server: ImageServer
) -> None:
    url = image_server.add("/gone.png", b"gone", "text/plain", 404)
    response = auth_client.post(
        VERIFY, {"image_url": url, "product_name": "Red box"}, format="json"
    )
    body = _assert_envelope(response, 422, "image_fetch_failed")
    assert "HTTP 404" in body["error"]["message"]


def test_verify_image_needs_a_token(api_client: APIClient) -> None:
    response = api_client.post(
        VERIFY,
        {"image_url": "https://cdn.example.com/a.png", "product_name": "Red box"},
        format="json",
    )
    _assert_envelope(response, 401, "not_authenticated")


def test_verify_image_with_a_bad_token_is_a_401(api_client: APIClient) -> None:
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = api_client.post(
        VERIFY,
        {"image_url": "https://cdn.example.com/a.png", "product_name": "Red box"},
        format="json",
    )
    _assert_envelope(response, 401, "token_invalid")


def test_verify_image_without_clip_answers_200_unavailable(
    auth_client: APIClient, clip_settings: Any, image_server: ImageServer, tmp_path: Path
) -> None:
    clip_settings.CLIP_WEIGHTS = tmp_path / "absent.safetensors"
    registry.reset_models()
    url = image_server.add("/red.png", png_bytes((220, 30, 30)))
    response = auth_client.post(
        VERIFY, {"image_url": url, "product_name": "Red box"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "unavailable"
    assert (body["match"], body["score"], body["threshold"]) == (None, None, None)
    assert "CLIP weights not found" in body["reason"]
    assert image_server.hits["/red.png"] == 0  # nothing fetched for a model that cannot run


# ------------------------------------------------------------------------------ classify/url


def test_classify_url_answers_the_check(auth_client: APIClient, tiny_classifier: TinyBert) -> None:
    response = auth_client.post(
        CLASSIFY,
        {"url": "https://shop.example/p/oak-table-123", "title": "Oak table"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == CHECK_KEYS | {"is_product", "page_type"}
    assert body["status"] == "ok"
    assert body["method"] == "model"
    assert body["model"].startswith("encoder@local+head.")
    assert 0.0 < body["score"] < 1.0
    assert body["is_product"] is (body["score"] >= body["threshold"])
    assert body["page_type"] in {"product", "collection", "other"}
    assert body["is_product"] is (body["page_type"] == "product")
    assert body["reason"] is None


GRID_HTML = """<html><head><title>Chairs</title></head><body><h1>Chairs</h1><ul>
<li class="card"><a href="/p/1"><img src="/1.jpg">Chair 1</a><span>$19.00</span></li>
<li class="card"><a href="/p/2"><img src="/2.jpg">Chair 2</a><span>$29.00</span></li>
<li class="card"><a href="/p/3"><img src="/3.jpg">Chair 3</a><span>$39.00</span></li>
</ul></body></html>"""


def test_classify_url_with_html_reads_the_page(
    auth_client: APIClient, tiny_classifier: TinyBert
) -> None:
    url = "https://shop.example/collections/chairs"
    plain = auth_client.post(CLASSIFY, {"url": url, "title": "Chairs"}, format="json").json()
    response = auth_client.post(
        CLASSIFY, {"url": url, "title": "Chairs", "html": GRID_HTML}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == CHECK_KEYS | {"is_product", "page_type"}
    assert body["status"] == "ok"
    assert body["method"] == "model+page"
    assert plain["method"] == "model"
    assert body["page_type"] in {"product", "collection", "other"}
    assert body["is_product"] is (body["page_type"] == "product")
    # Blank or null HTML is the same as none.
    for html in ("", None):
        again = auth_client.post(
            CLASSIFY, {"url": url, "title": "Chairs", "html": html}, format="json"
        )
        assert again.status_code == 200, again.content
        assert again.json() == plain


def test_classify_url_title_is_optional(auth_client: APIClient, tiny_classifier: TinyBert) -> None:
    for payload in (
        {"url": "https://shop.example/p/lamp-9"},
        {"url": "https://shop.example/p/lamp-9", "title": ""},
        {"url": "https://shop.example/p/lamp-9", "title": None},
    ):
        response = auth_client.post(CLASSIFY, payload, format="json")
        assert response.status_code == 200, (payload, response.content)
        assert response.json()["status"] == "ok"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "https://shop.example/" + "a" * 2100}, "url"),
        ({"url": "https://shop.example/p/1", "title": "t" * 501}, "title"),
        ({"url": "https://shop.example/p/1", "html": 42}, "html"),
        ({"url": "https://shop.example/p/1", "html": ["<p>"]}, "html"),
        ({"url": "https://shop.example/p/1", "html": "x" * (2 * 1024 * 1024 + 1)}, "html"),
    ],
    ids=[
        "no-url",
        "not-a-url",
        "file-url",
        "long-url",
        "long-title",
        "html-number",
        "html-list",
        "html-too-long",
    ],
)
def test_classify_url_bad_input_is_a_400_on_the_field(
    auth_client: APIClient, payload: dict[str, Any], field: str
) -> None:
    response = auth_client.post(CLASSIFY, payload, format="json")
    body = _assert_envelope(response, 400, "validation_error")
    assert set(body["error"]["fields"]) == {field}


def test_classify_url_needs_a_token(api_client: APIClient) -> None:
    response = api_client.post(CLASSIFY, {"url": "https://shop.example/p/1"}, format="json")
    _assert_envelope(response, 401, "not_authenticated")


def test_classify_url_without_the_model_answers_200_unavailable(
    auth_client: APIClient, missing_page_classifier: None
) -> None:
    response = auth_client.post(CLASSIFY, {"url": "https://shop.example/p/1"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "unavailable"
    assert (body["is_product"], body["score"], body["threshold"]) == (None, None, None)
    assert body["page_type"] is None
    assert "page encoder missing" in body["reason"]


def test_classify_url_is_rate_limited_per_user(
    auth_client: APIClient, missing_page_classifier: None, settings: Any
) -> None:
    settings.RATE_CLASSIFY_USER = "2/h"
    for _ in range(2):
        ok = auth_client.post(CLASSIFY, {"url": "https://shop.example/p/1"}, format="json")
        assert ok.status_code == 200, ok.content
    limited = auth_client.post(CLASSIFY, {"url": "https://shop.example/p/1"}, format="json")
    _assert_envelope(limited, 429, "rate_limited")
    assert int(limited["Retry-After"]) > 0
