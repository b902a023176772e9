"""An OTLP/gRPC receiver inside the test: what the services export, collected for asserts.

opentelemetry-proto's TraceService and MetricsService on a sync ``grpc.server`` at 127.0.0.1:0. Point a
service at it with ``OTEL_EXPORTER_OTLP_ENDPOINT=http://<receiver.address>`` (and
``OTEL_EXPORTER_OTLP_INSECURE=true``). Exports arrive in batches, so read with the ``wait_for_*`` helpers,
which poll with a deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

T = TypeVar("T")
Attributes = dict[str, Any]


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(item) for item in value.array_value.values)
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return None if kind is None else getattr(value, kind)


def _attributes(pairs: Iterable[KeyValue]) -> Attributes:
    return {pair.key: _value(pair.value) for pair in pairs}


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    service_name: str  # the resource's service.name
    trace_id: str  # 32 hex digits, as in a traceparent header
    span_id: str  # 16 hex digits
    parent_span_id: str | None
    kind: str  # SERVER, CLIENT, INTERNAL, PRODUCER, CONSUMER
    status: str  # UNSET, OK, ERROR
    status_message: str
    attributes: Attributes
    links: tuple[tuple[str, str], ...]  # (trace_id, span_id) of each linked span

    @classmethod
    def of(cls, span: Span, service_name: str) -> ReceivedSpan:
        return cls(
            name=span.name,
            service_name=service_name,
            trace_id=span.trace_id.hex(),
            span_id=span.span_id.hex(),
            parent_span_id=span.parent_span_id.hex() or None,
            kind=Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
            status=Status.StatusCode.Name(span.status.code).removeprefix("STATUS_CODE_"),
            status_message=span.status.message,
            attributes=_attributes(span.attributes),
            links=tuple((link.trace_id.hex(), link.span_id.hex()) for link in span.links),
        )


@dataclass(frozen=True)
class MetricPoint:
    """One data point: ``value`` for sums and gauges, ``count``/``sum`` (and buckets) for histograms."""

    attributes: Attributes
    value: float | None = None
    count: int | None = None
    sum: float | None = None
    bucket_counts: tuple[int, ...] = ()
    explicit_bounds: tuple[float, ...] = ()


@dataclass(frozen=True)
class ReceivedMetric:
    name: str
    service_name: str
    kind: str  # sum, gauge, histogram, exponential_histogram, summary
    unit: str
    description: str
    points: tuple[MetricPoint, ...]

    @classmethod
    def of(cls, metric: Metric, service_name: str) -> ReceivedMetric:
        kind = metric.WhichOneof("data") or ""
        points: list[MetricPoint] = []
        if kind in ("sum", "gauge"):
            for number in getattr(metric, kind).data_points:
                value = number.as_int if number.WhichOneof("value") == "as_int" else number.as_double
                points.append(MetricPoint(_attributes(number.attributes), value=value))
        elif kind == "histogram":
            for point in metric.histogram.data_points:
                points.append(
                    MetricPoint(
                        _attributes(point.attributes),
                        count=point.count,
                        sum=point.sum,
                        bucket_counts=tuple(point.bucket_counts),
                        explicit_bounds=tuple(point.explicit_bounds),
                    )
                )
        return cls(metric.name, service_name, kind, metric.unit, metric.description, tuple(points))


def _service_name(resource_attributes: Iterable[KeyValue]) -> str:
    return str(_attributes(resource_attributes).get("service.name", ""))


@dataclass
class OtlpReceiver:
    """Everything exported to ``address`` so far, in arrival order."""

    address: str = ""
    _spans: list[ReceivedSpan] = field(default_factory=list)
    _metrics: list[ReceivedMetric] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        """The value for ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
        return f"http://{self.address}"

    # --- spans -------------------------------------------------------------------------------------------
    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    def spans_named(self, name: str) -> list[ReceivedSpan]:
        return [span for span in self.spans() if span.name == name]

    def spans_with(self, **attributes: Any) -> list[ReceivedSpan]:
        """Spans whose attributes include these (dots in keys: pass a dict with ``**{...}``)."""
        return [s for s in self.spans() if all(s.attributes.get(k) == v for k, v in attributes.items())]

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        return [span for span in self.spans() if span.trace_id == trace_id]

    def parent(self, span: ReceivedSpan) -> ReceivedSpan | None:
        if span.parent_span_id is None:
            return None
        found = [s for s in self.trace(span.trace_id) if s.span_id == span.parent_span_id]
        return found[0] if found else None

    def chain(self, span: ReceivedSpan) -> list[ReceivedSpan]:
        """``span``, its parent, its grandparent, ... up to the root (or the first parent not received)."""
        chain = [span]
        while (parent := self.parent(chain[-1])) is not None:
            chain.append(parent)
        return chain

    def wait_for_spans(
        self, predicate: Callable[[list[ReceivedSpan]], bool], timeout: float = 10.0
    ) -> list[ReceivedSpan]:
        """All spans, once ``predicate`` holds for them (exports are batched and late)."""
        return _poll(self.spans, predicate, timeout, "spans")

    # --- metrics -----------------------------------------------------------------------------------------
    def metrics(self, name: str | None = None) -> list[ReceivedMetric]:
        with self._lock:
            return [m for m in self._metrics if name is None or m.name == name]

    def latest_point(
        self, name: str, service_name: str | None = None, **attributes: Any
    ) -> MetricPoint | None:
        """The last exported point of ``name`` whose attributes include these (exports are cumulative)."""
        for metric in reversed(self.metrics(name)):
            if service_name is not None and metric.service_name != service_name:
                continue
            for point in metric.points:
                if all(point.attributes.get(k) == v for k, v in attributes.items()):
                    return point
        return None

    def wait_for_metric(self, name: str, timeout: float = 10.0) -> list[ReceivedMetric]:
        return _poll(lambda: self.metrics(name), bool, timeout, f"metric {name!r}")

    # --- what the servicers call -------------------------------------------------------------------------
    def _add_spans(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        received = [
            ReceivedSpan.of(span, _service_name(resource_spans.resource.attributes))
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]
        with self._lock:
            self._spans.extend(received)

    def _add_metrics(self, request: metrics_service_pb2.ExportMetricsServiceRequest) -> None:
        received = [
            ReceivedMetric.of(metric, _service_name(resource_metrics.resource.attributes))
            for resource_metrics in request.resource_metrics
            for scope_metrics in resource_metrics.scope_metrics
            for metric in scope_metrics.metrics
        ]
        with self._lock:
            self._metrics.extend(received)


def _poll(read: Callable[[], T], predicate: Callable[[T], bool], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if predicate(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not as expected within {timeout} s; last seen: {value!r}")
        time.sleep(0.05)


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(  # noqa: N802 (the RPC's name)
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self._receiver._add_spans(request)
        return trace_service_pb2.ExportTraceServiceResponse()


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(  # noqa: N802 (the RPC's name)
        self, request: metrics_service_pb2.ExportMetricsServiceRequest, context: grpc.ServicerContext
    ) -> metrics_service_pb2.ExportMetricsServiceResponse:
        self._receiver._add_metrics(request)
        return metrics_service_pb2.ExportMetricsServiceResponse()


@contextmanager
def running_otlp_receiver() -> Iterator[OtlpReceiver]:
    """A receiver listening on 127.0.0.1 (ephemeral port) for the duration of the block."""
    receiver = OtlpReceiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(receiver), server)  # type: ignore[no-untyped-call]
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsService(receiver), server)  # type: ignore[no-untyped-call]
    receiver.address = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
    server.start()
    try:
        yield receiver
    finally:
        server.stop(0).wait()
