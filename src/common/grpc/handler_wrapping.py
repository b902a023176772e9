"""Wrap the behaviour of a unary-unary method handler, the way grpc's own interceptor examples do.

These are ``grpc.aio`` interceptors: ``intercept_service`` runs before the call, in the call's own
task; to see the call's outcome, time it, or map its exceptions, an interceptor has to replace the
handler's behaviour with a wrapper (a coroutine function awaiting the one it wraps).
Streaming handlers (health Watch, reflection) pass through untouched.

The request is parsed here, not by gRPC: a wrapped handler declares no deserializer, so gRPC hands
over the raw body, and the innermost wrapper (the one holding the servicer's own handler) parses it
right before the servicer runs. gRPC's generic path would answer a body that does not parse with
INTERNAL "Exception deserializing request!", before any interceptor runs (no correlation id, no log
line); parsed here, it is an INVALID_ARGUMENT like any other bad input. The parse is the same call
gRPC would have made, moved.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import grpc
from google.protobuf.message import DecodeError

from common.errors import AppError, ErrorCode

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
Behaviour = Callable[[Any, Context], Awaitable[Any]]
Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]
Deserializer = Callable[[bytes], Any]


class UnparseableRequest(AppError):
    """The body is not a protobuf message of the method's request type."""

    code = ErrorCode.INVALID_ARGUMENT


class UnaryServerInterceptor(grpc.aio.ServerInterceptor):
    """Subclasses implement ``async around(behaviour, request, context, method)``.

    ``request`` is the raw body (bytes) for every interceptor but the innermost: interceptors here
    look at metadata and outcomes, not at request fields.
    """

    async def around(self, behaviour: Behaviour, request: Any, context: Context, method: str) -> Any:
        raise NotImplementedError

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method: str = handler_call_details.method
        behaviour = _parsing(handler.unary_unary, handler.request_deserializer, method)

        async def wrapped(request: Any, context: Context) -> Any:
            return await self.around(behaviour, request, context, method)

        return grpc.unary_unary_rpc_method_handler(
            wrapped, request_deserializer=None, response_serializer=handler.response_serializer
        )


def _parsing(behaviour: Behaviour, deserialize: Deserializer | None, method: str) -> Behaviour:
    """``behaviour`` fed with the parsed request; as is when an inner wrapper parses (or nobody must)."""
    if deserialize is None:
        return behaviour
    # Generated stubs pass the message class's FromString: its class names the type.
    descriptor = getattr(getattr(deserialize, "__self__", None), "DESCRIPTOR", None)
    name = descriptor.full_name if descriptor is not None else f"{method} request"

    async def parsed(raw: bytes, context: Context) -> Any:
        try:
            request = deserialize(raw)
        except DecodeError:
            raise UnparseableRequest(f"request body is not a valid {name} message") from None
        return await behaviour(request, context)

    return parsed
