"""x-correlation-id on outgoing calls: the bound id, replacing any the caller put in the metadata, or a
fresh one per call when none is bound."""

from __future__ import annotations

import uuid

import grpc

from common import call_context
from common.correlation import HEADER
from common.grpc.client_interceptors import OutgoingCallInterceptor
from tests.support.aio_server import ECHO, Probe


def is_uuid4(value: str) -> bool:
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return False
    return parsed.version == 4 and str(parsed) == value


def _intercepted(probe: Probe) -> grpc.aio.Channel:
    """An aio channel to the probe with the client interceptor (as the Order service's)."""
    return grpc.aio.insecure_channel(probe.target, interceptors=[OutgoingCallInterceptor()])


async def test_client_interceptor_sends_the_bound_id(probe: Probe) -> None:
    async with _intercepted(probe) as channel:
        with call_context.correlation_bound("outgoing-42"):
            await channel.unary_unary(ECHO)(b"ping", timeout=5)

    assert probe.seen[0].received == ["outgoing-42"]
    assert probe.seen[0].bound == "outgoing-42"


async def test_client_interceptor_replaces_a_caller_supplied_id(probe: Probe) -> None:
    async with _intercepted(probe) as channel:
        with call_context.correlation_bound("the-current-one"):
            metadata = ((HEADER, "stale"), ("other", "kept"))
            await channel.unary_unary(ECHO)(b"ping", metadata=metadata, timeout=5)

    assert probe.seen[0].received == ["the-current-one"]


async def test_client_interceptor_makes_an_id_when_none_is_bound(probe: Probe) -> None:
    async with _intercepted(probe) as channel:
        await channel.unary_unary(ECHO)(b"ping", timeout=5)
        await channel.unary_unary(ECHO)(b"ping", timeout=5)

    [first], [second] = (s.received for s in probe.seen)
    assert is_uuid4(first) and is_uuid4(second)
    assert first != second
    assert [s.bound for s in probe.seen] == [first, second]
