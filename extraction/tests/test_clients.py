"""The provider clients: the real groq and openai SDKs against the loopback fake server."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from extraction.clients import (
    GroqClient,
    LLMBadOutput,
    LLMClient,
    LLMNotConfigured,
    LLMRateLimited,
    LLMRequestRejected,
    LLMServerError,
    LLMTimeout,
    OpenAIClient,
    get_llm_clients,
)
from extraction.llm import LLMProduct
from extraction.tests.fake_llm_server import FakeLLMServer, FakeReply


class Answer(BaseModel):
    title: str | None = None
    price: str | None = None


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _reset(server: FakeLLMServer) -> None:
    server.reset()


def make_client(provider: str, server: FakeLLMServer, **kwargs: Any) -> LLMClient:
    options: dict[str, Any] = {"timeout": 2.0, "connect_timeout": 1.0, **kwargs}
    if provider == "groq":
        return GroqClient(api_key="groq-test-key", base_url=server.groq_base_url, **options)
    return OpenAIClient(api_key="openai-test-key", base_url=server.openai_base_url, **options)


def ask(client: LLMClient, schema: type[BaseModel] = Answer, max_tokens: int = 123) -> Any:
    return client.complete_json(
        system="Answer in JSON.", user="the page", schema=schema, max_tokens=max_tokens
    )


PROVIDERS = ["groq", "openai"]


def test_groq_success_sends_json_mode_to_groq_path_with_key_and_token_cap(
    server: FakeLLMServer,
) -> None:
    server.queue(FakeReply.json({"title": "Walnut desk", "price": "249.00"}))
    client = make_client("groq", server, model="some-groq-model")

    answer = ask(client, max_tokens=77)

    assert answer == Answer(title="Walnut desk", price="249.00")
    (request,) = server.requests
    assert request.path == "/openai/v1/chat/completions"
    assert request.header("Authorization") == "Bearer groq-test-key"
    assert request.body is not None
    assert request.body["model"] == "some-groq-model"
    assert request.body["response_format"] == {"type": "json_object"}
    assert request.max_output_tokens == 77
    assert request.system == "Answer in JSON."
    assert request.user == "the page"


def test_openai_success_sends_strict_schema_to_v1_path(server: FakeLLMServer) -> None:
    server.queue(FakeReply.json({"title": "Walnut desk", "price": None}))
    client = make_client("openai", server)

    answer = ask(client, max_tokens=55)

    assert answer == Answer(title="Walnut desk", price=None)
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.header("Authorization") == "Bearer openai-test-key"
    assert request.body is not None
    assert request.body["model"] == "gpt-4o-mini"
    assert request.max_output_tokens == 55
    response_format = request.body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    assert set(response_format["json_schema"]["schema"]["properties"]) == {"title", "price"}


def test_openai_strict_schema_of_llm_product_has_no_keywords_strict_mode_refuses(
    server: FakeLLMServer,
) -> None:
    """OpenAI's strict mode rejects maxLength/minLength: the product schema must not carry them."""
    server.queue(FakeReply.json({}))
    ask(make_client("openai", server), schema=LLMProduct)

    body = server.requests[0].body
    assert body is not None
    schema = body["response_format"]["json_schema"]["schema"]
    text = str(schema)
    assert "maxLength" not in text
    assert "minLength" not in text
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"])
    assert "InStock" in str(schema["properties"]["availability"])


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (FakeReply.error(500), LLMServerError),
        (FakeReply.error(503), LLMServerError),
        (FakeReply.error(401), LLMRequestRejected),
        (FakeReply.error(400), LLMRequestRejected),
        (FakeReply.text("this is not json"), LLMBadOutput),
        (FakeReply.text("[1, 2, 3]"), LLMBadOutput),
        (FakeReply.text(""), LLMBadOutput),
        (FakeReply.json({"title": ["a", "list"]}), LLMBadOutput),
        (FakeReply.json({"title": "cut"}, finish_reason="length"), LLMBadOutput),
        (FakeReply(raw_body=b"<html>gateway</html>"), LLMBadOutput),
    ],
    ids=[
        "500",
        "503",
        "401",
        "400",
        "not-json",
        "json-array",
        "empty",
        "wrong-type",
        "cut-at-cap",
        "html-body",
    ],
)
def test_errors_map_to_llm_errors_with_a_single_request(
    server: FakeLLMServer, provider: str, reply: FakeReply, error: type[Exception]
) -> None:
    server.queue(reply)
    with pytest.raises(error) as caught:
        ask(make_client(provider, server))
    assert caught.value.provider == provider  # type: ignore[attr-defined]
    assert server.request_count == 1  # the SDK's own retries are off


