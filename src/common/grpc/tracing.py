"""Server and client spans for gRPC calls, hand-written for grpc.aio (OpenTelemetry RPC conventions).

OpenTelemetry's own aio *server* interceptor misses ``abort_with_status`` (the only way this project
sends an error: the span stayed UNSET with code 0) and names spans with a leading slash, so the server
span is made here: name ``pkg.Service/Method``, ``rpc.system``/``rpc.service``/``rpc.method``,
``rpc.grpc.status_code``, and status ERROR for every code but OK, so that every failed call shows in a
trace search by status (the semantic conventions would leave client-caused codes such as NOT_FOUND UNSET
on a server span). The W3C context comes from the call's metadata. The client side
(``client_interceptors``) injects ``traceparent``.
Health checks and reflection are not traced (probes would drown the traces).
"""

from __future__ import annotations

from typing import Any

import grpc
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode

from common import telemetry
from common.grpc.handler_wrapping import Behaviour, Context, UnaryServerInterceptor
from common.grpc.status import ended_with

_UNTRACED_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")


def rpc_attributes(method: str) -> dict[str, str]:
    service, _, name = method.lstrip("/").partition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}


def end_span(span: Any, code: grpc.StatusCode) -> None:
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    if code is not grpc.StatusCode.OK:
        span.set_status(Status(StatusCode.ERROR, code.name))


class TracingInterceptor(UnaryServerInterceptor):
    """A SERVER span around the call, current while the handler runs (database and client spans nest)."""

    async def around(self, behaviour: Behaviour, request: Any, context: Context, method: str) -> Any:
        if method.startswith(_UNTRACED_PREFIXES):
            return await behaviour(request, context)
        if not telemetry.installed():
            with telemetry.passing_through(context.invocation_metadata() or ()):
                return await behaviour(request, context)
        parent = propagate.extract(dict(context.invocation_metadata() or ()))
        with telemetry.tracer("eshop.grpc").start_as_current_span(
            method.lstrip("/"),
            context=parent,
            kind=SpanKind.SERVER,
            attributes=rpc_attributes(method),
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            error: BaseException | None = None
            try:
                return await behaviour(request, context)
            except BaseException as raised:
                error = raised
                raise
            finally:
                code = ended_with(context, error)
                if code is grpc.StatusCode.UNKNOWN and error is not None:
                    span.record_exception(error)  # not an answer of ours: what went wrong, for the trace
                end_span(span, code)
