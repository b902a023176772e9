"""What both lean servers share on the wire: correlation id, request checks, statuses with details,
money and timestamps (the same rules and strings as the real services)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import status_pb2

HEADER = "x-correlation-id"
DETAILS_KEY = "grpc-status-details-bin"
CALL_TIMEOUT_S = 5.0  # the Order service's product_call_timeout_s
MAX_LINES, MAX_QUANTITY = 100, 10_000
CENT = Decimal("0.01")
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# The Order service's channel to the Product service: retry UNAVAILABLE, throttled (as the real one).
SERVICE_CONFIG = (
    '{"methodConfig": [{"name": [{"service": "eshop.product.v1.ProductService"}], "retryPolicy": '
    '{"maxAttempts": 4, "initialBackoff": "0.1s", "maxBackoff": "1.0s", "backoffMultiplier": 2.0, '
    '"retryableStatusCodes": ["UNAVAILABLE"]}}], "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}}'
)
CHANNEL_OPTIONS = [("grpc.enable_retries", 1), ("grpc.service_config", SERVICE_CONFIG)]


def correlation_id(metadata: Iterable[tuple[str, Any]] | None) -> str:
    """The caller's ``x-correlation-id`` when well-formed, else a fresh UUID4."""
    for key, value in metadata or ():
        if key == HEADER and isinstance(value, str) and _VALID_ID.fullmatch(value):
            return value
    return str(uuid.uuid4())


def budget(time_remaining: float | None) -> float:
    """An outgoing call's timeout: ours, shortened to what our caller still waits for."""
    return CALL_TIMEOUT_S if time_remaining is None else max(0.0, min(CALL_TIMEOUT_S, time_remaining))


class Line(Protocol):
    @property
    def product_id(self) -> str: ...
    @property
    def quantity(self) -> int: ...


def is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def check_lines(lines: Sequence[Line]) -> list[str]:
    """The contract's rules for order lines; one problem per bad field."""
    if not 1 <= len(lines) <= MAX_LINES:
        return [f"items: must have 1 to {MAX_LINES} lines, got {len(lines)}"]
    problems, seen = [], set()
    for i, line in enumerate(lines):
        if not is_uuid(line.product_id):
            problems.append(f"items[{i}].product_id: must be a UUID")
        elif line.product_id.lower() in seen:
            problems.append(f"items[{i}].product_id: appears more than once")
        seen.add(line.product_id.lower())
        if not 1 <= line.quantity <= MAX_QUANTITY:
            problems.append(f"items[{i}].quantity: must be between 1 and {MAX_QUANTITY}")
    return problems


class _Status(NamedTuple):
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...]


class Status(_Status, grpc.Status):  # type: ignore[misc]  # grpc has no type hints
    pass


class Refusal(Exception):
    """An answer other than OK, with its google.rpc details (AIP-193), raised out of a transaction."""

    def __init__(self, code: grpc.StatusCode, message: str, details: Sequence[Message] = ()) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details

    def status(self, cid: str) -> grpc.Status:
        proto = status_pb2.Status(code=self.code.value[0], message=self.message)
        for detail in self.details:
            packed = any_pb2.Any()
            packed.Pack(detail)
            proto.details.append(packed)
        trailers = ((DETAILS_KEY, proto.SerializeToString()), (HEADER, cid))
        return Status(self.code, self.message, trailers)


def invalid(problems: list[str]) -> Refusal:
    return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "invalid request: " + "; ".join(problems))


def details_of(error: grpc.RpcError) -> list[Any]:
    """The packed google.rpc details of a failed call (sync or aio), from its trailers."""
    trailers = error.trailing_metadata() or ()
    for key, value in trailers:
        if key == DETAILS_KEY:
            return list(status_pb2.Status.FromString(value).details)
    return []


def money(cents: int) -> str:
    return str((Decimal(cents) * CENT).quantize(CENT))


def cents(amount: str) -> int:
    return int((Decimal(amount) / CENT).to_integral_value())


def timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp
