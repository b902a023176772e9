"""The Order service, declared: what ``common.service`` starts and stops."""

from __future__ import annotations

from common import configuration, service
from common.auth.token_file import TokenFile
from common.events import container as events
from common.generated.eshop.order.v1 import order_pb2_grpc as pb_grpc
from order.container import OrderContainer
from order.presentation.access_policy import ORDER_ACCESS_POLICY
from order.presentation.servicer import SERVICE_NAME
from order.settings import OrderSettings


def check_token_file(settings: OrderSettings) -> None:
    """ORDER_PRODUCT_TOKEN_FILE must hold a token at start (a configuration problem otherwise); later
    changes are picked up per call."""
    if settings.product_token_file is None:
        return
    try:
        TokenFile(settings.product_token_file).current()
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise configuration.problem(settings, "product_token_file", ValueError(reason)) from error


ORDER = service.Service(
    name="order",
    settings=OrderSettings,
    container=OrderContainer,
    add_servicer=pb_grpc.add_OrderServiceServicer_to_server,
    service_names=[SERVICE_NAME],
    access_policy=lambda settings: ORDER_ACCESS_POLICY,
    # Made on the server's loop, with the Product channel they call through; the reconciler's first
    # pass runs at start, resolving what a crash left PENDING.
    workers=lambda container: [
        container.outbox_worker(),
        *events.workers(container.events()),
        container.reconciler_worker(),
        container.order_gauges(),
    ],
    # The events' counters too, broker or not.
    outcomes=lambda container: [container.outcomes(), container.events.metrics()],
    closing=lambda container: [container.product_channel().close, *events.closing(container.events())],
    checks=[check_token_file],
    describe=lambda settings: [f"product service {settings.product_service_target}"],
)


def serve() -> None:
    service.serve(ORDER)
