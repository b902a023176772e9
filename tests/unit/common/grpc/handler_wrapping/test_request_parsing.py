"""The request body is parsed inside the interceptors' handler wrapping, not by gRPC: a body that is not
a protobuf message gets INVALID_ARGUMENT naming the request type, the correlation id, and a log line
(gRPC's own path answers INTERNAL "Exception deserializing request!" before any interceptor runs)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2

from common import correlation
from tests.support.aio_server import serving
from tests.support.logs import LogLine

SERVICE = "test.v1.Typed"
NAME = f"/{SERVICE}/Name"
NOT_PROTOBUF = b"\x0a\x02\xff\xfe"  # field 1, a string of invalid UTF-8


@pytest.fixture
def channel() -> Iterator[grpc.Channel]:
    async def name(request: health_pb2.HealthCheckRequest, context: Any) -> bytes:
        return request.service.encode()

    handler = grpc.unary_unary_rpc_method_handler(
        name, request_deserializer=health_pb2.HealthCheckRequest.FromString
    )
    with serving({SERVICE: {"Name": handler}}) as port, grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel


def test_a_well_formed_body_reaches_the_handler_parsed(channel: grpc.Channel) -> None:
    body = health_pb2.HealthCheckRequest(service="mugs").SerializeToString()

    assert channel.unary_unary(NAME)(body, timeout=5) == b"mugs"


def test_a_body_that_is_not_the_request_message_is_invalid_argument_with_correlation_id_and_a_log_line(
    channel: grpc.Channel, logs: list[LogLine]
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        channel.unary_unary(NAME)(NOT_PROTOBUF, metadata=((correlation.HEADER, "parse-cid-1"),), timeout=5)

    error = raised.value
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "request body is not a valid grpc.health.v1.HealthCheckRequest message"
    assert (correlation.HEADER, "parse-cid-1") in error.trailing_metadata()
    [line] = [line for line in logs if line.message.startswith(f"rpc {NAME} ")]
    assert re.fullmatch(rf"rpc {NAME} INVALID_ARGUMENT \d+\.\d ms", line.message)
    assert line.correlation_id == "parse-cid-1"
    assert not any(line.has_exception for line in logs)
