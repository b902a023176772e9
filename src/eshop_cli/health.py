"""``eshop health``: ask each service's grpc.health.v1 whether it is ready (SERVING under its service
name, which follows its database; the overall name ``""`` is liveness only)."""

from __future__ import annotations

import argparse
import json
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from eshop_cli import exit_codes
from eshop_cli.output import table
from eshop_cli.session import Session, Tls, open_channel

SERVING = "SERVING"
UNREACHABLE = "UNREACHABLE"
SERVICES = ("product", "order")
# Readiness names: SERVING only while the service's database answers.
READINESS = {"product": "eshop.product.v1.ProductService", "order": "eshop.order.v1.OrderService"}
LIVENESS = ""


def add_command(subparsers: Any, client_options: argparse.ArgumentParser) -> None:
    command = subparsers.add_parser(
        "health",
        parents=[client_options],
        help="is each service SERVING? (exit 0 only if every one asked about is)",
    )
    command.add_argument(
        "--service",
        choices=SERVICES,
        help="check only this service (a container's HEALTHCHECK); default: both",
    )
    command.set_defaults(handler=run_health)


def check(
    target: str,
    timeout_s: float,
    metadata: tuple[tuple[str, str], ...] = (),
    service: str = LIVENESS,
    tls: Tls | None = None,
) -> str:
    """SERVING, NOT_SERVING (e.g. its database is down, for a readiness name), UNREACHABLE, or another
    health status name, for the health name ``service``."""
    with open_channel(target, tls) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s, metadata=metadata
            )
        except grpc.RpcError as error:
            code = error.code() if isinstance(error, grpc.Call) else None
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                return UNREACHABLE
            return f"ERROR {code.name if code is not None else 'UNKNOWN'}"
    name: str = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    return name


def run_health(args: argparse.Namespace, session: Session) -> int:
    addresses = {"product": session.product_address, "order": session.order_address}
    names = SERVICES if args.service is None else (args.service,)
    statuses = {
        name: (
            addresses[name],
            check(addresses[name], session.timeout_s, session.metadata, READINESS[name], session.tls),
        )
        for name in names
    }
    if session.json:
        print(json.dumps({name: {"address": a, "status": s} for name, (a, s) in statuses.items()}, indent=2))
    else:
        print(table(("SERVICE", "ADDRESS", "STATUS"), [(n, a, s) for n, (a, s) in statuses.items()]))
    healthy = all(status == SERVING for _, status in statuses.values())
    return exit_codes.OK if healthy else exit_codes.FAILED
