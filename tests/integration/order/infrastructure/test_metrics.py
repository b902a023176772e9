"""The Order service's gauges only read: each refresh runs in read-only transactions (on SQLite a write
one would queue behind every writer for the process's write lock), on the configured backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from dependency_injector import providers
from opentelemetry.metrics import NoOpMeter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from common import telemetry
from order.container import OrderContainer
from order.settings import OrderSettings


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.install(provider)
    yield exporter
    telemetry.install(None)


@pytest.fixture
def container(make_database_url: Callable[[str], str]) -> Iterator[OrderContainer]:
    settings = OrderSettings(
        listen_address="127.0.0.1:0",
        database_url=make_database_url("order"),
        product_service_target="127.0.0.1:1",
        events_broker_url="amqp://127.0.0.1:1/",  # the events' backlog is read too (never published)
    )
    made = OrderContainer(settings=providers.Object(settings), meter=providers.Object(NoOpMeter("test")))
    made.init_resources()
    yield made
    made.shutdown_resources()


async def test_the_gauges_read_in_read_only_transactions(
    container: OrderContainer, spans: InMemorySpanExporter
) -> None:
    await container.order_gauges().refresh()

    transactions = [span for span in spans.get_finished_spans() if span.name == "db.transaction"]
    assert len(transactions) == 3  # PENDING orders, the release outbox, the event outbox
    assert all(span.attributes and span.attributes["db.read_only"] is True for span in transactions)
