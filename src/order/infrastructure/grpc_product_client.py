"""The product client port over gRPC: one channel, built-in retries, a deadline on every call.

Retries live in the channel's service config (gRPC A6), not in a loop here: only UNAVAILABLE is
retried, with exponential backoff, under retry throttling so an outage is not multiplied by retries.
They are safe because ReserveStock and ReleaseStock are idempotent by order id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from opentelemetry.metrics import Meter

from common import deadline
from common.errors import PreconditionType, ResourceType
from common.generated.eshop.product.v1 import product_pb2 as pb
from common.generated.eshop.product.v1 import product_pb2_grpc as pb_grpc
from common.grpc.call_metrics import unary_methods
from common.grpc.client_interceptors import client_interceptors
from common.grpc.contract import PRECONDITION_TYPES, PRODUCT_SERVICE, RESOURCE_TYPES
from common.grpc.service_token import ServiceToken
from order.application.outcomes import INSUFFICIENT_STOCK, UNKNOWN_PRODUCT
from order.application.product_client import (
    ProductServiceUnavailable,
    ReservationOutcome,
    ReservationRefused,
    Reserved,
)
from order.domain.model import OrderItem, OrderLine


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 1.0
    backoff_multiplier: float = 2.0


def service_config(policy: RetryPolicy) -> dict[str, Any]:
    return {
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [
            {
                "name": [{"service": PRODUCT_SERVICE}],
                "retryPolicy": {
                    "maxAttempts": policy.max_attempts,
                    "initialBackoff": f"{policy.initial_backoff_s}s",
                    "maxBackoff": f"{policy.max_backoff_s}s",
                    "backoffMultiplier": policy.backoff_multiplier,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ],
        # Each failure costs a token, each success gives back 0.1; below half of maxTokens the client
        # stops retrying until the service recovers.
        "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1},
    }


@dataclass(frozen=True)
class Reconnect:
    """gRPC's connection backoff (the pause before each new try after losing the connection)."""

    initial_backoff_s: float = 1.0
    max_backoff_s: float = 5.0

    def options(self) -> list[tuple[str, int]]:
        return [
            ("grpc.initial_reconnect_backoff_ms", round(self.initial_backoff_s * 1000)),
            ("grpc.max_reconnect_backoff_ms", round(self.max_backoff_s * 1000)),
        ]


