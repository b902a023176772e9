"""No input crashes a service or leaves half-written data: hypothesis throws malformed, huge and odd
requests (and odd correlation ids) at every RPC of both services running in this process. Every answer
is a documented status (never INTERNAL or UNKNOWN), an INVALID_ARGUMENT stores nothing, the
correlation id echoed is well-formed, and both services are still SERVING afterwards."""

from __future__ import annotations

import random

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message
from hypothesis import HealthCheck, Phase, example, given, settings

from common.correlation import HEADER, is_valid
from common.settings import ServerSettings
from tests.support.boundaries import PROBES
from tests.support.faults import ORDER_READINESS, SERVING, health_status
from tests.support.fuzz_strategies import CASES, RpcCase, correlation_ids
from tests.support.fuzz_target import CALL_TIMEOUT_S, Target

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the work tree
    # Shrinking a 100-line request can take minutes; the unshrunk failing example is reported as is.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
MAX_REQUEST_BYTES = ServerSettings.model_fields["max_message_bytes"].default


def _assert_healthy(target: Target) -> None:
    assert health_status(target.services.product_target) == SERVING
    assert health_status(target.services.order_target, service=ORDER_READINESS) == SERVING


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.service}.{c.method}")
def test_hostile_requests(target: Target, case: RpcCase) -> None:
    @FUZZ
    @given(request=case.requests(target.known), cid=correlation_ids())
    def one(request: Message, cid: str | None) -> None:
        before = target.row_counts()
        code, details, echoed = target.call(case, request, cid)
        if request.ByteSize() > MAX_REQUEST_BYTES:
            # gRPC refuses it before any of our code runs (so no correlation id comes back either).
            assert code is grpc.StatusCode.RESOURCE_EXHAUSTED, f"{case.method}: {code.name} {details[:300]}"
            assert target.row_counts() == before
            return
        assert code in case.allowed, f"{case.method} answered {code.name}: {details[:300]}"
        if code is grpc.StatusCode.INVALID_ARGUMENT:
            assert target.row_counts() == before, "an invalid request changed stored data"
        assert len(echoed) == 1 and is_valid(echoed[0]), f"bad echoed correlation id {echoed!r}"
        if cid is not None and is_valid(cid):
            assert echoed == [cid]

    # Every limit of this RPC, just inside and just outside, is tried first, whatever the random walk.
    for probe in PROBES:
        if probe.method == case.method:
            one = example(request=probe.request(target.known), cid=None)(one)
    one()
    _assert_healthy(target)


def _request_type(service: str, method: str) -> type[Message]:
    descriptor = descriptor_pool.Default().FindServiceByName(service).methods_by_name[method].input_type
    return message_factory.GetMessageClass(descriptor)


def _parses(request_type: type[Message], payload: bytes) -> bool:
    try:
        request_type.FromString(payload)
    except DecodeError:
        return False
    return True


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.service}.{c.method}")
def test_garbage_bytes(target: Target, case: RpcCase) -> None:
    """Bytes that may not even be protobuf: refused as INVALID_ARGUMENT naming the request type (never
    gRPC's own INTERNAL "Exception deserializing request!"), with the correlation id, nothing stored."""
    service = (
        "eshop.product.v1.ProductService" if case.service == "product" else "eshop.order.v1.OrderService"
    )
    method = target.channels[case.service].unary_unary(f"/{service}/{case.method}")
    rng = random.Random(f"{case.method}-garbage")
    payloads = [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64))) for _ in range(30)]
    not_protobuf = [b"\x0a\x02\xff\xfe", b"\x12\x03\xc3\x28\x41", b"\x08" + b"\xff" * 10]
    request_type = _request_type(service, case.method)
    for i, payload in enumerate([*payloads, *not_protobuf]):
        cid = f"garbage-{case.method}-{i}"
        before = target.row_counts()
        try:
            _, call = method.with_call(payload, metadata=((HEADER, cid),), timeout=CALL_TIMEOUT_S)
            code, details = grpc.StatusCode.OK, ""
        except grpc.RpcError as error:
            call, code, details = error, error.code(), error.details() or ""
        assert code in case.allowed, f"{payload!r}: {code.name} {details}"
        echoed = [str(v) for k, v in call.trailing_metadata() or () if k == HEADER]
        assert echoed == [cid], f"{payload!r}: correlation id {echoed!r}"
        if code is grpc.StatusCode.INVALID_ARGUMENT:
            assert target.row_counts() == before
        if not _parses(request_type, payload):
            assert code is grpc.StatusCode.INVALID_ARGUMENT, f"{payload!r}: {code.name} {details}"
            assert details == f"request body is not a valid {request_type.DESCRIPTOR.full_name} message"
    _assert_healthy(target)
