"""Client interceptors: put the correlation id on every outgoing call and log each call once.

gRPC's built-in retries run beneath interceptors: these see one logical call, the server every attempt.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import grpc

from common import correlation
from common.grpc.call_logging import call_logger


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class ClientCallDetails(_CallDetails, grpc.ClientCallDetails):
    pass


Continuation = Callable[[grpc.ClientCallDetails, Any], Any]


class CorrelationIdClientInterceptor(grpc.UnaryUnaryClientInterceptor):
    """Sends the current correlation id (or a fresh one when none is bound) as ``x-correlation-id``."""

    def intercept_unary_unary(
        self, continuation: Continuation, client_call_details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        metadata = [(k, v) for k, v in (client_call_details.metadata or ()) if k != correlation.HEADER]
        metadata.append((correlation.HEADER, correlation.current() or correlation.new_id()))
        details = ClientCallDetails(
            client_call_details.method,
            client_call_details.timeout,
            metadata,
            client_call_details.credentials,
            getattr(client_call_details, "wait_for_ready", None),
            getattr(client_call_details, "compression", None),
        )
        return continuation(details, request)


class LoggingClientInterceptor(grpc.UnaryUnaryClientInterceptor):
    def intercept_unary_unary(
        self, continuation: Continuation, client_call_details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        started = time.perf_counter()
        outcome = continuation(client_call_details, request)
        # A unary call's outcome is complete once continuation returns.
        code = outcome.code() or grpc.StatusCode.UNKNOWN
        method = client_call_details.method
        elapsed_ms = (time.perf_counter() - started) * 1000
        call_logger(method, code, elapsed_ms).info(
            "outgoing rpc {} {} {:.1f} ms", method, code.name, elapsed_ms
        )
        return outcome


def client_interceptors() -> list[grpc.UnaryUnaryClientInterceptor]:
    # Correlation first so the logging interceptor's line is written with the id already bound.
    return [CorrelationIdClientInterceptor(), LoggingClientInterceptor()]
