"""x-correlation-id on the server: accepted or replaced, echoed, bound for the call only."""

from __future__ import annotations

import uuid

import pytest

from common import call_context
from common.correlation import HEADER
from common.grpc.server_interceptors import CorrelationIdInterceptor
from tests.support.aio_server import ECHO, Probe


def is_uuid4(value: str) -> bool:
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return False
    return parsed.version == 4 and str(parsed) == value


def header(metadata: tuple[tuple[str, str | bytes], ...] | None) -> list[str | bytes]:
    return [v for k, v in metadata or () if k == HEADER]


@pytest.mark.parametrize(
    "cid", ["test-cid-123", "a", "A.b_c:d-9", "x" * 128, "0b7c3c1e-5d2a-4f3e-9a41-6c8d2e7f9b10"]
)
def test_a_valid_id_is_kept_echoed_and_bound(probe: Probe, cid: str) -> None:
    _, call = probe.call(ECHO, metadata=((HEADER, cid),))

    assert probe.seen[0].bound == cid
    assert header(call.initial_metadata()) == [cid]
    assert header(call.trailing_metadata()) == [cid]


@pytest.mark.parametrize("bad", ["", "x" * 129, "bad id!", "semi;colon", "slash/"])
def test_an_invalid_id_is_replaced_by_a_uuid4(probe: Probe, bad: str) -> None:
    _, call = probe.call(ECHO, metadata=((HEADER, bad),))

    bound = probe.seen[0].bound
    assert bound is not None and bound != bad
    assert is_uuid4(bound)
    assert header(call.initial_metadata()) == [bound]
    assert header(call.trailing_metadata()) == [bound]


class _BareContext:
    """Just what CorrelationIdInterceptor touches. Needed only for non-ASCII, which grpc's client
    refuses to send ("Invalid metadata"), so no real call can carry it."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.initial: tuple[tuple[str, str], ...] = ()
        self.trailing: tuple[tuple[str, str], ...] = ()

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ((HEADER, self.value),)

    async def send_initial_metadata(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.initial = metadata

    def set_trailing_metadata(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.trailing = metadata


@pytest.mark.parametrize("bad", ["caf\u00e9", "\u00fcber-id", "id\u2028"])
async def test_a_non_ascii_id_is_replaced_by_a_uuid4(bad: str) -> None:
    context = _BareContext(bad)

    async def current(request: object, ctx: object) -> str | None:
        return call_context.correlation_id()

    bound = await CorrelationIdInterceptor().around(current, b"", context, ECHO)

    assert isinstance(bound, str) and is_uuid4(bound)
    assert header(context.initial) == [bound]
    assert header(context.trailing) == [bound]


def test_a_missing_id_is_replaced_by_a_fresh_uuid4_per_call(probe: Probe) -> None:
    _, first = probe.call(ECHO)
    _, second = probe.call(ECHO)

    ids = [s.bound for s in probe.seen]
    assert all(i is not None and is_uuid4(i) for i in ids)
    assert ids[0] != ids[1]
    assert header(first.initial_metadata()) == [ids[0]]
    assert header(second.initial_metadata()) == [ids[1]]


def test_the_id_is_not_bound_outside_the_call(probe: Probe) -> None:
    probe.call(ECHO, metadata=((HEADER, "inside"),))

    assert call_context.correlation_id() is None
