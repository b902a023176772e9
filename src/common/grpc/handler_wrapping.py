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

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
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
        return _wrapped(handler, (self,), handler_call_details.method)


class InterceptorChain(grpc.aio.ServerInterceptor):
    """Several ``UnaryServerInterceptor`` layers (outermost first) as one gRPC interceptor.

    grpc.aio runs every interceptor's ``intercept_service`` as a coroutine on every call, and each
    builds its wrapper and method handler afresh; a chain composes its layers once per method and,
    when nothing is intercepted after it (``innermost``: the continuation is then the server's plain
    method lookup, the same handler every time), keeps the composed handler. A call then costs one
    dictionary lookup plus one coroutine per layer.
    """

    def __init__(self, layers: Sequence[UnaryServerInterceptor], *, innermost: bool) -> None:
        self._layers = tuple(layers)
        self._innermost = innermost
        self._composed: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        method: str = handler_call_details.method
        composed = self._composed.get(method)
        if composed is not None:
            return composed
        handler = _wrapped(await continuation(handler_call_details), self._layers, method)
        if self._innermost and handler is not None and handler.unary_unary is not None:
            self._composed[method] = handler
        return handler


def _wrapped(
    handler: grpc.RpcMethodHandler | None, layers: Sequence[UnaryServerInterceptor], method: str
) -> grpc.RpcMethodHandler | None:
    """``handler`` with its behaviour run inside ``layers`` (outermost first); streams as they are."""
    if handler is None or handler.unary_unary is None:
        return handler
    behaviour = _parsing(handler.unary_unary, handler.request_deserializer, method)
    for layer in reversed(layers):
        # around(behaviour, request, context, method) called as behaviour(request, context): no
        # wrapper coroutine of its own per layer.
        behaviour = partial(layer.around, behaviour, method=method)
    return grpc.unary_unary_rpc_method_handler(
        behaviour, request_deserializer=None, response_serializer=handler.response_serializer
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
