"""The Product service's composition root: the only place that knows every concrete class."""

from __future__ import annotations

from dependency_injector import containers, providers
from opentelemetry.metrics import NoOpMeter

from common.background import Wakeup
from common.behaviours import OwnedWork, default_pipeline
from common.clock import utcnow
from common.db.factory import database_resource
from common.events.amqp import AmqpBroker
from common.events.metrics import EventMetrics
from common.events.publication import EventPublication
from common.events.recording import recorder_if_configured
from common.mediator import Mediator, handler_table, register
from common.outbox.backoff import lease_outlasting, outbox_backoff
from common.outbox.worker import OutboxWorker
from product.application import messages as m
from product.application.change_handlers import (
    DeleteProductHandler,
    UndeleteProductHandler,
    UpdateProductHandler,
)
from product.application.product_handlers import (
    BatchGetProductsHandler,
    CreateProductHandler,
    GetProductHandler,
    ListProductsHandler,
    RestockProductHandler,
)
from product.application.stock_handlers import GetReservationHandler, ReleaseStockHandler, ReserveStockHandler
from product.infrastructure.metrics import OtelCatalogueOutcomes, OtelStockOutcomes, ProductGauges
from product.infrastructure.schema import MIGRATIONS
from product.infrastructure.unit_of_work import SqlProductUnitOfWork
from product.presentation import events
from product.presentation.servicer import ProductServicer
from product.settings import ProductSettings


class ProductContainer(containers.DeclarativeContainer):
    settings = providers.Singleton(ProductSettings)
    database = providers.Resource(
        database_resource,
        url=settings.provided.database_url,
        pool_size=settings.provided.db_pool_size,
        max_overflow=settings.provided.db_max_overflow,
        migrate=providers.Callable(MIGRATIONS.on_start, settings.provided.migrate_on_start),
        threads=settings.provided.max_workers,
    )
    clock = providers.Object(utcnow)
    # common.service gives the service's meter at start (metrics endpoint, OTLP); no-op otherwise.
    meter = providers.Object(NoOpMeter("eshop"))
    outcomes = providers.Singleton(OtelStockOutcomes, meter=meter)
    catalogue_outcomes = providers.Singleton(OtelCatalogueOutcomes, meter=meter)

    # Integration events (docs/events.md): with a broker configured, each unit of work writes the events
    # its products raised to the event outbox, and the event worker publishes them; without, neither.
    event_metrics = providers.Singleton(EventMetrics, meter=meter, event_types=events.EVENT_TYPES)
    broker = providers.Singleton(
        AmqpBroker,
        url=settings.provided.events_broker_url,
        exchange=settings.provided.events_exchange,
        app_id="eshop-product",
        source="/eshop/product",
        timeout_s=settings.provided.events_publish_timeout_s,
        reconnect=providers.Factory(
            outbox_backoff,
            initial_s=settings.provided.events_initial_backoff_s,
            max_s=settings.provided.events_max_backoff_s,
        ),
    )
    # Set by each commit that wrote events: the event worker publishes them at once.
    events_written = providers.Singleton(Wakeup)
    event_recorder = providers.Singleton(
        recorder_if_configured,
        broker_url=settings.provided.events_broker_url,
        encode=providers.Object(events.encode),
        wakeup=events_written.provided.set,
    )

    uow = providers.Factory(SqlProductUnitOfWork, database=database, events=event_recorder)
    read_uow = providers.Factory(SqlProductUnitOfWork, database=database, read_only=True)

    event_publication = providers.Singleton(
        EventPublication,
        uow_factory=uow.provider,
        broker=broker,
        clock=clock,
        backoff=providers.Factory(
            outbox_backoff,
            initial_s=settings.provided.events_initial_backoff_s,
            max_s=settings.provided.events_max_backoff_s,
        ),
        lease_s=providers.Callable(lease_outlasting, settings.provided.events_publish_timeout_s),
        retention_s=settings.provided.events_retention_s,
        published=event_metrics.provided.published,
    )
    event_worker = providers.Singleton(
        OutboxWorker,
        outbox=event_publication,
        poll_interval_s=settings.provided.events_poll_interval_s,
        name="event-outbox",
        entries="events",
        receiver="events broker",
        connected=event_publication.provided.connected,
        pause_while_disconnected=True,
        wakeup=events_written,
    )

    # Message type -> handler factory; the mediator builds a fresh handler (and unit of work) per call.
    # ``register`` holds each handler to its message's type and result (mypy checks this table).
    handlers = providers.Callable(
        handler_table,
        register(m.CreateProduct, providers.Factory(CreateProductHandler, uow=uow, clock=clock)),
        register(m.RestockProduct, providers.Factory(RestockProductHandler, uow=uow, clock=clock)),
        register(
            m.UpdateProduct,
            providers.Factory(UpdateProductHandler, uow=uow, clock=clock, outcomes=catalogue_outcomes),
        ),
        register(
            m.DeleteProduct,
            providers.Factory(DeleteProductHandler, uow=uow, clock=clock, outcomes=catalogue_outcomes),
        ),
        register(
            m.UndeleteProduct,
            providers.Factory(UndeleteProductHandler, uow=uow, clock=clock, outcomes=catalogue_outcomes),
        ),
        register(
            m.ReserveStock, providers.Factory(ReserveStockHandler, uow=uow, clock=clock, outcomes=outcomes)
        ),
        register(
            m.ReleaseStock, providers.Factory(ReleaseStockHandler, uow=uow, clock=clock, outcomes=outcomes)
        ),
        register(m.GetProduct, providers.Factory(GetProductHandler, uow=read_uow)),
        register(m.ListProducts, providers.Factory(ListProductsHandler, uow=read_uow)),
        register(m.BatchGetProducts, providers.Factory(BatchGetProductsHandler, uow=read_uow)),
        register(m.GetReservation, providers.Factory(GetReservationHandler, uow=read_uow)),
    )
    # The handlers' work that outlives its call (shielded); the service drains it at stop.
    owned_work = providers.Singleton(OwnedWork)
    behaviours = providers.Callable(default_pipeline, owned=owned_work)
    mediator = providers.Singleton(Mediator, handlers=handlers, behaviours=behaviours)
    servicer = providers.Singleton(ProductServicer, mediator=mediator)
    product_gauges = providers.Singleton(
        ProductGauges, meter=meter, uow_factory=read_uow.provider, events=event_metrics
    )
