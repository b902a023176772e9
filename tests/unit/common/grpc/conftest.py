"""A tiny real gRPC server on 127.0.0.1 with the production interceptors and a generic handler, so the
interceptors run against grpc's own ServicerContext rather than a fake one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from loguru import logger

from common import call_context, correlation
from tests.support.aio_server import serving

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


@pytest.fixture
def probe() -> Iterator[Probe]:
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


@dataclass(frozen=True)
class LogLine:
    level: str
    message: str
    correlation_id: str | None
    has_exception: bool


@pytest.fixture
def logs() -> Iterator[list[LogLine]]:
    """Every loguru record written while the test runs (any thread), with its bound correlation id."""
    lines: list[LogLine] = []

    def sink(message: object) -> None:
        record = message.record  # type: ignore[attr-defined]
        lines.append(
            LogLine(
                record["level"].name,
                record["message"],
                record["extra"].get("correlation_id"),
                record["exception"] is not None,
            )
        )

    sink_id = logger.add(sink, format="{message}", level="DEBUG")
    try:
        yield lines
    finally:
        logger.remove(sink_id)