@pytest.mark.parametrize("provider", PROVIDERS)
def test_rate_limit_carries_retry_after_and_is_not_retried(
    server: FakeLLMServer, provider: str
) -> None:
    server.queue(FakeReply.rate_limited(retry_after=7))
    started = time.monotonic()
    with pytest.raises(LLMRateLimited) as caught:
        ask(make_client(provider, server))
    assert caught.value.retry_after == 7
    assert server.request_count == 1
    assert time.monotonic() - started < 2  # no backoff sleep on Retry-After


@pytest.mark.parametrize("provider", PROVIDERS)
def test_slow_provider_times_out_after_the_configured_timeout(
    server: FakeLLMServer, provider: str
) -> None:
    server.queue(FakeReply.slow(5, {"title": "late"}))
    with pytest.raises(LLMTimeout):
        ask(make_client(provider, server, timeout=0.3, connect_timeout=0.3))
    assert server.request_count == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unreachable_provider_is_a_server_error(provider: str) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    client: LLMClient
    if provider == "groq":
        client = GroqClient(api_key="k", base_url=base, timeout=1, connect_timeout=0.5)
    else:
        client = OpenAIClient(api_key="k", base_url=base + "/v1", timeout=1, connect_timeout=0.5)
    with pytest.raises(LLMServerError):
        ask(client)


def test_openai_refusal_is_bad_output(server: FakeLLMServer) -> None:
    server.queue(FakeReply(content=None, refusal="I can't help with that."))
    with pytest.raises(LLMBadOutput):
        ask(make_client("openai", server))


def test_groq_answer_in_a_markdown_fence_is_still_read(server: FakeLLMServer) -> None:
    server.queue(FakeReply.text('```json\n{"title": "Lamp"}\n```'))
    assert ask(make_client("groq", server)) == Answer(title="Lamp")


@pytest.mark.parametrize("cls", [GroqClient, OpenAIClient])
def test_empty_key_is_not_configured(cls: type[GroqClient] | type[OpenAIClient]) -> None:
    with pytest.raises(LLMNotConfigured):
        cls(api_key="")


# -- settings --------------------------------------------------------------------------------
def test_no_key_means_no_client(settings: Any) -> None:
    settings.GROQ_API_KEY = ""
    settings.OPENAI_API_KEY = ""
    assert get_llm_clients() == []


def test_clients_come_groq_first_then_openai(settings: Any) -> None:
    settings.GROQ_API_KEY = "g"
    settings.OPENAI_API_KEY = "o"
    settings.GROQ_MODEL = "groq-model-x"
    clients = get_llm_clients()
    assert [c.name for c in clients] == ["groq", "openai"]
    assert clients[0].model == "groq-model-x"
    assert clients[1].model == settings.OPENAI_MODEL


def test_only_openai_key_gives_only_openai(settings: Any) -> None:
    settings.GROQ_API_KEY = ""
    settings.OPENAI_API_KEY = "o"
    assert [c.name for c in get_llm_clients()] == ["openai"]


def test_settings_timeouts_and_base_urls_are_applied(settings: Any, server: FakeLLMServer) -> None:
    settings.GROQ_API_KEY = "settings-groq-key"
    settings.OPENAI_API_KEY = "settings-openai-key"
    settings.GROQ_BASE_URL = server.groq_base_url
    settings.OPENAI_BASE_URL = server.openai_base_url
    settings.LLM_TIMEOUT = 0.3
    settings.LLM_CONNECT_TIMEOUT = 0.3
    server.queue(FakeReply.slow(5), FakeReply.slow(5))

    started = time.monotonic()
    for client in get_llm_clients():
        with pytest.raises(LLMTimeout):
            ask(client)
    assert time.monotonic() - started < 3
    assert [r.path for r in server.requests] == [
        "/openai/v1/chat/completions",
        "/v1/chat/completions",
    ]
    assert [r.header("Authorization") for r in server.requests] == [
        "Bearer settings-groq-key",
        "Bearer settings-openai-key",
    ]
