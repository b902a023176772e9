"""gRPC call metrics named as gRPC's own (gRFC A66): ``grpc.server.call.started``,
``grpc.server.call.duration`` (seconds; ``grpc.method``, ``grpc.status``); the client side's
``grpc.client.call.duration`` (with ``grpc.target``) is recorded by ``client_interceptors``.

Beside them, two counters A66 does not have, which the alert rules need from start-up (a histogram
series cannot be exported before its first call): ``eshop.grpc.server.failures`` (calls that ended
with a code meaning the server failed) and ``eshop.grpc.server.retries`` (attempts that arrived as a
retry of the client's built-in policy, which says so in ``grpc-previous-rpc-attempts``).

``grpc.client.attempt.*`` are not here: gRPC's built-in retries run beneath interceptors, and the
client application learns nothing about the attempts; the Product server counts them instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from google.protobuf import descriptor_pool
from opentelemetry.metrics import Meter

from common.grpc.handler_wrapping import Behaviour, Context, UnaryServerInterceptor
from common.grpc.status import ended_with
from common.metrics import LATENCY_BUCKETS_S, counter_from_zero, label_sets

# Codes that mean the server failed the call: OpenTelemetry's RPC conventions mark these (and only
# these) as errors on a server span. The caller's mistakes and refusals (INVALID_ARGUMENT, NOT_FOUND,
# FAILED_PRECONDITION, ALREADY_EXISTS, ABORTED, UNAUTHENTICATED, PERMISSION_DENIED, ...) and a caller
# that left (CANCELLED) are answers, not failures.
SERVER_FAILURE_CODES = (
    "UNKNOWN",
    "DEADLINE_EXCEEDED",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
)
RETRY_HEADER = "grpc-previous-rpc-attempts"


def unary_methods(service_names: Iterable[str]) -> list[str]:
    """``pkg.Service/Method`` of every unary method of these services (the ones the interceptors see),
    from the descriptors the generated code registered."""
    pool = descriptor_pool.Default()
    return [
        f"{name}/{method.name}"
        for name in service_names
        for method in pool.FindServiceByName(name).methods
        if not method.client_streaming and not method.server_streaming
    ]


class ServerMetricsInterceptor(UnaryServerInterceptor):
    """``methods``: every method the server serves, exported at 0 from start-up."""

    def __init__(self, meter: Meter, methods: Sequence[str] = ()) -> None:
        self._started = counter_from_zero(
            meter,
            "grpc.server.call.started",
            unit="{call}",
            description="Calls started on the server",
            known=label_sets(**{"grpc.method": methods}),
        )
        self._duration = meter.create_histogram(
            "grpc.server.call.duration",
            unit="s",
            description="Time from a call's start to its status being sent, by method and status",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS_S,
        )
        self._failures = counter_from_zero(
            meter,
            "eshop.grpc.server.failures",
            unit="{call}",
            description="Calls that ended with a code meaning the server failed: "
            + ", ".join(SERVER_FAILURE_CODES),
            known=label_sets(**{"grpc.method": methods, "grpc.status": SERVER_FAILURE_CODES}),
        )
        self._retries = counter_from_zero(
            meter,
            "eshop.grpc.server.retries",
            unit="{call}",
            description="Calls that arrived as a retry of an earlier attempt (grpc-previous-rpc-attempts)",
            known=label_sets(**{"grpc.method": methods}),
        )

    async def around(self, behaviour: Behaviour, request: Any, context: Context, method: str) -> Any:
        name = method.lstrip("/")
        self._started.add(1, {"grpc.method": name})
        if any(key == RETRY_HEADER for key, _ in context.invocation_metadata() or ()):
            self._retries.add(1, {"grpc.method": name})
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            return await behaviour(request, context)
        except BaseException as raised:
            error = raised
            raise
        finally:
            code = ended_with(context, error)
            self._duration.record(
                time.perf_counter() - started, {"grpc.method": name, "grpc.status": code.name}
            )
            if code.name in SERVER_FAILURE_CODES:
                self._failures.add(1, {"grpc.method": name, "grpc.status": code.name})
