"""CloudWatch Embedded Metric Format: the lines CloudWatch turns into metrics.

Each test reads what was really written to stdout and checks it the way CloudWatch Logs
would: one JSON object per line, an ``_aws`` member valid against the EMF specification's
schema, every dimension named in a set present as a top-level string, every metric a
top-level number. The middleware tests go through the whole Django stack.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import jsonschema
import pytest
import structlog
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from buyhive import metrics
from buyhive.metrics import MetricError, MetricsConfig

# The EMF specification's structure ("Embedded metric format specification", Amazon
# CloudWatch User Guide), as a JSON schema.
EMF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 1024},
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1, "maxLength": 250},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": {"type": "string", "minLength": 1},
                                        "Unit": {"enum": sorted(metrics.UNITS)},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}

ON = MetricsConfig(enabled=True, namespace="BuyHiveTest", environment="staging")


def emf_lines(text: str) -> list[dict[str, Any]]:
    """The EMF records among stdout's lines, each checked as CloudWatch would."""
    records = []
    for line in text.splitlines():
        if '"_aws"' not in line:
            continue
        record = json.loads(line)  # one whole JSON object per line
        jsonschema.validate(record, EMF_SCHEMA)
        for directive in record["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                for name in dimension_set:
                    value = record[name]
                    assert isinstance(value, str), (name, value)
                    assert 0 < len(value) <= 1024, (name, value)
            for metric in directive["Metrics"]:
                value = record[metric["Name"]]
                values = value if isinstance(value, list) else [value]
                assert values, metric
                for number in values:
                    assert isinstance(number, int | float), (metric, value)
                    assert not isinstance(number, bool), (metric, value)
                    assert math.isfinite(number), (metric, value)
        records.append(record)
    return records


def metric_names(record: dict[str, Any]) -> set[str]:
    return {m["Name"] for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


def dimension_sets(record: dict[str, Any]) -> list[list[str]]:
    return record["_aws"]["CloudWatchMetrics"][0]["Dimensions"]


# --------------------------------------------------------------------------------------------
# emit
# --------------------------------------------------------------------------------------------


def test_emit_writes_one_line_cloudwatch_turns_into_metrics(
    capsys: pytest.CaptureFixture[str],
) -> None:
    written = metrics.emit(
        {"Widgets": 3, "WidgetTime": [1.5, 2.5]},
        dimensions={"Shop": "example"},
        units={"Widgets": "Count", "WidgetTime": "Milliseconds"},
        properties={"note": "free text stays a property"},
        config=ON,
    )
    (record,) = emf_lines(capsys.readouterr().out)
    assert record == written
    assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "BuyHiveTest"
    assert dimension_sets(record) == [["Environment", "Shop"]]
    assert (record["Environment"], record["Shop"]) == ("staging", "example")
    assert (record["Widgets"], record["WidgetTime"]) == (3, [1.5, 2.5])
    assert record["note"] == "free text stays a property"
    assert {"Name": "WidgetTime", "Unit": "Milliseconds"} in record["_aws"]["CloudWatchMetrics"][0][
        "Metrics"
    ]


def test_emit_writes_nothing_when_metrics_are_off(capsys: pytest.CaptureFixture[str]) -> None:
    assert metrics.emit({"Widgets": 1}, config=MetricsConfig(enabled=False)) is None
    assert capsys.readouterr().out == ""


def test_metrics_are_off_in_the_test_settings_by_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert metrics.emit({"Widgets": 1}) is None
    assert metrics.record_inference(model="clip", seconds=0.1) is None
    assert capsys.readouterr().out == ""


def test_environment_is_in_every_dimension_set(capsys: pytest.CaptureFixture[str]) -> None:
    metrics.emit(
        {"Widgets": 1},
        dimensions={"A": "x", "B": "y"},
        dimension_sets=[["A"], ["B", "Environment"], []],
        config=ON,
    )
    (record,) = emf_lines(capsys.readouterr().out)
    assert dimension_sets(record) == [["Environment", "A"], ["Environment", "B"], ["Environment"]]


def test_emit_carries_the_request_id_of_the_log_context(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with structlog.contextvars.bound_contextvars(request_id="req-1234-abcd"):
        metrics.emit({"Widgets": 1}, config=ON)
    (record,) = emf_lines(capsys.readouterr().out)
    assert record["request_id"] == "req-1234-abcd"


def test_metrics_are_written_even_when_log_level_is_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.WARNING)
    try:
        metrics.emit({"Widgets": 1}, config=ON)
    finally:
        root.setLevel(previous)
    assert len(emf_lines(capsys.readouterr().out)) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metrics": {}}, "at least one metric"),
        ({"metrics": {"X": float("nan")}}, "non-finite"),
        ({"metrics": {"X": float("inf")}}, "non-finite"),
        ({"metrics": {"X": True}}, "non-numeric"),
        ({"metrics": {"X": "1"}}, "non-numeric"),
        ({"metrics": {"X": list(range(101))}}, "1 to 100 values"),
        ({"metrics": {f"M{i}": 1 for i in range(101)}}, "at most 100 metrics"),
        ({"metrics": {"X": 1}, "units": "Furlongs"}, "unknown unit"),
        ({"metrics": {"X": 1}, "namespace": "AWS/ECS"}, "invalid namespace"),
        ({"metrics": {"X": 1}, "dimension_sets": [["Nope"]]}, "unknown dimensions"),
        ({"metrics": {"X": 1}, "dimensions": {"X": "a"}}, "both a metric and a dimension"),
        ({"metrics": {"bad name": 1}}, "invalid metric name"),
        ({"metrics": {"X": 1}, "dimensions": {"_aws": "a"}}, "reserved"),
        (
            {
                "metrics": {"X": 1},
                "dimensions": {f"D{i}": "v" for i in range(31)},
            },
            "at most 30",
        ),
    ],
)
def test_build_record_refuses_what_cloudwatch_would_reject(
    kwargs: dict[str, Any], message: str
) -> None:
    kwargs = {"namespace": "BuyHive", **kwargs}
    with pytest.raises(MetricError, match=message):
        metrics.build_record(**kwargs)


