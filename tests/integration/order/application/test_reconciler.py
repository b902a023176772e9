"""The reconciler resolves an abandoned order in the trace of the CreateOrder that left it PENDING:
the order keeps that call's traceparent (placed with it; stored by migration 0003's column) on the
configured backend (SQLite or PostgreSQL), and the resolution's span resumes it. The event the
resolution raises carries the correlation id the reconciler's work logs with."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from common import telemetry
from common.backoff import Backoff
from common.clock import utcnow
from common.db.database import Database
from common.events.recording import EventRecorder
from order.application.product_client import ReservationOutcome, Reserved
from order.application.reconciler import PendingOrderReconciler
from order.application.stock_releases import StockReleases
from order.domain.model import Order, OrderLine, OrderStatus
from order.infrastructure.unit_of_work import SqlOrderUnitOfWork
from order.presentation import events
from tests.support.logs import LogLine


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """An SDK provider recording in memory, installed for this test only."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.install(provider)
    yield exporter
    telemetry.install(None)


def _place(uow: SqlOrderUnitOfWork, order: Order) -> bool:
    placed = uow.orders.add(order)
    uow.commit()
    return placed


class NothingHeld:
    """The Product service's answer for an order whose reservation never landed (the port, not gRPC)."""

    async def reserve(self, order_id: UUID, lines: Sequence[OrderLine]) -> ReservationOutcome:
        raise AssertionError("the reconciler never reserves")

    async def held_reservation(self, order_id: UUID) -> Reserved | None:
        return None

    async def release(self, order_id: UUID) -> bool:
        return False


async def test_the_reconciler_resolves_an_order_in_the_trace_of_the_call_that_placed_it(
    order_database: Database, spans: InMemorySpanExporter
) -> None:
    placed_at = utcnow() - timedelta(seconds=60)
    with telemetry.tracer("test").start_as_current_span("CreateOrder") as create_order:
        traced = telemetry.current_trace_context()  # what the servicer puts in the command's origin
        order = Order.place(uuid4(), uuid4(), (OrderLine(uuid4(), 1),), placed_at, None, trace_context=traced)
        uow = SqlOrderUnitOfWork(order_database)
        assert await uow.run(_place, uow, order)  # as CreateOrder does: in a db.transaction span
    client = NothingHeld()
    releases = StockReleases(lambda: SqlOrderUnitOfWork(order_database), client, utcnow, Backoff(), 5.0)
    reconciler = PendingOrderReconciler(
        lambda: SqlOrderUnitOfWork(order_database), client, releases, utcnow, 30.0
    )

    assert await reconciler.run_once() == 1

    (resolve,) = [s for s in spans.get_finished_spans() if s.name == "eshop.reconciler.resolve"]
    placed = create_order.get_span_context()
    in_call = {s.context.span_id for s in spans.get_finished_spans() if s.context.trace_id == placed.trace_id}
    assert resolve.context.trace_id == placed.trace_id
    assert resolve.parent is not None and resolve.parent.span_id in in_call  # a child, not a link
    with SqlOrderUnitOfWork(order_database) as uow:
        resolved = uow.orders.get(order.order_id)
    assert resolved is not None and resolved.status is OrderStatus.REJECTED


def test_an_order_placed_without_a_trace_keeps_no_trace_context(order_database: Database) -> None:
    order = Order.place(uuid4(), uuid4(), (OrderLine(uuid4(), 1),), utcnow(), None)
    with SqlOrderUnitOfWork(order_database) as uow:
        assert uow.orders.add(order)
        uow.commit()
    with SqlOrderUnitOfWork(order_database) as uow:
        stored = uow.orders.get(order.order_id)
    assert stored is not None and stored.trace_context is None


async def test_the_event_the_reconciler_causes_carries_the_id_its_work_logs_with(
    order_database: Database, logs: list[LogLine]
) -> None:
    """Background work has no caller's x-correlation-id: its event carries the id the reconciler binds
    to its log lines (the contract: never empty), not one made up at commit nor none."""
    order = Order.place(uuid4(), uuid4(), (OrderLine(uuid4(), 1),), utcnow() - timedelta(seconds=60), None)
    uow = SqlOrderUnitOfWork(order_database)
    assert await uow.run(_place, uow, order)
    recorder = EventRecorder(events.encode)

    def publishing_uow() -> SqlOrderUnitOfWork:
        return SqlOrderUnitOfWork(order_database, events=recorder)

    client = NothingHeld()
    releases = StockReleases(publishing_uow, client, utcnow, Backoff(), 5.0)
    assert await PendingOrderReconciler(publishing_uow, client, releases, utcnow, 30.0).run_once() == 1

    with SqlOrderUnitOfWork(order_database) as reader:
        (event,) = reader.events.due(utcnow(), 10)
    resolved = [line for line in logs if "resolved as" in line.message]
    assert event.event_type == "eshop.order.v1.OrderRejected"
    assert event.correlation_id == f"reconcile:{order.order_id}"
    assert [line.correlation_id for line in resolved] == [event.correlation_id]
