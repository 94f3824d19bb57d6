"""CloudWatch metrics without an agent: the Embedded Metric Format (EMF) in the JSON logs.

Each record is one JSON object on one stdout line. The ECS ``awslogs`` driver ships it to
CloudWatch Logs, which recognises the ``_aws`` member and turns the named values into
metrics (no CloudWatch agent, no ``PutMetricData`` call, no credentials). The other members
stay searchable in Logs Insights. Specification:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html

Cost matters more than it seems: every distinct combination of namespace, metric name and
dimension values is one custom metric, billed per hour in which it receives data
(docs/deploy.md has the numbers). So dimensions carry only bounded values (the route
*pattern*, never the path; a status *class*; a model name) and everything else (request id,
status code, method, path) goes into properties, which cost nothing.

What is recorded:

* every request (:class:`MetricsMiddleware`, production only): ``Requests`` (Count) and
  ``Latency`` (Milliseconds), by ``Route`` (``"GET api/v1/carts/<str:cart_id>/"``) and by
  ``StatusClass`` (``2xx`` ... ``5xx``); ``/health`` and ``/ready`` are left out (the load
  balancer polls them every few seconds and has its own metrics);
* extraction outcomes by source (:func:`record_extraction`);
* model load and inference times (:func:`record_model_load`, :func:`record_inference`).

Metrics are written only when ``METRICS_ENABLED`` is on (production and staging); the helpers
are cheap no-ops elsewhere, so other apps call them unconditionally. A metric must never
break a request: the middleware and the helpers log and swallow their own failures.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import structlog
from django.http import HttpRequest, HttpResponse

logger = structlog.get_logger(__name__)

#: Units CloudWatch accepts (MetricDatum.Unit).
UNITS = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)
MAX_METRICS_PER_RECORD = 100  # EMF: at most 100 metrics per directive
MAX_DIMENSIONS_PER_SET = 30  # EMF: at most 30 dimensions per dimension set
MAX_VALUES_PER_METRIC = 100  # EMF: a metric's value array holds at most 100 values
MAX_DIMENSION_VALUE_LENGTH = 1024  # CloudWatch: a dimension value is 1-1024 characters
_NAME = re.compile(r"^[A-Za-z0-9_.:/#-]{1,255}$")
# Members that our own records carry besides dimensions and metrics.
_RESERVED = frozenset({"_aws", "event", "request_id"})
#: Routes whose requests are not counted (load-balancer and container probes).
EXCLUDED_ROUTES = frozenset({"health", "ready"})
EMF_LOGGER_NAME = "buyhive.metrics.emf"


class MetricError(ValueError):
    """A metric record that CloudWatch would reject: a programming error, caught by tests."""


@dataclass(frozen=True)
class MetricsConfig:
    """Where and whether metrics are written.

    ``route_dimension=False`` drops the per-route dimension set (one metric pair per route) and
    keeps only the per-status-class one, for the cheapest setup; per-route numbers then come
    from Logs Insights over the same lines.
    """

    enabled: bool = False
    namespace: str = "BuyHive"
    environment: str = "local"
    route_dimension: bool = True

    @classmethod
    def from_settings(cls) -> MetricsConfig:
        from django.conf import settings

        return cls(
            enabled=bool(settings.METRICS_ENABLED),
            namespace=str(settings.METRICS_NAMESPACE),
            environment=str(settings.ENVIRONMENT),
            route_dimension=bool(settings.METRICS_ROUTE_DIMENSION),
        )


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise MetricError(f"invalid {kind} name {name!r}")
    if name in _RESERVED:
        raise MetricError(f"{kind} name {name!r} is reserved")


def _check_value(name: str, value: Any) -> float | int | list[float | int]:
    values = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    if not values or len(values) > MAX_VALUES_PER_METRIC:
        raise MetricError(f"metric {name!r} needs 1 to {MAX_VALUES_PER_METRIC} values")
    for item in values:
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise MetricError(f"metric {name!r} has a non-numeric or non-finite value {item!r}")
    return values if len(values) > 1 or isinstance(value, Sequence) else values[0]


def dimension_value(value: Any) -> str:
    """A dimension value CloudWatch accepts: a non-empty string of at most 1024 characters."""
    text = str(value).strip() or "none"
    return text[:MAX_DIMENSION_VALUE_LENGTH]


def build_record(
    metrics: Mapping[str, Any],
    *,
    namespace: str,
    dimensions: Mapping[str, Any] | None = None,
    dimension_sets: Sequence[Sequence[str]] | None = None,
    units: str | Mapping[str, str] = "None",
    properties: Mapping[str, Any] | None = None,
    timestamp_ms: int | None = None,
) -> dict[str, Any]:
    """One EMF record (a JSON-serialisable dict) for ``metrics``.

    ``dimensions`` are the dimension values; ``dimension_sets`` says which combinations of
    them become metrics (default: all of them together, or none when there are none).
    ``units`` is one unit for all, or a unit per metric name. ``properties`` are extra
    members for Logs Insights; they never become metrics.
    """
    if not metrics:
        raise MetricError("a record needs at least one metric")
    if len(metrics) > MAX_METRICS_PER_RECORD:
        raise MetricError(f"a record holds at most {MAX_METRICS_PER_RECORD} metrics")
    if not namespace or namespace.startswith("AWS/") or not _NAME.match(namespace):
        raise MetricError(f"invalid namespace {namespace!r}")
    dims = {name: dimension_value(value) for name, value in (dimensions or {}).items()}
    for name in dims:
        _check_name("dimension", name)
    sets = [list(s) for s in dimension_sets] if dimension_sets is not None else [list(dims)]
    if dimension_sets is None and not dims:
        sets = [[]]
    for dimension_set in sets:
        if len(dimension_set) > MAX_DIMENSIONS_PER_SET:
            raise MetricError(f"a dimension set holds at most {MAX_DIMENSIONS_PER_SET} names")
        missing = [name for name in dimension_set if name not in dims]
        if missing:
            raise MetricError(f"dimension set names unknown dimensions {missing}")
    definitions = []
    values: dict[str, Any] = {}
    for name, value in metrics.items():
        _check_name("metric", name)
        if name in dims:
            raise MetricError(f"{name!r} is both a metric and a dimension")
        unit = units if isinstance(units, str) else units.get(name, "None")
        if unit not in UNITS:
            raise MetricError(f"unknown unit {unit!r} for metric {name!r}")
        definitions.append({"Name": name, "Unit": unit})
        values[name] = _check_value(name, value)
    extra = {
        key: val
        for key, val in (properties or {}).items()
        if key not in dims and key not in values and key != "_aws"
    }
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
            "CloudWatchMetrics": [
                {"Namespace": namespace, "Dimensions": sets, "Metrics": definitions}
            ],
        },
        **extra,
        **dims,
        **values,
    }


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler on whatever ``sys.stdout`` is when a record is written.

    ``StreamHandler`` keeps the stream it was given; looking it up each time keeps working
    when stdout is replaced (pytest's capture, a reconfigured runtime).
    """

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        """Ignored: the stream is always the current ``sys.stdout``."""


