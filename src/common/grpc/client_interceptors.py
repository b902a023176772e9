"""Client interceptors (``grpc.aio``): put the correlation id on every outgoing call and log each call
once.

gRPC's built-in retries run beneath interceptors: these see one logical call, the server every attempt.
Each intercepted call runs in a task of its own, started with a copy of the caller's context: the
caller's correlation id is read here, and nothing set here flows back to the caller.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from opentelemetry.metrics import Meter

from common import correlation
from common.grpc.call_logging import call_logger
from common.grpc.call_metrics import ClientMetricsInterceptor
from common.grpc.tracing import TracingClientInterceptor

Continuation = Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]]


class CorrelationIdClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Sends the current correlation id (or a fresh one when none is bound) as ``x-correlation-id``."""

    async def intercept_unary_unary(
        self, continuation: Continuation, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        metadata = grpc.aio.Metadata(
            *((k, v) for k, v in (client_call_details.metadata or ()) if k != correlation.HEADER)
        )
        metadata.add(correlation.HEADER, correlation.current() or correlation.new_id())
        details = grpc.aio.ClientCallDetails(
            client_call_details.method,
            client_call_details.timeout,
            metadata,
            client_call_details.credentials,
            client_call_details.wait_for_ready,
        )
        return await continuation(details, request)


class LoggingClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self, continuation: Continuation, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        started = time.perf_counter()
        call = await continuation(client_call_details, request)
        code = await call.code()  # a unary call's status: waits for its end
        method = client_call_details.method
        method = method.decode() if isinstance(method, bytes) else method
        elapsed_ms = (time.perf_counter() - started) * 1000
        call_logger(method, code, elapsed_ms).info(
            "outgoing rpc {} {} {:.1f} ms", method, code.name, elapsed_ms
        )
        return call


def client_interceptors(meter: Meter | None = None, target: str = "") -> list[grpc.aio.ClientInterceptor]:
    """The one list of outgoing-call interceptors. Correlation first so the logging interceptor's line
    is written with the id already bound."""
    return [
        CorrelationIdClientInterceptor(),
        TracingClientInterceptor(),
        *([] if meter is None else [ClientMetricsInterceptor(meter, target)]),
        LoggingClientInterceptor(),
    ]
