"""Start and run the Product service."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from dependency_injector import providers
from loguru import logger

from common import configuration
from common.configuration import variable
from common.db.database import DatabaseUnreachable, DatabaseUnusable
from common.events.broker_url import events_destination
from common.generated.eshop.product.v1 import product_pb2_grpc as pb_grpc
from common.grpc.server import (
    RunningServer,
    ServerParts,
    serve_until_signalled,
    start_server,
    start_service_metrics,
)
from common.metrics import observe_pool
from common.version import VERSION
from product.container import ProductContainer
from product.presentation.access_policy import product_access_policy
from product.presentation.servicer import SERVICE_NAME
from product.settings import ProductSettings


def start(
    settings: ProductSettings | None = None,
    extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    inner_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> tuple[RunningServer, ProductContainer]:
    """Build the container, open the database, start serving; the caller stops the server."""
    container = ProductContainer()
    if settings is not None:
        container.settings.override(settings)
    settings = container.settings()
    metrics = start_service_metrics("eshop-product", settings)
    container.meter.override(providers.Object(metrics.meter))
    # The business counters exist from start-up (each label value at 0).
    container.outcomes()
    container.catalogue_outcomes()
    container.event_metrics()  # broker or not
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
        servicer = container.servicer()
        # With a broker configured, its connection is the event worker's to make, in the background:
        # neither a call nor the start waits for the broker.
        publishing = [container.event_worker()] if settings.events_broker_url else []

        async def close() -> None:
            if publishing:
                await container.broker().close()

        return ServerParts(
            lambda server: pb_grpc.add_ProductServiceServicer_to_server(servicer, server),
            [SERVICE_NAME],
            database.is_ready,
            access_policy=product_access_policy(settings.auth_stock_client_ids),
            background=[*publishing, container.product_gauges()],
            close=close,
            meter=metrics.meter,
        )

    try:
        running = start_server(
            settings, build, extra_interceptors, inner_interceptors, stock_client_warnings(settings)
        )
    except BaseException:
        container.shutdown_resources()
        metrics.shutdown()
        raise
    running.on_stop.append(metrics.shutdown)
    running.on_stop.append(container.shutdown_resources)
    running.metrics_address = metrics.address
    logger.info(
        "product service {} listening on {} (database {}, metrics {}, events {})",
        VERSION,
        running.address,
        database.redacted_url(),
        metrics.url or "off",
        events_destination(settings),
    )
    return running, container


def stock_client_warnings(settings: ProductSettings) -> list[str]:
    """Certificate identities that may move stock, where no client certificate is ever verified."""
    if not settings.auth_stock_client_ids or settings.tls_client_ca_file is not None:
        return []
    ids, ca = (variable(settings, f) for f in ("auth_stock_client_ids", "tls_client_ca_file"))
    return [
        f"{ids} is set but {ca} is not: no client certificate is verified, so these identities never "
        f"match and only the stock:reserve scope moves stock (set {ca} to the CA of the Order "
        "service's certificate)"
    ]


def serve() -> None:
    serve_until_signalled("product", ProductSettings, lambda settings: start(settings)[0])
