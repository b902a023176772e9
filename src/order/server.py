"""Start and run the Order service."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from loguru import logger

from common import configuration
from common.db.database import DatabaseUnusable
from common.generated.eshop.order.v1 import order_pb2_grpc as pb_grpc
from common.grpc.server import RunningServer, serve_until_signalled, start_server
from common.version import VERSION
from order.container import OrderContainer
from order.presentation.servicer import SERVICE_NAME
from order.settings import OrderSettings


def start(
    settings: OrderSettings | None = None, extra_interceptors: Sequence[grpc.ServerInterceptor] = ()
) -> tuple[RunningServer, OrderContainer]:
    """Build the container, open the database and the product channel, start serving and draining
    the release outbox; the caller stops the server (which stops the worker and closes resources)."""
    container = OrderContainer()
    if settings is not None:
        container.settings.override(settings)
    settings = container.settings()
    try:
        container.init_resources()
    except DatabaseUnusable as error:
        raise configuration.problem(settings, "database_url", error) from error
    database = container.database()
    servicer = container.servicer()  # built before start: Singleton creation is not thread-safe
    workers = [container.outbox_worker(), container.reconciler_worker()]

    def register(server: grpc.Server) -> None:
        pb_grpc.add_OrderServiceServicer_to_server(servicer, server)

    running = start_server(settings, register, [SERVICE_NAME], database.is_ready, extra_interceptors)
    running.on_stop.append(container.shutdown_resources)
    for worker in workers:
        running.on_stop.append(worker.stop)
        worker.start()  # the reconciler's first pass runs now: start-up resolves what a crash left
    logger.info(
        "order service {} listening on {} (database {}, product service {})",
        VERSION,
        running.address,
        database.redacted_url(),
        settings.product_service_target,
    )
    return running, container


def serve() -> None:
    serve_until_signalled("order", OrderSettings, lambda settings: start(settings)[0])