def test_dimension_values_are_never_empty_nor_too_long(capsys: pytest.CaptureFixture[str]) -> None:
    metrics.emit({"Widgets": 1}, dimensions={"A": "  ", "B": "x" * 5000}, config=ON)
    (record,) = emf_lines(capsys.readouterr().out)
    assert record["A"] == "none"
    assert len(record["B"]) == 1024


# --------------------------------------------------------------------------------------------
# Helpers for the other apps
# --------------------------------------------------------------------------------------------


def test_extraction_outcome_by_source(capsys: pytest.CaptureFixture[str]) -> None:
    metrics.record_extraction(source="structured", outcome="ok", duration_ms=12.3456, config=ON)
    metrics.record_extraction(source="llm", outcome="failed", config=ON)
    first, second = emf_lines(capsys.readouterr().out)
    assert dimension_sets(first) == [["Environment", "Source", "Outcome"]]
    assert (first["Source"], first["Outcome"], first["Extractions"]) == ("structured", "ok", 1)
    assert first["ExtractionLatency"] == 12.346
    assert metric_names(second) == {"Extractions"}
    assert (second["Source"], second["Outcome"]) == ("llm", "failed")


def test_model_load_and_inference_times_by_model(capsys: pytest.CaptureFixture[str]) -> None:
    metrics.record_model_load(model="clip", seconds=1.25, config=ON)
    metrics.record_model_load(model="clip", seconds=0.5, ok=False, config=ON)
    metrics.record_inference(model="page_classifier", seconds=0.0036, batch_size=4, config=ON)
    load, failure, inference = emf_lines(capsys.readouterr().out)
    assert (load["Model"], load["ModelLoadTime"]) == ("clip", 1250.0)
    assert {"Name": "ModelLoadTime", "Unit": "Milliseconds"} in load["_aws"]["CloudWatchMetrics"][
        0
    ]["Metrics"]
    assert metric_names(failure) == {"ModelLoadFailures"}
    assert failure["ModelLoadFailures"] == 1
    assert (inference["Model"], inference["InferenceTime"]) == ("page_classifier", 3.6)
    assert inference["batch_size"] == 4
    assert dimension_sets(inference) == [["Environment", "Model"]]


def test_a_bad_helper_call_is_logged_and_never_raised(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert metrics.record_inference(model="clip", seconds=float("nan"), config=ON) is None
    assert emf_lines(capsys.readouterr().out) == []


@pytest.mark.parametrize(
    ("status", "expected"), [(200, "2xx"), (204, "2xx"), (302, "3xx"), (404, "4xx"), (503, "5xx")]
)
def test_status_class(status: int, expected: str) -> None:
    assert metrics.status_class(status) == expected


# --------------------------------------------------------------------------------------------
# The middleware, through the whole Django stack
# --------------------------------------------------------------------------------------------


@pytest.fixture
def metrics_on(settings: SettingsWrapper) -> SettingsWrapper:
    """The production wiring: metrics on, the middleware last."""
    settings.METRICS_ENABLED = True
    settings.ENVIRONMENT = "production"
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "buyhive.metrics.MetricsMiddleware"]
    return settings


def test_request_count_and_latency_by_route_and_status_class(
    metrics_on: SettingsWrapper, auth_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    ok = auth_client.get("/api/v1/auth/me/")
    refused = Client().get("/api/v1/auth/me/")
    assert (ok.status_code, refused.status_code) == (200, 401)
    first, second = emf_lines(capsys.readouterr().out)

    assert dimension_sets(first) == [["Environment", "Route"], ["Environment", "StatusClass"]]
    assert metric_names(first) == {"Requests", "Latency"}
    assert (first["Route"], first["StatusClass"], first["status"]) == (
        "GET api/v1/auth/me/",
        "2xx",
        200,
    )
    assert (first["Environment"], first["Requests"]) == ("production", 1)
    assert first["Latency"] > 0
    # One id ties the metric line to the request's logs and to the response header.
    assert first["request_id"] == ok["X-Request-ID"]
    assert (second["Route"], second["StatusClass"], second["status"]) == (
        "GET api/v1/auth/me/",
        "4xx",
        401,
    )


def test_paths_no_route_matched_share_one_dimension_value(
    metrics_on: SettingsWrapper, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    client = Client()
    for path in ("/wp-login.php", "/.env", "/random/deep/path"):
        assert client.get(path).status_code == 404
    records = emf_lines(capsys.readouterr().out)
    assert [r["Route"] for r in records] == ["GET unmatched"] * 3
    assert {r["StatusClass"] for r in records} == {"4xx"}


def test_probes_are_not_counted(
    metrics_on: SettingsWrapper, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert Client().get("/health").status_code == 200
    assert emf_lines(capsys.readouterr().out) == []


def test_route_dimension_can_be_turned_off(
    metrics_on: SettingsWrapper, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics_on.METRICS_ROUTE_DIMENSION = False
    capsys.readouterr()
    Client().get("/api/v1/auth/me/")
    (record,) = emf_lines(capsys.readouterr().out)
    assert dimension_sets(record) == [["Environment", "StatusClass"]]
    assert record["Route"] == "GET api/v1/auth/me/"  # still a property for Logs Insights


def test_no_metrics_without_the_setting(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    Client().get("/api/v1/auth/me/")
    assert emf_lines(capsys.readouterr().out) == []
