"""A real ``grpc.aio`` server for interceptor tests: generic handlers and the production interceptors,
on a loop of its own in a thread (as the services run), so tests call it from plain synchronous code;
and the probe service the interceptor tests call (``Probe``: what each handler saw)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest

from common import call_context, correlation
from common.grpc.server_interceptors import server_interceptors
from tests.support.servers import ServerLoop


@contextmanager
def serving(services: Mapping[str, Mapping[str, grpc.RpcMethodHandler]]) -> Iterator[int]:
    """Serve ``services`` (service name -> method name -> handler) on 127.0.0.1; yields the port."""
    runner = ServerLoop("test-grpc-server")

    async def start() -> tuple[grpc.aio.Server, int]:
        server = grpc.aio.server(interceptors=server_interceptors())
        server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler(name, handlers) for name, handlers in services.items()]
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return server, port

    server, port = runner.call(start())
    try:
        yield port
    finally:
        runner.call(server.stop(0))
        runner.close()


SERVICE = "test.v1.Probe"
ECHO = f"/{SERVICE}/Echo"
FAIL = f"/{SERVICE}/Fail"
HANG = f"/{SERVICE}/Hang"  # never answers: its caller leaves (deadline) and grpc.aio cancels it
HEALTH_CHECK = "/grpc.health.v1.Health/Check"


@dataclass(frozen=True)
class Seen:
    """What a handler saw: the bound correlation id and the raw ``x-correlation-id`` values received."""

    bound: str | None
    received: list[str]


@dataclass
class Probe:
    channel: grpc.Channel
    target: str
    seen: list[Seen] = field(default_factory=list)
    # What /Fail raises; each test sets it.
    failure: BaseException = field(default_factory=lambda: RuntimeError("not set"))

    def call(
        self, method: str, *, metadata: tuple[tuple[str, str], ...] = (), channel: grpc.Channel | None = None
    ) -> tuple[bytes, grpc.Call]:
        stub = (channel or self.channel).unary_unary(method)
        response, call = stub.with_call(b"ping", metadata=metadata, timeout=5)
        return response, call

    def fail(self, *, metadata: tuple[tuple[str, str], ...] = ()) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as raised:
            self.channel.unary_unary(FAIL)(b"ping", metadata=metadata, timeout=5)
        return raised.value


def _handlers(probe: Callable[[], Probe]) -> dict[str, grpc.RpcMethodHandler]:
    async def echo(request: bytes, context: Any) -> bytes:
        received = [v for k, v in context.invocation_metadata() if k == correlation.HEADER]
        probe().seen.append(Seen(call_context.correlation_id(), received))
        return request

    async def fail(request: bytes, context: Any) -> bytes:
        probe().seen.append(Seen(call_context.correlation_id(), []))
        raise probe().failure

    async def hang(request: bytes, context: Any) -> bytes:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return {
        "Echo": grpc.unary_unary_rpc_method_handler(echo),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Hang": grpc.unary_unary_rpc_method_handler(hang),
    }


@contextmanager
def probing() -> Iterator[Probe]:
    """The probe service served with the production interceptors; yields its ``Probe``."""
    holder: list[Probe] = []
    handlers = _handlers(lambda: holder[0])
    services = {SERVICE: handlers, "grpc.health.v1.Health": {"Check": handlers["Echo"]}}
    with serving(services) as port:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        holder.append(Probe(channel, f"127.0.0.1:{port}"))
        try:
            yield holder[0]
        finally:
            channel.close()