@dataclass(frozen=True)
class ChannelSecurity:
    """TLS to the Product service: off without a CA; mutual when a client certificate is given too."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name: str | None = None

    def credentials(self) -> grpc.ChannelCredentials | None:
        if self.ca_file is None:
            return None
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca_file.read_bytes(),
            private_key=self.key_file.read_bytes() if self.key_file else None,
            certificate_chain=self.cert_file.read_bytes() if self.cert_file else None,
        )


def open_channel(
    target: str,
    policy: RetryPolicy,
    security: ChannelSecurity | None = None,
    max_message_bytes: int = 4 * 1024 * 1024,
    meter: Meter | None = None,
    *,
    reconnect: Reconnect = Reconnect(),
) -> grpc.aio.Channel:
    """An aio channel with the client interceptors; made on the loop that uses it, closed by its owner
    (``await channel.close()``) when the server stops."""
    options: list[tuple[str, Any]] = [
        ("grpc.enable_retries", 1),
        ("grpc.service_config", json.dumps(service_config(policy))),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.keepalive_time_ms", 30_000),
        *reconnect.options(),
    ]
    credentials = security.credentials() if security else None
    interceptors = client_interceptors(meter, target, unary_methods([PRODUCT_SERVICE]))
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)
    if security and security.server_name:
        options.append(("grpc.ssl_target_name_override", security.server_name))
    return grpc.aio.secure_channel(target, credentials, options=options, interceptors=interceptors)


def connection_check(channel: grpc.aio.Channel) -> Callable[[], bool]:
    """Whether ``channel`` is connected right now (asking makes no call and no connection attempt)."""
    return lambda: channel.get_state(try_to_connect=False) is grpc.ChannelConnectivity.READY


class GrpcProductClient:
    def __init__(
        self, channel: grpc.aio.Channel, timeout_s: float, identity: ServiceToken | None = None
    ) -> None:
        """``identity``: the Order service's own token (ORDER_PRODUCT_TOKEN_FILE) on every call; None
        when its client certificate is its identity, or authentication is off."""
        self._stub = pb_grpc.ProductServiceStub(channel)
        self._timeout = timeout_s
        self._identity = identity

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        return () if self._identity is None else self._identity.metadata()

    async def reserve(self, order_id: UUID, lines: Sequence[OrderLine]) -> ReservationOutcome:
        request = pb.ReserveStockRequest(
            order_id=str(order_id),
            items=[pb.StockItem(product_id=str(line.product_id), quantity=line.quantity) for line in lines],
        )
        try:
            response = await self._stub.ReserveStock(
                request, timeout=deadline.clamp(self._timeout), metadata=self._metadata()
            )
        except grpc.RpcError as error:
            return _refusal(error)
        return _reserved(response.items)

    async def held_reservation(self, order_id: UUID) -> Reserved | None:
        request = pb.GetReservationRequest(order_id=str(order_id))
        try:
            reservation = await self._stub.GetReservation(
                request, timeout=deadline.clamp(self._timeout), metadata=self._metadata()
            )
        except grpc.RpcError as error:
            if error.code() is grpc.StatusCode.NOT_FOUND:
                return None
            raise _unavailable(error) from None
        if reservation.state != pb.Reservation.STATE_ACTIVE:
            return None
        return _reserved(reservation.items)

    async def release(self, order_id: UUID) -> bool:
        try:
            response = await self._stub.ReleaseStock(
                pb.ReleaseStockRequest(order_id=str(order_id)),
                timeout=deadline.clamp(self._timeout),
                metadata=self._metadata(),
            )
        except grpc.RpcError as error:
            raise _unavailable(error) from None
        return bool(response.released)


def _reserved(items: Iterable[pb.ReservedItem]) -> Reserved:
    return Reserved(
        tuple(OrderItem(UUID(i.product_id), i.name, Decimal(i.unit_price), i.quantity) for i in items)
    )


def _refusal(error: grpc.RpcError) -> ReservationRefused:
    """Read the answer from the status details, never from the message text (which is for people)."""
    code = error.code()
    details = _details(error)
    if code is grpc.StatusCode.FAILED_PRECONDITION:
        violations = [
            v
            for d in details
            if isinstance(d, error_details_pb2.PreconditionFailure)
            for v in d.violations
            if v.type == PRECONDITION_TYPES[PreconditionType.STOCK]
        ]
        if violations:
            reason = "insufficient stock: " + "; ".join(f"{v.subject} {v.description}" for v in violations)
            return ReservationRefused(reason, tuple(UUID(v.subject) for v in violations), INSUFFICIENT_STOCK)
        return ReservationRefused(f"stock reservation refused: {error.details()}", ())
    if code is grpc.StatusCode.NOT_FOUND:
        product = RESOURCE_TYPES[ResourceType.PRODUCT]
        missing = [
            d.resource_name
            for d in details
            if isinstance(d, error_details_pb2.ResourceInfo) and d.resource_type == product
        ]
        return ReservationRefused(
            "unknown product: " + ", ".join(missing), tuple(UUID(m) for m in missing), UNKNOWN_PRODUCT
        )
    if code is grpc.StatusCode.ALREADY_EXISTS:
        return ReservationRefused("a different stock reservation exists for this order id", ())
    raise _unavailable(error)


def _unavailable(error: grpc.RpcError) -> ProductServiceUnavailable:
    code = error.code()
    return ProductServiceUnavailable(
        f"product service: {code.name}: {error.details()}",
        deadline_exceeded=code is grpc.StatusCode.DEADLINE_EXCEEDED,
    )


def _details(error: grpc.RpcError) -> list[Any]:
    status = rpc_status.from_call(error)
    if status is None:
        return []
    unpacked: list[Any] = []
    for packed in status.details:
        for kind in (error_details_pb2.PreconditionFailure, error_details_pb2.ResourceInfo):
            if packed.Is(kind.DESCRIPTOR):
                message = kind()
                packed.Unpack(message)
                unpacked.append(message)
    return unpacked
