"""The client interceptor (``grpc.aio``) of every outgoing call: the correlation id and the W3C trace
context in its metadata, a CLIENT span, ``grpc.client.call.duration``, ``eshop.grpc.client.calls``
(logical calls, from start-up at 0 for every method of the service called) and one log line.

One interceptor doing four jobs, not four: grpc.aio runs each interceptor as a further layer of the
call's task, rebuilding the call details each time, and the four jobs share the method name, the
metadata and the outcome.
gRPC's built-in retries run beneath interceptors: this sees one logical call, the server every attempt.
An intercepted call runs in a task of its own, started with a copy of the caller's context: the
caller's correlation id is read here, and nothing set here flows back to the caller.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from opentelemetry import propagate
from opentelemetry.metrics import Meter
from opentelemetry.trace import SpanKind

from common import call_context, correlation, telemetry
from common.grpc.call_logging import call_logger
from common.grpc.tracing import end_span, rpc_attributes
from common.metrics import LATENCY_BUCKETS_S, counter_from_zero, label_sets

Continuation = Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]]
# Schemes gRPC has a resolver for: a target that starts with one of them is canonical as it is.
_RESOLVER_SCHEMES = ("dns", "ipv4", "ipv6", "unix", "unix-abstract", "vsock", "xds", "google-c2p")


def canonical_target(target: str) -> str:
    """The target as gRPC canonicalizes it (gRFC A66's ``grpc.target``): unchanged when it starts
    with a resolver's scheme, else behind gRPC's default ``dns:///`` (``127.0.0.1:50051`` ->
    ``dns:///127.0.0.1:50051``)."""
    scheme, colon, _ = target.partition(":")
    if colon and scheme.lower() in _RESOLVER_SCHEMES:
        return target
    return f"dns:///{target}"


class OutgoingCallInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Sends the current correlation id (a fresh one when none is bound, replacing any the caller put
    in the metadata) and ``traceparent``; traces, times and logs the logical call."""

    def __init__(self, meter: Meter | None = None, target: str = "", methods: Sequence[str] = ()) -> None:
        """``target`` as the channel was given it (the metrics name it canonical); ``methods``: those
        of the service called, each counted from 0 at start-up."""
        self._target = canonical_target(target) if target else ""
        self._duration = None
        self._calls = None
        if meter is not None:
            self._duration = meter.create_histogram(
                "grpc.client.call.duration",
                unit="s",
                description="Time a logical call took on the client, retries included, by method and status",
                explicit_bucket_boundaries_advisory=LATENCY_BUCKETS_S,
            )
            self._calls = counter_from_zero(
                meter,
                "eshop.grpc.client.calls",
                unit="{call}",
                description="Logical calls started (one per call, whatever its retries), by method",
                known=label_sets(**{"grpc.method": methods, "grpc.target": [self._target]}),
            )

    async def intercept_unary_unary(
        self, continuation: Continuation, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        method = client_call_details.method
        method = method.decode() if isinstance(method, bytes) else method
        name = method.lstrip("/")
        if self._calls is not None:
            self._calls.add(1, {"grpc.method": name, "grpc.target": self._target})
        started = time.perf_counter()
        metadata = grpc.aio.Metadata(
            *((k, v) for k, v in (client_call_details.metadata or ()) if k != correlation.HEADER)
        )
        metadata.add(correlation.HEADER, call_context.correlation_id() or correlation.new_id())
        if telemetry.installed():
            with telemetry.tracer("eshop.grpc").start_as_current_span(
                name, kind=SpanKind.CLIENT, attributes=rpc_attributes(method)
            ) as span:
                carrier: dict[str, str] = {}
                propagate.inject(carrier)  # the span just started is the parent of the server's
                for key, value in carrier.items():
                    metadata.add(key, value)
                call, code = await _call(continuation, client_call_details, metadata, request)
                end_span(span, code)
        else:
            for key, value in telemetry.passed_through():
                metadata.add(key, value)
            call, code = await _call(continuation, client_call_details, metadata, request)
        elapsed_s = time.perf_counter() - started
        if self._duration is not None:
            self._duration.record(
                elapsed_s, {"grpc.method": name, "grpc.status": code.name, "grpc.target": self._target}
            )
        call_logger(method, code, elapsed_s * 1000).info(
            "outgoing rpc {} {} {:.1f} ms", method, code.name, elapsed_s * 1000
        )
        return call


async def _call(
    continuation: Continuation,
    client_call_details: grpc.aio.ClientCallDetails,
    metadata: grpc.aio.Metadata,
    request: Any,
) -> tuple[Any, grpc.StatusCode]:
    details = grpc.aio.ClientCallDetails(
        client_call_details.method,
        client_call_details.timeout,
        metadata,
        client_call_details.credentials,
        client_call_details.wait_for_ready,
    )
    call = await continuation(details, request)
    return call, await call.code()  # a unary call's status: waits for its end


def client_interceptors(
    meter: Meter | None = None, target: str = "", methods: Sequence[str] = ()
) -> list[grpc.aio.ClientInterceptor]:
    """The interceptors of every outgoing call (one; see the module's docstring)."""
    return [OutgoingCallInterceptor(meter, target, methods)]
