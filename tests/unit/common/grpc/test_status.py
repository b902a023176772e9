"""AppError -> grpc.Status with the google.rpc detail a client can unpack (AIP-193), and the code a call
ended with as the interceptors see it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from common.errors import (
    Aborted,
    AlreadyExists,
    AppError,
    DeadlineExceeded,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PreconditionType,
    PreconditionViolation,
    ResourceRef,
    ResourceType,
    Unauthenticated,
    Unavailable,
)
from common.grpc.status import ended_with, internal_status, status_code, to_grpc_status, with_trailer

M = TypeVar("M", bound=Message)


@dataclass
class FinishedCall:
    """What a client holds after a failed unary call, built from the status the server aborted with."""

    status: grpc.Status

    def code(self) -> grpc.StatusCode:
        return self.status.code

    def details(self) -> str:
        return str(self.status.details)

    def trailing_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return tuple(self.status.trailing_metadata)


def parsed(error: AppError) -> status_pb2.Status:
    status = rpc_status.from_call(FinishedCall(to_grpc_status(error)))  # also checks code and message agree
    assert status is not None
    return status


def unpack(status: status_pb2.Status, kind: type[M]) -> list[M]:
    out: list[M] = []
    for packed in status.details:
        assert packed.Is(kind.DESCRIPTOR), packed.type_url
        message = kind()
        packed.Unpack(message)
        out.append(message)
    return out


def test_invalid_argument_carries_a_bad_request_with_every_field() -> None:
    error = InvalidArgument([FieldViolation("name", "is required"), FieldViolation("price", "bad")])

    status = parsed(error)

    assert to_grpc_status(error).code is grpc.StatusCode.INVALID_ARGUMENT
    assert status.message == "invalid request: name: is required; price: bad"
    [bad_request] = unpack(status, error_details_pb2.BadRequest)
    assert [(v.field, v.description) for v in bad_request.field_violations] == [
        ("name", "is required"),
        ("price", "bad"),
    ]


def test_failed_precondition_carries_a_precondition_failure() -> None:
    error = FailedPrecondition(
        "short",
        [
            PreconditionViolation(PreconditionType.STOCK, "p1", "requested 2, available 1"),
            PreconditionViolation(PreconditionType.STOCK_LIMIT, "p2", "x"),
        ],
    )

    status = parsed(error)

    assert to_grpc_status(error).code is grpc.StatusCode.FAILED_PRECONDITION
    [failure] = unpack(status, error_details_pb2.PreconditionFailure)
    assert [(v.type, v.subject, v.description) for v in failure.violations] == [
        ("STOCK", "p1", "requested 2, available 1"),
        ("STOCK_LIMIT", "p2", "x"),
    ]


def test_not_found_carries_one_resource_info_per_resource() -> None:
    error = NotFound(
        "gone", [ResourceRef(ResourceType.PRODUCT, "a", "why"), ResourceRef(ResourceType.RESERVATION, "b")]
    )

    status = parsed(error)

    assert to_grpc_status(error).code is grpc.StatusCode.NOT_FOUND
    infos = unpack(status, error_details_pb2.ResourceInfo)
    assert [(i.resource_type, i.resource_name, i.description) for i in infos] == [
        ("eshop.product.v1.Product", "a", "why"),
        ("eshop.product.v1.Reservation", "b", ""),
    ]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (AlreadyExists("dup"), grpc.StatusCode.ALREADY_EXISTS),
        (FailedPrecondition("no details"), grpc.StatusCode.FAILED_PRECONDITION),
        (Aborted("again"), grpc.StatusCode.ABORTED),
        (Unavailable("down"), grpc.StatusCode.UNAVAILABLE),
        (DeadlineExceeded("late"), grpc.StatusCode.DEADLINE_EXCEEDED),
    ],
)
def test_other_errors_map_to_their_code_with_no_details(error: AppError, code: grpc.StatusCode) -> None:
    status = to_grpc_status(error)
    assert (status.code, status.details) == (code, error.message)
    assert list(parsed(error).details) == []


def test_internal_status_is_generic_and_quotes_the_correlation_id() -> None:
    status = internal_status("cid-7")
    assert status.code is grpc.StatusCode.INTERNAL
    assert status.details == "internal error; quote correlation id cid-7 when reporting it"


def test_with_trailer_keeps_the_details_trailer_and_adds_one() -> None:
    status = with_trailer(to_grpc_status(AlreadyExists("dup")), "x-correlation-id", "cid-1")

    keys = [k for k, _ in status.trailing_metadata]
    assert keys == ["grpc-status-details-bin", "x-correlation-id"]
    assert rpc_status.from_call(FinishedCall(status)) is not None


class _Context:
    """What ``ended_with`` reads of a servicer context: the code grpc.aio reports for an aborted call."""

    def __init__(self, code: grpc.StatusCode | int | None) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode | int | None:
        return self._code


@pytest.mark.parametrize("code", list(grpc.StatusCode))
def test_a_code_reported_as_its_number_is_that_code(code: grpc.StatusCode) -> None:
    assert status_code(code.value[0]) is code
    assert status_code(code) is code


def test_a_number_that_is_no_code_is_unknown() -> None:
    assert status_code(99) is grpc.StatusCode.UNKNOWN
    assert status_code(None) is grpc.StatusCode.UNKNOWN


@pytest.mark.parametrize(
    ("reported", "error", "unhandled", "expected"),
    [
        (None, None, grpc.StatusCode.UNKNOWN, grpc.StatusCode.OK),
        (
            grpc.StatusCode.NOT_FOUND.value[0],
            grpc.aio.AbortError(),
            grpc.StatusCode.UNKNOWN,
            grpc.StatusCode.NOT_FOUND,
        ),
        (None, Unavailable("down"), grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNAVAILABLE),
        (None, asyncio.CancelledError(), grpc.StatusCode.UNKNOWN, grpc.StatusCode.CANCELLED),
        (None, RuntimeError("bug"), grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNKNOWN),
        (None, RuntimeError("bug"), grpc.StatusCode.INTERNAL, grpc.StatusCode.INTERNAL),
    ],
    ids=["returned", "aborted", "app-error", "caller-left", "unexpected", "unexpected-inside-the-mapping"],
)
def test_the_code_a_call_ended_with(
    reported: int | None, error: BaseException | None, unhandled: grpc.StatusCode, expected: grpc.StatusCode
) -> None:
    context: Any = _Context(reported)
    assert ended_with(context, error, unhandled) is expected


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (Unauthenticated("token expired"), grpc.StatusCode.UNAUTHENTICATED),
        (PermissionDenied("needs scope 'catalog:write'"), grpc.StatusCode.PERMISSION_DENIED),
    ],
)
def test_auth_errors_map_to_their_status_without_details(error: AppError, code: grpc.StatusCode) -> None:
    status = to_grpc_status(error)

    assert status.code is code
    assert status.details == error.message
    ((key, value),) = status.trailing_metadata
    assert key == "grpc-status-details-bin"
    assert list(status_pb2.Status.FromString(value).details) == []
