"""A real ``grpc.aio`` server for interceptor tests: generic handlers and the production interceptors,
on a loop of its own in a thread (as the services run), so tests call it from plain synchronous code."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import grpc

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
