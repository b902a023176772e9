"""OpenTelemetry traces, configured by OpenTelemetry's own environment variables.

``configure_tracing`` installs the SDK only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or the traces-only
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set: otherwise the API's no-op tracer stays in place and a
span costs a couple of microseconds. The SDK itself reads the rest (``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*``, the exporter's
``OTEL_EXPORTER_OTLP_*``).

The helpers below are what the rest of the code uses: a tracer, the W3C context of the current span as
a string (kept with an outbox row and with an order), and ``resumed`` to continue that trace later.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Tracer

CORRELATION_ATTRIBUTE = "eshop.correlation_id"
_TRACEPARENT = "traceparent"


def tracer(name: str) -> Tracer:
    """A tracer of the global provider (a proxy until one is installed, then the SDK's)."""
    return trace.get_tracer(name)


def export_configured() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure_tracing(default_service_name: str) -> Callable[[], None] | None:
    """Install the SDK's tracer provider exporting over OTLP/gRPC when an endpoint is configured;
    returns what flushes and stops it at shutdown (None: nothing was installed)."""
    if not export_configured():
        return None
    # Imported here: a process that exports nothing never loads the SDK.
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from common.span_processors import CorrelationIdSpanProcessor

    detected = OTELResourceDetector().detect()  # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES win
    defaults = {} if SERVICE_NAME in detected.attributes else {SERVICE_NAME: default_service_name}
    provider = TracerProvider(resource=Resource.create(defaults))  # sampler from OTEL_TRACES_SAMPLER
    provider.add_span_processor(CorrelationIdSpanProcessor())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider.shutdown


def current_trace_context() -> str:
    """The current span's W3C ``traceparent`` ("" when no span is recording)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(_TRACEPARENT, "")


@contextmanager
def resumed(trace_context: str, name: str, attributes: dict[str, str] | None = None) -> Iterator[Span]:
    """A span ``name`` continuing the trace of ``trace_context`` (a ``traceparent``), e.g. a release
    delivered by the outbox worker in the trace of the cancellation that queued it."""
    parent = propagate.extract({_TRACEPARENT: trace_context}) if trace_context else otel_context.Context()
    with tracer("eshop").start_as_current_span(
        name, context=parent, kind=SpanKind.INTERNAL, attributes=attributes
    ) as span:
        yield span
