"""gRPC call metrics named as gRPC's own (gRFC A66): ``grpc.server.call.started``,
``grpc.server.call.duration`` (seconds; ``grpc.method``, ``grpc.status``) and, on the client side,
``grpc.client.call.duration`` (with ``grpc.target``).

``grpc.client.attempt.*`` are not here: gRPC's built-in retries run beneath interceptors, and the
client application learns nothing about the attempts; the Product server's
``grpc.server.call.started`` counts every attempt that reached it (see README, "Observability").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from opentelemetry.metrics import Meter

from common.grpc.handler_wrapping import Behaviour, Context, UnaryServerInterceptor
from common.grpc.tracing import code_of
from common.metrics import LATENCY_BUCKETS_S

Continuation = Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]]


class ServerMetricsInterceptor(UnaryServerInterceptor):
    def __init__(self, meter: Meter) -> None:
        self._started = meter.create_counter(
            "grpc.server.call.started", unit="{call}", description="Calls started on the server"
        )
        self._duration = meter.create_histogram(
            "grpc.server.call.duration",
            unit="s",
            description="Time from a call's start to its status being sent, by method and status",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS_S,
        )

    async def around(self, behaviour: Behaviour, request: Any, context: Context, method: str) -> Any:
        name = method.lstrip("/")
        self._started.add(1, {"grpc.method": name})
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            return await behaviour(request, context)
        except grpc.aio.AbortError:
            code = code_of(context)
            raise
        except asyncio.CancelledError:
            code = grpc.StatusCode.CANCELLED
            raise
        except Exception:
            code = grpc.StatusCode.UNKNOWN
            raise
        finally:
            self._duration.record(
                time.perf_counter() - started, {"grpc.method": name, "grpc.status": code.name}
            )


class ClientMetricsInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, meter: Meter, target: str) -> None:
        self._target = target
        self._duration = meter.create_histogram(
            "grpc.client.call.duration",
            unit="s",
            description="Time a logical call took on the client, retries included, by method and status",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS_S,
        )

    async def intercept_unary_unary(
        self, continuation: Continuation, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        method = client_call_details.method
        name = (method.decode() if isinstance(method, bytes) else method).lstrip("/")
        started = time.perf_counter()
        call = await continuation(client_call_details, request)
        code = await call.code()
        self._duration.record(
            time.perf_counter() - started,
            {"grpc.method": name, "grpc.status": code.name, "grpc.target": self._target},
        )
        return call
