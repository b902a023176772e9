"""Extra server interceptors (grpc.aio) for the services in tests (they run outermost): fault injection,
blocking, and recording what arrives. Nothing here blocks the server's event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import message_factory

from common import correlation
from common.generated.eshop.product.v1 import product_pb2

RESERVE = "/eshop.product.v1.ProductService/ReserveStock"
RELEASE = "/eshop.product.v1.ProductService/ReleaseStock"

Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]
Context = Any  # grpc.aio.ServicerContext


def _wrap(
    handler: grpc.RpcMethodHandler, behaviour: Callable[[Any, Context], Awaitable[Any]]
) -> grpc.RpcMethodHandler:
    """The same method with ``behaviour`` (a coroutine function) in place of the servicer's."""
    return grpc.unary_unary_rpc_method_handler(
        behaviour,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class FailReserve(grpc.aio.ServerInterceptor):
    """Answers UNAVAILABLE to the first ``failures`` ReserveStock attempts (None: to all); counts them."""

    def __init__(self, failures: int | None) -> None:
        self.failures = failures
        self.attempts = 0
        self._lock = threading.Lock()

    async def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(details)
        if handler is None or details.method != RESERVE:
            return handler
        with self._lock:
            self.attempts += 1
            fail = self.failures is None or self.attempts <= self.failures
        if not fail:
            return handler

        async def unavailable(request: Any, context: Context) -> Any:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "injected fault")

        return _wrap(handler, unavailable)


class Block(grpc.aio.ServerInterceptor):
    """Holds every call of ``method`` until ``release`` is set (the fixture sets it before stopping):
    a service that accepts connections and never answers."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()

    async def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(details)
        if handler is None or details.method != self.method:
            return handler
        inner = handler.unary_unary

        async def late(request: Any, context: Context) -> Any:
            self.arrived.set()
            await asyncio.to_thread(self.release.wait, 30)  # set from the test's thread
            try:
                return await inner(request, context)
            finally:
                self.finished.set()

        async def blocked(request: Any, context: Context) -> Any:
            # grpc.aio cancels a handler whose caller gave up; the held call still runs to its end
            # (shielded), as a call that reached a slow service does in the sync model and over a
            # real network, where the cancellation can arrive after the commit.
            held = asyncio.ensure_future(late(request, context))
            held.add_done_callback(_quiet)
            return await asyncio.shield(held)

        return _wrap(handler, blocked)


def _quiet(task: asyncio.Future[Any]) -> None:
    """A held call whose caller left ends however it ends (the answer goes nowhere): no warning."""
    if not task.cancelled():
        task.exception()


class BlockReserve(Block):
    """Holds every ReserveStock until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__(RESERVE)


class HoldReserveResponse(grpc.aio.ServerInterceptor):
    """Lets every ReserveStock run and commit, then holds its answer until ``release`` is set: the
    caller sees a deadline while the Product side really holds the stock (``committed`` is set)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.committed = threading.Event()

    async def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(details)
        if handler is None or details.method != RESERVE:
            return handler
        inner = handler.unary_unary

        async def held(request: Any, context: Context) -> Any:
            response = await inner(request, context)  # an error status raises here: nothing was committed
            self.committed.set()
            await asyncio.to_thread(self.release.wait, 30)  # set from the test's thread
            return response

        return _wrap(handler, held)


@dataclass(frozen=True)
class Received:
    method: str
    correlation_ids: list[str]
    order_id: str
    metadata: tuple[tuple[str, str | bytes], ...] = ()


def _order_id(method: str, request: Any) -> str:
    """The request's order_id. Running outside the services' own interceptors, these see the raw body
    (the services parse it inside their handler wrapping), so it is parsed here again."""
    if isinstance(request, bytes):
        name = method.rsplit("/", 1)[-1]
        service = product_pb2.DESCRIPTOR.services_by_name["ProductService"]
        request_type = message_factory.GetMessageClass(service.methods_by_name[name].input_type)
        request = request_type.FromString(request)
    return str(getattr(request, "order_id", ""))


class Record(grpc.aio.ServerInterceptor):
    """Records each Product call: method, incoming x-correlation-id values, the request's order_id and
    all its metadata."""

    def __init__(self) -> None:
        self.calls: list[Received] = []

    def of(self, method: str) -> list[Received]:
        return [c for c in list(self.calls) if c.method == method]

    async def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary
        ids = [v for k, v in details.invocation_metadata if k == correlation.HEADER]

        async def recording(request: Any, context: Context) -> Any:
            self.calls.append(
                Received(
                    details.method,
                    ids,
                    _order_id(details.method, request),
                    tuple(details.invocation_metadata),
                )
            )
            return await inner(request, context)

        return _wrap(handler, recording)
