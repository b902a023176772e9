"""AppError -> grpc.Status with the google.rpc detail a client can unpack (AIP-193)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

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
    PreconditionType,
    PreconditionViolation,
    ResourceRef,
    ResourceType,
    Unavailable,
)
from common.grpc.status import internal_status, to_grpc_status, with_trailer

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
