"""Application errors. Each names the gRPC status it becomes; the mapping to wire details lives in
``common.grpc.status`` so that these stay plain Python for the domain and application layers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto


class ErrorCode(str, Enum):
    """The subset of gRPC status codes the application raises on purpose."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    ABORTED = "ABORTED"
    UNAVAILABLE = "UNAVAILABLE"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class PreconditionType(Enum):
    """Which rule a request broke, in the application's terms (the wire names live in
    ``common.grpc.contract``)."""

    STOCK = auto()  # not enough available stock for a line
    STOCK_LIMIT = auto()  # a restock would take the stock past its maximum
    RESERVATION_RELEASED = auto()  # a repeated reservation whose stock was given back
    ORDER_STATUS = auto()  # the order's status does not allow the change
    PRODUCT_DELETED = auto()  # the product is deleted: no update, restock or second delete
    PRODUCT_NOT_DELETED = auto()  # an undelete of a product that is not deleted


class ResourceType(Enum):
    """What was not found, in the application's terms (the wire names live in ``common.grpc.contract``)."""

    PRODUCT = auto()
    RESERVATION = auto()
    ORDER = auto()


@dataclass(frozen=True)
class PreconditionViolation:
    type: PreconditionType
    subject: str
    description: str


@dataclass(frozen=True)
class ResourceRef:
    resource_type: ResourceType
    resource_name: str
    description: str = ""


class AppError(Exception):
    """An expected failure with a message a person can read."""

    code: ErrorCode = ErrorCode.FAILED_PRECONDITION

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(AppError):
    code = ErrorCode.INVALID_ARGUMENT

    def __init__(self, violations: list[FieldViolation]) -> None:
        summary = "; ".join(f"{v.field}: {v.description}" for v in violations)
        super().__init__(f"invalid request: {summary}")
        self.violations = violations


class NotFound(AppError):
    code = ErrorCode.NOT_FOUND

    def __init__(self, message: str, resources: list[ResourceRef]) -> None:
        super().__init__(message)
        self.resources = resources


class AlreadyExists(AppError):
    code = ErrorCode.ALREADY_EXISTS


class FailedPrecondition(AppError):
    code = ErrorCode.FAILED_PRECONDITION

    def __init__(self, message: str, violations: list[PreconditionViolation] | None = None) -> None:
        super().__init__(message)
        self.violations = violations or []


class Aborted(AppError):
    """A concurrency conflict the caller may retry (e.g. a serialization failure that kept failing)."""

    code = ErrorCode.ABORTED


class Unavailable(AppError):
    code = ErrorCode.UNAVAILABLE


class DeadlineExceeded(AppError):
    code = ErrorCode.DEADLINE_EXCEEDED


class Unauthenticated(AppError):
    """Missing or invalid credentials. The reason names what is wrong, never the token or a key."""

    code = ErrorCode.UNAUTHENTICATED


class PermissionDenied(AppError):
    """Valid credentials that do not allow this call (AIP-211: also for resources the caller may not see)."""

    code = ErrorCode.PERMISSION_DENIED
