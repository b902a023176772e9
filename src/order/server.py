"""Start and run the Order service."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from dependency_injector import providers
from loguru import logger

from common import configuration
from common.auth.token_file import TokenFile
from common.db.database import DatabaseUnreachable, DatabaseUnusable
from common.events.broker_url import events_destination
from common.generated.eshop.order.v1 import order_pb2_grpc as pb_grpc
from common.grpc.server import (
    RunningServer,
    ServerParts,
    serve_until_signalled,
    start_server,
    start_service_metrics,
)
from common.metrics import observe_pool
from common.version import VERSION
from order.container import OrderContainer
from order.presentation.access_policy import ORDER_ACCESS_POLICY
from order.presentation.servicer import SERVICE_NAME
from order.settings import OrderSettings


def start(
    settings: OrderSettings | None = None, extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = ()
) -> tuple[RunningServer, OrderContainer]:
    """Build the container, open the database and the product channel, start serving and draining
    the release outbox; the caller stops the server (which stops the worker and closes resources)."""
    container = OrderContainer()
    if settings is not None:
        container.settings.override(settings)
    settings = container.settings()
    _check_token_file(settings)
    metrics = start_service_metrics("eshop-order", settings)
    container.meter.override(providers.Object(metrics.meter))
    # The business counters exist from start-up (each label value at 0), the events' too, broker or not.
    container.outcomes()
    container.event_metrics()
    try:
        container.init_resources()
    except DatabaseUnusable as error:
        metrics.shutdown()
        raise configuration.problem(settings, "database_url", error) from error
    except DatabaseUnreachable as error:
        metrics.shutdown()
        raise configuration.problem(settings, "database_url", error, exit_status=1) from error
    database = container.database()
    if database.concurrent_transactions:
        observe_pool(metrics.meter, database.connections_in_use)

    def build() -> ServerParts:
        # On the server's loop: the product channel (aio) and everything holding it are made here.
        servicer = container.servicer()
        channel = container.product_channel()
        # With a broker configured, its connection is the event worker's to make, in the background:
        # neither a call nor the start waits for the broker.
        publishing = [container.event_worker()] if settings.events_broker_url else []

        async def close() -> None:
            await channel.close()
            if publishing:
                await container.broker().close()

        return ServerParts(
            lambda server: pb_grpc.add_OrderServiceServicer_to_server(servicer, server),
            [SERVICE_NAME],
            database.is_ready,
            # The reconciler's first pass runs at start: start-up resolves what a crash left.
            background=[
                container.outbox_worker(),
                *publishing,
                container.reconciler_worker(),
                container.order_gauges(),
            ],
            close=close,
            access_policy=ORDER_ACCESS_POLICY,
            meter=metrics.meter,
        )

    try:
        running = start_server(settings, build, extra_interceptors)
    except BaseException:
        container.shutdown_resources()
        metrics.shutdown()
        raise
    running.on_stop.append(metrics.shutdown)
    running.on_stop.append(container.shutdown_resources)
    running.metrics_address = metrics.address
    logger.info(
        "order service {} listening on {} (database {}, product service {}, metrics {}, events {})",
        VERSION,
        running.address,
        database.redacted_url(),
        settings.product_service_target,
        metrics.url or "off",
        events_destination(settings),
    )
    return running, container


def _check_token_file(settings: OrderSettings) -> None:
    """ORDER_PRODUCT_TOKEN_FILE must hold a token at start (a configuration problem otherwise); later
    changes are picked up per call."""
    if settings.product_token_file is None:
        return
    try:
        TokenFile(settings.product_token_file).current()
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise configuration.problem(settings, "product_token_file", ValueError(reason)) from error


def serve() -> None:
    serve_until_signalled("order", OrderSettings, lambda settings: start(settings)[0])