def _emf_logger() -> logging.Logger:
    """The stdlib logger that writes EMF lines: the bare JSON, whatever ``LOG_LEVEL`` says.

    It does not propagate to the project's handlers, whose formatter would wrap the record
    in another JSON object (CloudWatch reads ``_aws`` only at the top level), and its level
    is fixed so that ``LOG_LEVEL=WARNING`` does not silently turn the metrics off.
    """
    emf = logging.getLogger(EMF_LOGGER_NAME)
    if not any(isinstance(h, _StdoutHandler) for h in emf.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        emf.addHandler(handler)
        emf.setLevel(logging.INFO)
        emf.propagate = False
    return emf


def _request_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("request_id")
    return str(value) if value else None


def emit(
    metrics: Mapping[str, Any],
    *,
    dimensions: Mapping[str, Any] | None = None,
    dimension_sets: Sequence[Sequence[str]] | None = None,
    units: str | Mapping[str, str] = "None",
    properties: Mapping[str, Any] | None = None,
    config: MetricsConfig | None = None,
) -> dict[str, Any] | None:
    """Write one EMF line; return the record written (None when metrics are off).

    ``Environment`` is always added as a dimension and to every dimension set, so staging's
    numbers never mix with production's. The current request id (django-structlog's context)
    is added as a property, so a metric line can be joined with the request's log lines.
    Raises :class:`MetricError` for a record CloudWatch would reject.
    """
    config = config or MetricsConfig.from_settings()
    if not config.enabled:
        return None
    dims = {"Environment": config.environment, **(dimensions or {})}
    sets = (
        [["Environment", *[d for d in s if d != "Environment"]] for s in dimension_sets]
        if dimension_sets is not None
        else [list(dims)]
    )
    props = {"event": "metrics", **(properties or {})}
    request_id = _request_id()
    if request_id and "request_id" not in props:
        props["request_id"] = request_id
    record = build_record(
        metrics,
        namespace=config.namespace,
        dimensions=dims,
        dimension_sets=sets,
        units=units,
        properties=props,
    )
    _emf_logger().info(json.dumps(record, separators=(",", ":"), default=str))
    return record


def _safe_emit(**kwargs: Any) -> dict[str, Any] | None:
    """``emit`` for the helpers: a metric failure is logged, never raised into a request."""
    try:
        return emit(**kwargs)
    except Exception as exc:  # noqa: BLE001 - metrics must not break the caller
        logger.warning("metrics_emit_failed", error=f"{type(exc).__name__}: {exc}"[:300])
        return None


# --------------------------------------------------------------------------------------------
# Helpers for the other apps
# --------------------------------------------------------------------------------------------


def status_class(status: int) -> str:
    """``200 -> "2xx"``; anything outside 100-599 is ``"5xx"`` (it is a server bug)."""
    return f"{status // 100}xx" if 100 <= status <= 599 else "5xx"


def record_request(
    *,
    route: str,
    method: str,
    status: int,
    duration_ms: float,
    request_id: str | None = None,
    config: MetricsConfig | None = None,
) -> dict[str, Any] | None:
    """``Requests`` and ``Latency`` for one request, by route and by status class."""
    config = config or MetricsConfig.from_settings()
    sets = [["Environment", "StatusClass"]]
    if config.route_dimension:
        sets.insert(0, ["Environment", "Route"])
    properties: dict[str, Any] = {"status": status, "method": method.upper()}
    if request_id:
        properties["request_id"] = request_id
    return _safe_emit(
        metrics={"Requests": 1, "Latency": round(duration_ms, 3)},
        units={"Requests": "Count", "Latency": "Milliseconds"},
        dimensions={"Route": f"{method.upper()} {route}", "StatusClass": status_class(status)},
        dimension_sets=sets,
        properties=properties,
        config=config,
    )


def record_extraction(
    *,
    source: str,
    outcome: str,
    duration_ms: float | None = None,
    config: MetricsConfig | None = None,
) -> dict[str, Any] | None:
    """One extraction: ``Extractions`` (Count), and ``ExtractionLatency`` when timed.

    ``source`` is where the product came from (a small fixed set: ``structured``,
    ``heuristics``, ``llm``, ``cache``...), ``outcome`` how it ended (``ok``, ``partial``,
    ``failed``). Both become dimensions, so they must stay bounded.
    """
    metrics: dict[str, Any] = {"Extractions": 1}
    units = {"Extractions": "Count", "ExtractionLatency": "Milliseconds"}
    if duration_ms is not None:
        metrics["ExtractionLatency"] = round(duration_ms, 3)
    return _safe_emit(
        metrics=metrics,
        units=units,
        dimensions={"Source": source, "Outcome": outcome},
        dimension_sets=[["Environment", "Source", "Outcome"]],
        config=config,
    )


def record_model_load(
    *, model: str, seconds: float, ok: bool = True, config: MetricsConfig | None = None
) -> dict[str, Any] | None:
    """A model load (``ModelLoadTime``, Milliseconds) by model; failures counted apart."""
    metrics: dict[str, Any] = {"ModelLoadTime": round(seconds * 1000, 3)}
    if not ok:
        metrics = {"ModelLoadFailures": 1}
    return _safe_emit(
        metrics=metrics,
        units={"ModelLoadTime": "Milliseconds", "ModelLoadFailures": "Count"},
        dimensions={"Model": model},
        dimension_sets=[["Environment", "Model"]],
        properties={"load_seconds": round(seconds, 3)},
        config=config,
    )


def record_inference(
    *, model: str, seconds: float, batch_size: int = 1, config: MetricsConfig | None = None
) -> dict[str, Any] | None:
    """One inference call (``InferenceTime``, Milliseconds) by model."""
    return _safe_emit(
        metrics={"InferenceTime": round(seconds * 1000, 3)},
        units={"InferenceTime": "Milliseconds"},
        dimensions={"Model": model},
        dimension_sets=[["Environment", "Model"]],
        properties={"batch_size": batch_size},
        config=config,
    )


# --------------------------------------------------------------------------------------------
# Middleware
# --------------------------------------------------------------------------------------------


def route_of(request: HttpRequest) -> str:
    """The URL pattern that served the request: bounded, unlike the path.

    A request no pattern matched (a 404 on an unknown path) is ``"unmatched"``, so scanners
    probing random paths cannot create new metrics.
    """
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None) if match is not None else None
    return str(route) if route else "unmatched"


class MetricsMiddleware:
    """Record ``Requests`` and ``Latency`` for every request but the probes.

    Placed last in ``MIDDLEWARE`` (production settings), so the time measured is the view's
    and the inner middleware's, and ``resolver_match`` is set. A response produced above it
    (a 413 from the body limit) is not counted here; the load balancer's metrics still see it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.config = MetricsConfig.from_settings()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            self._record(request, status, (time.perf_counter() - started) * 1000)

    def _record(self, request: HttpRequest, status: int, duration_ms: float) -> None:
        if not self.config.enabled:
            return
        route = route_of(request)
        if route in EXCLUDED_ROUTES:
            return
        record_request(
            route=route,
            method=request.method or "GET",
            status=status,
            duration_ms=duration_ms,
            # The id the client got in X-Request-ID (buyhive.middleware.RequestIdMiddleware).
            request_id=getattr(request, "request_id", None),
            config=self.config,
        )
