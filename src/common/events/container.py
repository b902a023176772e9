"""The integration events' part of a composition root (docs/events.md), declared once for both services:
each service's container includes it (``providers.Container(EventsContainer, ...)``) with what differs
between them, its database and event outbox table, how its events are encoded and their types, and the
broker's ``app_id`` and ``source``.

With a broker configured, the units of work write the events their aggregates raised (``recorder``) and
the event worker publishes them; the worker is among the service's background workers and the broker's
connection among what it closes (``workers``, ``closing``: the connection is the worker's to make, in
the background, so neither a call nor the start waits for the broker). Without one, nothing is written,
no worker runs, and only the metrics are there (at 0).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from dependency_injector import containers, providers
from opentelemetry.metrics import Meter
from sqlalchemy import Table

from common.background import Wakeup
from common.clock import Clock
from common.db.database import Database
from common.db.unit_of_work import SqlUnitOfWork
from common.events.amqp import AmqpBroker
from common.events.metrics import EventMetrics
from common.events.publication import EventPublication
from common.events.recording import Encoder, recorder_if_configured
from common.outbox.backoff import lease_outlasting, outbox_backoff
from common.outbox.worker import OutboxWorker
from common.service import BackgroundWorker
from common.settings import ServerSettings


class EventsContainer(containers.DeclarativeContainer):
    settings: providers.Dependency[ServerSettings] = providers.Dependency(instance_of=ServerSettings)
    database: providers.Dependency[Database] = providers.Dependency()
    event_table: providers.Dependency[Table] = providers.Dependency(instance_of=Table)  # the event outbox
    clock: providers.Dependency[Clock] = providers.Dependency()
    meter: providers.Dependency[Meter] = providers.Dependency()
    encode: providers.Dependency[Encoder] = providers.Dependency()
    # The full message names the service publishes.
    event_types: providers.Dependency[Sequence[str]] = providers.Dependency()
    app_id: providers.Dependency[str] = providers.Dependency(instance_of=str)  # eshop-order, eshop-product
    source: providers.Dependency[str] = providers.Dependency(instance_of=str)  # /eshop/order, /eshop/product

    metrics = providers.Singleton(EventMetrics, meter=meter, event_types=event_types)
    backoff = providers.Factory(
        outbox_backoff,
        initial_s=settings.provided.events_initial_backoff_s,
        max_s=settings.provided.events_max_backoff_s,
    )
    broker = providers.Singleton(
        AmqpBroker,
        url=settings.provided.events_broker_url,
        exchange=settings.provided.events_exchange,
        app_id=app_id,
        source=source,
        timeout_s=settings.provided.events_publish_timeout_s,
        reconnect=backoff,
    )
    # Set by each commit that wrote events: the event worker publishes them at once.
    written = providers.Singleton(Wakeup)
    # The service's units of work take it; None with no broker configured.
    recorder = providers.Singleton(
        recorder_if_configured,
        broker_url=settings.provided.events_broker_url,
        encode=encode,
        wakeup=written.provided.set,
    )
    # The publisher's transactions touch the event outbox only: a plain unit of work, raising nothing.
    outbox_uow = providers.Factory(SqlUnitOfWork, database=database, event_table=event_table)
    publication = providers.Singleton(
        EventPublication,
        uow_factory=outbox_uow.provider,
        broker=broker,
        clock=clock,
        backoff=backoff,
        lease_s=providers.Callable(lease_outlasting, settings.provided.events_publish_timeout_s),
        retention_s=settings.provided.events_retention_s,
        published=metrics.provided.published,
    )
    worker = providers.Singleton(
        OutboxWorker,
        outbox=publication,
        poll_interval_s=settings.provided.events_poll_interval_s,
        name="event-outbox",
        entries="events",
        receiver="events broker",
        connected=publication.provided.connected,
        pause_while_disconnected=True,
        wakeup=written,
    )


def workers(events: EventsContainer) -> Sequence[BackgroundWorker]:
    """The event worker, with a broker configured; none without."""
    return [events.worker()] if events.settings().events_broker_url else []


def closing(events: EventsContainer) -> Sequence[Callable[[], Awaitable[None]]]:
    """The broker's connection, closed at stop, with a broker configured."""
    return [events.broker().close] if events.settings().events_broker_url else []
