"""LoggingInterceptor (one line per call) and ErrorMappingInterceptor (AppError -> status, else INTERNAL)."""

from __future__ import annotations

import re
import time

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from common.correlation import HEADER
from common.errors import (
    Aborted,
    AlreadyExists,
    AppError,
    DeadlineExceeded,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PreconditionType,
    PreconditionViolation,
    ResourceRef,
    ResourceType,
    Unavailable,
)
from tests.support.aio_server import ECHO, FAIL, HANG, HEALTH_CHECK, Probe
from tests.support.logs import LogLine

SECRET = "SELECT password FROM users -- secret detail"


def rpc_lines(logs: list[LogLine], method: str) -> list[LogLine]:
    return [line for line in logs if line.message.startswith(f"rpc {method} ")]


def test_a_call_is_logged_once_with_method_code_duration_and_correlation_id(
    probe: Probe, logs: list[LogLine]
) -> None:
    probe.call(ECHO, metadata=((HEADER, "log-cid-1"),))

    [line] = rpc_lines(logs, ECHO)
    assert re.fullmatch(rf"rpc {ECHO} OK \d+\.\d ms", line.message)
    assert line.level == "INFO"
    assert line.correlation_id == "log-cid-1"


def test_a_failed_call_is_logged_with_its_status_code(probe: Probe, logs: list[LogLine]) -> None:
    probe.failure = NotFound("no such thing", [])

    probe.fail(metadata=((HEADER, "log-cid-2"),))

    [line] = rpc_lines(logs, FAIL)
    assert re.fullmatch(rf"rpc {FAIL} NOT_FOUND \d+\.\d ms", line.message)
    assert line.correlation_id == "log-cid-2"


def test_a_call_its_caller_left_is_logged_cancelled(probe: Probe, logs: list[LogLine]) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        probe.channel.unary_unary(HANG)(b"ping", metadata=((HEADER, "log-cid-3"),), timeout=0.2)
    assert raised.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED

    # The server side ends when grpc.aio cancels the handler, after the client has given up: poll.
    deadline = time.monotonic() + 5
    while not rpc_lines(logs, HANG) and time.monotonic() < deadline:
        time.sleep(0.01)
    [line] = rpc_lines(logs, HANG)
    assert re.fullmatch(rf"rpc {HANG} CANCELLED \d+\.\d ms", line.message)
    assert line.correlation_id == "log-cid-3"


def test_health_checks_are_logged_at_debug_only(probe: Probe, logs: list[LogLine]) -> None:
    probe.call(HEALTH_CHECK)

    [line] = rpc_lines(logs, HEALTH_CHECK)
    assert line.level == "DEBUG"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidArgument([FieldViolation("name", "is required")]), grpc.StatusCode.INVALID_ARGUMENT),
        (NotFound("order not found", [ResourceRef(ResourceType.ORDER, "x")]), grpc.StatusCode.NOT_FOUND),
        (AlreadyExists("exists"), grpc.StatusCode.ALREADY_EXISTS),
        (FailedPrecondition("not now"), grpc.StatusCode.FAILED_PRECONDITION),
        (Aborted("conflict"), grpc.StatusCode.ABORTED),
        (Unavailable("down"), grpc.StatusCode.UNAVAILABLE),
        (DeadlineExceeded("too late"), grpc.StatusCode.DEADLINE_EXCEEDED),
    ],
)
def test_app_errors_become_their_status_with_the_correlation_id(
    probe: Probe, error: AppError, code: grpc.StatusCode
) -> None:
    probe.failure = error

    failure = probe.fail(metadata=((HEADER, "err-cid"),))

    assert failure.code() == code
    assert failure.details() == error.message
    assert ("x-correlation-id", "err-cid") in failure.trailing_metadata()


def test_unavailable_goes_out_trailers_only_so_the_client_may_retry_it(probe: Probe) -> None:
    # Initial metadata would commit the call, and gRPC never retries a committed call.
    probe.failure = Unavailable("down")

    failure = probe.fail(metadata=((HEADER, "err-cid"),))

    assert (HEADER, "err-cid") not in (failure.initial_metadata() or ())


def test_other_errors_echo_the_id_in_initial_metadata(probe: Probe) -> None:
    probe.failure = NotFound("missing", [])

    failure = probe.fail(metadata=((HEADER, "err-cid"),))

    assert (HEADER, "err-cid") in failure.initial_metadata()


def test_errors_carry_google_rpc_details(probe: Probe) -> None:
    probe.failure = FailedPrecondition(
        "short", [PreconditionViolation(PreconditionType.STOCK, "p1", "requested 5, available 2")]
    )

    failure = probe.fail()

    status = rpc_status.from_call(failure)
    assert status is not None
    [packed] = status.details
    detail = error_details_pb2.PreconditionFailure()
    assert packed.Unpack(detail)
    assert [(v.type, v.subject, v.description) for v in detail.violations] == [
        ("STOCK", "p1", "requested 5, available 2")
    ]


def test_unexpected_exceptions_are_internal_with_the_id_and_no_exception_text(
    probe: Probe, logs: list[LogLine]
) -> None:
    probe.failure = RuntimeError(SECRET)

    failure = probe.fail(metadata=((HEADER, "boom-cid"),))

    assert failure.code() == grpc.StatusCode.INTERNAL
    message = failure.details()
    assert "boom-cid" in message
    assert SECRET not in message and "RuntimeError" not in message and "Traceback" not in message
    assert (HEADER, "boom-cid") in failure.trailing_metadata()
    # ... but the operator gets the traceback, tagged with the same id.
    [logged] = [line for line in logs if line.has_exception]
    assert logged.level == "ERROR"
    assert logged.correlation_id == "boom-cid"
    assert re.fullmatch(rf"rpc {FAIL} INTERNAL \d+\.\d ms", rpc_lines(logs, FAIL)[0].message)


def test_a_generated_id_is_the_one_quoted_in_an_internal_error(probe: Probe) -> None:
    probe.failure = KeyError("internal key")

    failure = probe.fail()

    bound = probe.seen[0].bound
    assert bound is not None
    assert bound in failure.details()
    assert "internal key" not in failure.details()
