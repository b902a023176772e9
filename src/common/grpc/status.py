"""gRPC status codes in one place: AppError -> its status with google.rpc details (AIP-193: BadRequest,
PreconditionFailure and ResourceInfo), and the code a call ended with, as every interceptor around it
sees it.
"""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple, TypeVar

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from common.errors import AppError, FailedPrecondition, InvalidArgument, NotFound
from common.grpc.contract import PRECONDITION_TYPES, RESOURCE_TYPES

GRPC_CODES: dict[str, grpc.StatusCode] = {code.name: code for code in grpc.StatusCode}
_BY_NUMBER: dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}

# The message and details travel in trailers, and gRPC clients refuse trailers beyond ~8 KiB by
# default (RESOURCE_EXHAUSTED "received metadata size exceeds ..."): a request with 100 bad lines, or
# 1000 unknown ids, would otherwise hide its real status. The message is clipped; the details keep
# as many entries as fit, in order.
MAX_MESSAGE_BYTES = 1024
MAX_DETAILS_BYTES = 3072
_ENTRY_OVERHEAD_BYTES = 8  # tag and length of a repeated entry
_ANY_OVERHEAD_BYTES = 64  # type URL and framing of one packed detail


def grpc_code(error: AppError) -> grpc.StatusCode:
    return GRPC_CODES[error.code.value]


def status_code(code: grpc.StatusCode | int | None) -> grpc.StatusCode:
    """A status code as grpc.aio reports it: a ``StatusCode``, or (an aborted call's) its number."""
    if isinstance(code, grpc.StatusCode):
        return code
    return _BY_NUMBER.get(code, grpc.StatusCode.UNKNOWN) if code is not None else grpc.StatusCode.UNKNOWN


def ended_with(
    context: grpc.aio.ServicerContext[Any, Any],
    error: BaseException | None,
    unhandled: grpc.StatusCode = grpc.StatusCode.UNKNOWN,
) -> grpc.StatusCode:
    """The code of a call that ended by returning (``error`` None) or by raising ``error``, as an
    interceptor around it sees it: OK; the status sent, when the servicer or an inner interceptor
    aborted; an AppError's own (the error mapping further out sends it); CANCELLED when the caller left
    (or its deadline passed); else ``unhandled``: what the layer that answers an unexpected exception
    sends (gRPC's UNKNOWN outside the error mapping, the mapping's INTERNAL inside it)."""
    if error is None:
        return grpc.StatusCode.OK
    if isinstance(error, grpc.aio.AbortError):
        return status_code(context.code())
    if isinstance(error, AppError):
        return grpc_code(error)
    if isinstance(error, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED
    return unhandled


def to_grpc_status(error: AppError) -> grpc.Status:
    status = status_pb2.Status(code=grpc_code(error).value[0], message=_clip(error.message))
    for detail in _details(error):
        packed = any_pb2.Any()
        packed.Pack(detail)
        status.details.append(packed)
    return rpc_status.to_status(status)


def internal_status(correlation_id: str) -> grpc.Status:
    message = f"internal error; quote correlation id {correlation_id} when reporting it"
    return rpc_status.to_status(status_pb2.Status(code=code_pb2.INTERNAL, message=message))


class _Status(NamedTuple):
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...]


class Status(_Status, grpc.Status):
    pass


def with_trailer(status: grpc.Status, key: str, value: str) -> grpc.Status:
    """``abort_with_status`` replaces the trailing metadata: carry other trailers inside the status."""
    return Status(status.code, status.details, (*status.trailing_metadata, (key, value)))


def _clip(message: str) -> str:
    encoded = message.encode()
    if len(encoded) <= MAX_MESSAGE_BYTES:
        return message
    return encoded[: MAX_MESSAGE_BYTES - 3].decode(errors="ignore") + "…"


M = TypeVar("M", bound=Message)


def _fitting(entries: list[M], overhead: int = _ENTRY_OVERHEAD_BYTES) -> list[M]:
    """The leading entries that fit the details budget (at least one)."""
    kept: list[M] = []
    used = 0
    for entry in entries:
        used += entry.ByteSize() + overhead
        if kept and used > MAX_DETAILS_BYTES:
            break
        kept.append(entry)
    return kept


def _details(error: AppError) -> list[Message]:
    if isinstance(error, InvalidArgument):
        return [
            error_details_pb2.BadRequest(
                field_violations=_fitting(
                    [
                        error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                        for v in error.violations
                    ]
                )
            )
        ]
    if isinstance(error, FailedPrecondition) and error.violations:
        return [
            error_details_pb2.PreconditionFailure(
                violations=_fitting(
                    [
                        error_details_pb2.PreconditionFailure.Violation(
                            type=PRECONDITION_TYPES[v.type], subject=v.subject, description=v.description
                        )
                        for v in error.violations
                    ]
                )
            )
        ]
    if isinstance(error, NotFound):
        resources = [
            error_details_pb2.ResourceInfo(
                resource_type=RESOURCE_TYPES[r.resource_type],
                resource_name=r.resource_name,
                description=r.description,
            )
            for r in error.resources
        ]
        return list(_fitting(resources, _ANY_OVERHEAD_BYTES))
    return []
