"""OpenTelemetry traces, configured by OpenTelemetry's own environment variables.

``configure_tracing`` installs the SDK only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or the traces-only
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set. Without it the services make no spans at all: even the
API's no-op spans are not free (about 4 us each in a tight loop, plus 3 us to extract the caller's
context; six spans per order; their frames held 3-5 % of the Order service's samples under load).
What the no-op tracer still did is kept: the caller's ``traceparent``/``tracestate`` are passed on to
the calls made for it (``passing_through``).
The SDK itself reads the rest (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*``, the exporter's ``OTEL_EXPORTER_OTLP_*``).

The helpers below are what the rest of the code uses: a tracer, the W3C context of the current span as
a string (kept with an outbox row and with an order), and ``resumed`` to continue that trace later.
Spans are made with the provider ``install`` put in place (``configure_tracing`` at start-up, a test
with its in-memory exporter): this module, not OpenTelemetry's set-once global, says whether there is one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import (
    NoOpTracerProvider,
    ProxyTracerProvider,
    Span,
    SpanKind,
    Tracer,
    TracerProvider,
)

from common import call_context

_TRACEPARENT = "traceparent"
_PROPAGATED = (_TRACEPARENT, "tracestate")
Metadata = tuple[tuple[str, str], ...]
_NO_PROVIDER = NoOpTracerProvider()
_provider: TracerProvider | None = None
_tracers: dict[str, Tracer] = {}


def install(provider: TracerProvider | None) -> None:
    """Make spans with ``provider`` from now on (None: make none again, as a test's teardown does)."""
    global _provider  # noqa: PLW0603 - the process's one tracing switch
    _provider = provider
    _tracers.clear()


def installed() -> bool:
    """True while a tracer provider is installed: spans are made.

    Asked several times per call, so it reads a module global: ``trace.get_tracer_provider()`` looks
    ``OTEL_PYTHON_TRACER_PROVIDER`` up in ``os.environ`` on every call while none is installed (a
    KeyError each time: 2.5 % of the Order service's samples under load). That variable is resolved
    once, by ``configure_tracing``.
    """
    return _provider is not None


def tracer(name: str) -> Tracer:
    """A tracer of the installed provider (a no-op one while none is); ask for it where a span starts."""
    found = _tracers.get(name)
    if found is None:
        found = _tracers[name] = (_provider or _NO_PROVIDER).get_tracer(name)
    return found


@contextmanager
def passing_through(metadata: Iterable[tuple[str, str | bytes]]) -> Iterator[None]:
    """With no provider installed: the caller's W3C trace headers, for the calls made on its behalf."""
    headers = tuple((k, v) for k, v in metadata if k in _PROPAGATED and isinstance(v, str))
    with call_context.trace_headers_bound(headers):
        yield


def passed_through() -> Metadata:
    """The trace headers to send on when no provider is installed (see ``passing_through``)."""
    return call_context.trace_headers()


def export_configured() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure_tracing(default_service_name: str) -> Callable[[], None] | None:
    """Install the SDK's tracer provider exporting over OTLP/gRPC when an endpoint is configured (or the
    one ``OTEL_PYTHON_TRACER_PROVIDER`` names); returns what flushes and stops it at shutdown (None:
    nothing to flush)."""
    if not export_configured():
        named = trace.get_tracer_provider()  # loads the one OTEL_PYTHON_TRACER_PROVIDER names, if any
        if not isinstance(named, ProxyTracerProvider):
            install(named)
        return None
    # Imported here: a process that exports nothing never loads the SDK.
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from common.span_processors import CorrelationIdSpanProcessor

    detected = OTELResourceDetector().detect()  # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES win
    defaults = {} if SERVICE_NAME in detected.attributes else {SERVICE_NAME: default_service_name}
    provider = SdkTracerProvider(resource=Resource.create(defaults))  # sampler from OTEL_TRACES_SAMPLER
    provider.add_span_processor(CorrelationIdSpanProcessor())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)  # for any library that asks the API
    install(provider)
    return provider.shutdown


def current_trace_context() -> str:
    """The current span's W3C ``traceparent`` (with no provider, the caller's; "" when none)."""
    if not installed():
        return next((v for k, v in call_context.trace_headers() if k == _TRACEPARENT), "")
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(_TRACEPARENT, "")


_KINDS = {"internal": SpanKind.INTERNAL, "producer": SpanKind.PRODUCER}


@contextmanager
def resumed(
    trace_context: str, name: str, attributes: dict[str, str] | None = None, *, kind: str = "internal"
) -> Iterator[Span]:
    """A span ``name`` continuing the trace of ``trace_context`` (a ``traceparent``), e.g. a release
    delivered by the outbox worker in the trace of the cancellation that queued it, or an event published
    in the trace of the call whose change it reports (``kind`` "producer")."""
    parent = propagate.extract({_TRACEPARENT: trace_context}) if trace_context else otel_context.Context()
    with tracer("eshop").start_as_current_span(
        name, context=parent, kind=_KINDS[kind], attributes=attributes
    ) as span:
        yield span
