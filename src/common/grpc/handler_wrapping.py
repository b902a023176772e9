"""Wrap the behaviour of a unary-unary method handler, the way grpc's own interceptor examples do.

``intercept_service`` runs before the call, on the server's thread; to see the call's outcome, time it,
or map its exceptions, an interceptor has to replace the handler's behaviour with a wrapper.
Streaming handlers (health Watch, reflection) pass through untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

Behaviour = Callable[[Any, grpc.ServicerContext], Any]
Around = Callable[[Behaviour, Any, grpc.ServicerContext, str], Any]


class UnaryServerInterceptor(grpc.ServerInterceptor):
    """Subclasses implement ``around(behaviour, request, context, method)``."""

    def around(self, behaviour: Behaviour, request: Any, context: grpc.ServicerContext, method: str) -> Any:
        raise NotImplementedError

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        behaviour: Behaviour = handler.unary_unary
        method: str = handler_call_details.method

        def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
            return self.around(behaviour, request, context, method)

        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
