"""gRPC call metrics named as gRPC's own (gRFC A66): ``grpc.server.call.started``,
``grpc.server.call.duration`` (seconds; ``grpc.method``, ``grpc.status``); the client side's
``grpc.client.call.duration`` (with ``grpc.target``) is recorded by ``client_interceptors``.

``grpc.client.attempt.*`` are not here: gRPC's built-in retries run beneath interceptors, and the
client application learns nothing about the attempts; the Product server's
``grpc.server.call.started`` counts every attempt that reached it (see docs/observability.md).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
from opentelemetry.metrics import Meter

from common.grpc.handler_wrapping import Behaviour, Context, UnaryServerInterceptor
from common.grpc.tracing import code_of
from common.metrics import LATENCY_BUCKETS_S


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
