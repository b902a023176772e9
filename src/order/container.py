"""The Order service's composition root: the only place that knows every concrete class."""

from __future__ import annotations

from dependency_injector import containers, providers
from opentelemetry.metrics import NoOpMeter

from common.background import PeriodicWorker
from common.behaviours import OwnedWork, default_pipeline
from common.clock import utcnow
from common.db.factory import database_resource
from common.events.container import EventsContainer
from common.grpc.service_token import ServiceToken
from common.mediator import Mediator, handler_table, register
from common.outbox.backoff import lease_outlasting, outbox_backoff
from common.outbox.worker import OutboxWorker
from order.application import messages as m
from order.application.order_handlers import (
    CancelOrderHandler,
    CreateOrderHandler,
    GetOrderHandler,
    ListOrdersHandler,
)
from order.application.reconciler import PendingOrderReconciler
from order.application.stock_releases import StockReleases
from order.infrastructure.grpc_product_client import (
    ChannelSecurity,
    GrpcProductClient,
    Reconnect,
    RetryPolicy,
    connection_check,
    open_channel,
)
from order.infrastructure.metrics import OrderGauges, OtelOrderOutcomes
from order.infrastructure.schema import MIGRATIONS
from order.infrastructure.tables import event_outbox
from order.infrastructure.unit_of_work import SqlOrderUnitOfWork
from order.presentation import events as wire_events
from order.presentation.servicer import OrderServicer
from order.settings import OrderSettings


def _retry_policy(settings: OrderSettings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.product_retry_max_attempts,
        initial_backoff_s=settings.product_retry_initial_backoff_s,
        max_backoff_s=settings.product_retry_max_backoff_s,
        backoff_multiplier=settings.product_retry_backoff_multiplier,
    )


class OrderContainer(containers.DeclarativeContainer):
    settings = providers.Singleton(OrderSettings)
    database = providers.Resource(
        database_resource,
        url=settings.provided.database_url,
        pool_size=settings.provided.db_pool_size,
        max_overflow=settings.provided.db_max_overflow,
        migrate=providers.Callable(MIGRATIONS.on_start, settings.provided.migrate_on_start),
        concurrent=settings.provided.max_workers,
    )
    clock = providers.Object(utcnow)
    # common.service gives the service's meter at start (metrics endpoint, OTLP); no-op otherwise.
    meter = providers.Object(NoOpMeter("eshop"))
    outcomes = providers.Singleton(OtelOrderOutcomes, meter=meter)

    # Integration events (docs/events.md, common.events.container): with a broker configured, each unit
    # of work writes the events its orders raised to the event outbox, and the event worker publishes
    # them; without, neither.
    events = providers.Container(
        EventsContainer,
        settings=settings,
        database=database,
        event_table=providers.Object(event_outbox),
        clock=clock,
        meter=meter,
        encode=providers.Object(wire_events.encode),
        event_types=providers.Object(wire_events.EVENT_TYPES),
        app_id=providers.Object("eshop-order"),
        source=providers.Object("/eshop/order"),
    )

    uow = providers.Factory(SqlOrderUnitOfWork, database=database, events=events.recorder)
    read_uow = providers.Factory(SqlOrderUnitOfWork, database=database, read_only=True)

    # An aio channel: made on the server's loop (the first use is there), closed at stop (order.server).
    product_channel = providers.Singleton(
        open_channel,
        target=settings.provided.product_service_target,
        policy=providers.Factory(_retry_policy, settings=settings),
        security=providers.Factory(
            ChannelSecurity,
            ca_file=settings.provided.product_tls_ca_file,
            cert_file=settings.provided.product_tls_cert_file,
            key_file=settings.provided.product_tls_key_file,
            server_name=settings.provided.product_tls_server_name,
        ),
        meter=meter,
        reconnect=providers.Factory(
            Reconnect,
            initial_backoff_s=settings.provided.product_reconnect_initial_backoff_s,
            max_backoff_s=settings.provided.product_reconnect_max_backoff_s,
        ),
    )
    # The Order service's own token for the Product service: one identity for the handlers, the outbox
    # worker and the reconciler, which all call through this client.
    product_identity = providers.Singleton(ServiceToken.from_file, settings.provided.product_token_file)
    product_client = providers.Singleton(
        GrpcProductClient,
        channel=product_channel,
        timeout_s=settings.provided.product_call_timeout_s,
        identity=product_identity,
    )
    releases = providers.Singleton(
        StockReleases,
        uow_factory=uow.provider,
        product_client=product_client,
        clock=clock,
        backoff=providers.Factory(
            outbox_backoff,
            initial_s=settings.provided.outbox_initial_backoff_s,
            max_s=settings.provided.outbox_max_backoff_s,
        ),
        lease_s=providers.Callable(lease_outlasting, settings.provided.product_call_timeout_s),
        attempt_timeout_s=settings.provided.release_attempt_timeout_s,
        outcomes=outcomes,
    )
    order_gauges = providers.Singleton(
        OrderGauges, meter=meter, uow_factory=read_uow.provider, events=events.metrics
    )
    outbox_worker = providers.Singleton(
        OutboxWorker,
        outbox=releases,
        poll_interval_s=settings.provided.outbox_poll_interval_s,
        name="release-outbox",
        entries="releases",
        receiver="product service",
        connected=providers.Callable(connection_check, product_channel),
    )
    reconciler = providers.Singleton(
        PendingOrderReconciler,
        uow_factory=uow.provider,
        product_client=product_client,
        releases=releases,
        clock=clock,
        pending_timeout_s=settings.provided.reconcile_pending_after_s,
        outcomes=outcomes,
    )
    reconciler_worker = providers.Singleton(
        PeriodicWorker,
        name="pending-order-reconciler",
        step=reconciler.provided.run_once,
        interval_s=settings.provided.reconcile_interval_s,
    )

    # Message type -> handler factory; the mediator builds a fresh handler (and unit of work) per call.
    # ``register`` holds each handler to its message's type and result (mypy checks this table).
    handlers = providers.Callable(
        handler_table,
        register(
            m.CreateOrder,
            providers.Factory(
                CreateOrderHandler,
                uow=uow,
                products=product_client,
                releases=releases,
                clock=clock,
                outcomes=outcomes,
            ),
        ),
        register(
            m.CancelOrder,
            providers.Factory(CancelOrderHandler, uow=uow, releases=releases, clock=clock, outcomes=outcomes),
        ),
        register(m.GetOrder, providers.Factory(GetOrderHandler, uow=read_uow)),
        register(m.ListOrders, providers.Factory(ListOrdersHandler, uow=read_uow)),
    )
    # The handlers' work that outlives its call (shielded); the service drains it at stop.
    owned_work = providers.Singleton(OwnedWork)
    behaviours = providers.Callable(default_pipeline, owned=owned_work)
    mediator = providers.Singleton(Mediator, handlers=handlers, behaviours=behaviours)
    servicer = providers.Singleton(OrderServicer, mediator=mediator)
