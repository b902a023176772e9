"""The Product service's composition root: the only place that knows every concrete class."""

from __future__ import annotations

from dependency_injector import containers, providers
from opentelemetry.metrics import NoOpMeter

from common.behaviours import OwnedWork, default_pipeline
from common.clock import utcnow
from common.db.factory import database_resource
from common.events.container import EventsContainer
from common.mediator import Mediator, handler_table, register
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
from product.infrastructure.tables import event_outbox
from product.infrastructure.unit_of_work import SqlProductUnitOfWork
from product.presentation import events as wire_events
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
        concurrent=settings.provided.max_workers,
    )
    clock = providers.Object(utcnow)
    # common.service gives the service's meter at start (metrics endpoint, OTLP); no-op otherwise.
    meter = providers.Object(NoOpMeter("eshop"))
    outcomes = providers.Singleton(OtelStockOutcomes, meter=meter)
    catalogue_outcomes = providers.Singleton(OtelCatalogueOutcomes, meter=meter)

    # Integration events (docs/events.md, common.events.container): with a broker configured, each unit
    # of work writes the events its products raised to the event outbox, and the event worker publishes
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
        app_id=providers.Object("eshop-product"),
        source=providers.Object("/eshop/product"),
    )

    uow = providers.Factory(SqlProductUnitOfWork, database=database, events=events.recorder)
    read_uow = providers.Factory(SqlProductUnitOfWork, database=database, read_only=True)

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
        ProductGauges, meter=meter, uow_factory=read_uow.provider, events=events.metrics
    )
