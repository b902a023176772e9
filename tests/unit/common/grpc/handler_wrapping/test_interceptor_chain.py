"""InterceptorChain: the services' layers as one gRPC interceptor, composed once per method."""

from __future__ import annotations

from typing import Any

import grpc

from common.grpc.handler_wrapping import Behaviour, Context, InterceptorChain, UnaryServerInterceptor

METHOD = "/test.v1.Probe/Echo"


class Tag(UnaryServerInterceptor):
    """Appends its name to the answer on the way out, so the order of layers shows in the answer."""

    def __init__(self, name: bytes) -> None:
        self.name = name

    async def around(self, behaviour: Behaviour, request: Any, context: Context, method: str) -> Any:
        return await behaviour(request, context) + self.name


class Lookup:
    """The continuation: the server's method lookup, counted."""

    def __init__(self) -> None:
        self.calls = 0

        async def echo(request: bytes, context: Any) -> bytes:
            return request

        self.handler = grpc.unary_unary_rpc_method_handler(echo)

    async def __call__(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        self.calls += 1
        return self.handler if details.method == METHOD else None


class Details(grpc.HandlerCallDetails):  # type: ignore[misc]
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


async def _answer(chain: InterceptorChain, lookup: Lookup) -> bytes:
    handler = await chain.intercept_service(lookup, Details(METHOD))
    assert handler is not None and handler.request_deserializer is None
    answer: bytes = await handler.unary_unary(b"x", None)
    return answer


async def test_layers_run_outermost_first_around_the_handler() -> None:
    chain = InterceptorChain([Tag(b"-outer"), Tag(b"-inner")], innermost=True)

    assert await _answer(chain, Lookup()) == b"x-inner-outer"


async def test_the_innermost_chain_looks_a_method_up_once() -> None:
    lookup = Lookup()
    chain = InterceptorChain([Tag(b"-a")], innermost=True)

    answers = [await _answer(chain, lookup) for _ in range(3)]

    assert answers == [b"x-a"] * 3
    assert lookup.calls == 1


async def test_a_chain_with_interceptors_after_it_asks_them_on_every_call() -> None:
    lookup = Lookup()
    chain = InterceptorChain([Tag(b"-a")], innermost=False)

    answers = [await _answer(chain, lookup) for _ in range(3)]

    assert answers == [b"x-a"] * 3
    assert lookup.calls == 3


async def test_an_unknown_method_is_left_to_the_server_and_not_kept() -> None:
    lookup = Lookup()
    chain = InterceptorChain([Tag(b"-a")], innermost=True)

    assert await chain.intercept_service(lookup, Details("/test.v1.Probe/Missing")) is None
    assert await chain.intercept_service(lookup, Details("/test.v1.Probe/Missing")) is None
    assert lookup.calls == 2
