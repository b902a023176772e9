"""The in-test OTLP receiver, fed by the OpenTelemetry SDK's own OTLP/gRPC exporters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from tests.support.otlp_receiver import OtlpReceiver, running_otlp_receiver

RESOURCE = Resource.create({"service.name": "eshop-test"})


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with running_otlp_receiver() as receiver:
        yield receiver


def test_spans_arrive_with_their_parent_chain_kind_status_attributes_and_links(
    receiver: OtlpReceiver,
) -> None:
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=receiver.endpoint, insecure=True))
    )
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("other") as other:
        pass
    with (
        tracer.start_as_current_span("root", kind=SpanKind.SERVER, attributes={"eshop.correlation_id": "c1"}),
        tracer.start_as_current_span("middle", kind=SpanKind.CLIENT),
        tracer.start_as_current_span("leaf", links=[Link(other.get_span_context())]) as leaf,
    ):
        leaf.set_attribute("rpc.grpc.status_code", 5)
        leaf.set_status(Status(StatusCode.ERROR, "not found"))
    provider.shutdown()

    receiver.wait_for_spans(lambda spans: len(spans) == 4)
    [received_leaf] = receiver.spans_named("leaf")
    assert [span.name for span in receiver.chain(received_leaf)] == ["leaf", "middle", "root"]
    assert received_leaf.trace_id == format(leaf.get_span_context().trace_id, "032x")
    assert (received_leaf.status, received_leaf.status_message) == ("ERROR", "not found")
    assert received_leaf.attributes == {"rpc.grpc.status_code": 5}
    assert received_leaf.links == (
        (format(other.get_span_context().trace_id, "032x"), receiver.spans_named("other")[0].span_id),
    )
    [root] = receiver.spans_with(**{"eshop.correlation_id": "c1"})
    assert (root.name, root.kind, root.parent_span_id, root.service_name) == (
        "root",
        "SERVER",
        None,
        "eshop-test",
    )
    assert receiver.spans_named("middle")[0].kind == "CLIENT"
    assert len(receiver.trace(root.trace_id)) == 3


def test_metrics_arrive_as_points_with_attributes(receiver: OtlpReceiver) -> None:
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=receiver.endpoint, insecure=True), export_interval_millis=60_000
    )
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter = provider.get_meter("test")
    orders = meter.create_counter("eshop.orders", unit="{order}", description="orders by outcome")
    duration = meter.create_histogram("grpc.server.call.duration", unit="s")
    orders.add(2, {"outcome": "confirmed"})
    orders.add(1, {"outcome": "rejected"})
    duration.record(0.004, {"grpc.method": "a.B/C", "grpc.status": "OK"})
    duration.record(0.006, {"grpc.method": "a.B/C", "grpc.status": "OK"})
    provider.force_flush()

    receiver.wait_for_metric("eshop.orders")
    [metric] = receiver.metrics("eshop.orders")
    assert (metric.kind, metric.unit, metric.service_name) == ("sum", "{order}", "eshop-test")
    confirmed = receiver.latest_point("eshop.orders", outcome="confirmed")
    assert confirmed is not None and confirmed.value == 2
    histogram = receiver.latest_point("grpc.server.call.duration", **{"grpc.method": "a.B/C"})
    assert histogram is not None and histogram.count == 2
    assert histogram.sum == pytest.approx(0.010)
    assert receiver.latest_point("eshop.orders", outcome="cancelled") is None
    provider.shutdown()


def test_waiting_for_what_never_comes_fails_with_what_was_seen(receiver: OtlpReceiver) -> None:
    with pytest.raises(AssertionError, match="not as expected within"):
        receiver.wait_for_spans(lambda spans: len(spans) > 0, timeout=0.2)
