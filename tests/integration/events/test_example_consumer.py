"""examples/events_consumer.py, as documented: each event processed once whatever the redeliveries
(deduplicated by message_id in its own table), acknowledged after its work commits."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aio_pika
import pytest

from common.generated.eshop.order.v1 import order_pb2 as opb
from tests.support.cli import cli_env
from tests.support.event_tap import EventTap, Received
from tests.support.helpers import create_product, new_id, order_request, wait_until
from tests.support.rabbitmq_broker import PrivateRabbit
from tests.support.servers import Servers

pytestmark = pytest.mark.slow
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "events_consumer.py"


class Consumer:
    def __init__(self, broker: str, exchange: str, database: Path) -> None:
        self.database = database
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(EXAMPLE),
                "--broker",
                broker,
                "--exchange",
                exchange,
                "--database",
                str(database),
            ],
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        assert first.startswith("consuming "), first + self.process.stdout.read()
        self.lines: list[str] = []

    def read_until(self, text: str) -> None:
        assert self.process.stdout is not None
        while not any(text in line for line in self.lines):
            line = self.process.stdout.readline()
            assert line, f"the consumer ended before printing {text!r}: {self.lines}"
            self.lines.append(line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def consumer(rabbitmq: PrivateRabbit, exchange: str, tmp_path: Path) -> Iterator[Consumer]:
    running = Consumer(rabbitmq.url, exchange, tmp_path / "totals.db")
    try:
        yield running
    finally:
        running.stop()


def _publish_again(url: str, exchange: str, original: Received) -> None:
    """The same message once more, as a publisher's retry after a lost confirmation would send it."""

    async def publish() -> None:
        async with await aio_pika.connect(url) as connection:
            channel = await connection.channel()
            target = await channel.get_exchange(exchange)
            await target.publish(
                aio_pika.Message(
                    original.body,
                    message_id=original.message_id,
                    type=original.type,
                    headers=original.headers,
                    content_type=original.content_type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=original.routing_key,
            )

    asyncio.run(publish())


def test_the_example_consumer_processes_each_event_once(
    services: Servers, tap: EventTap, consumer: Consumer, rabbitmq: PrivateRabbit, exchange: str
) -> None:
    product_server = services.product()
    products = services.product_stub(product_server)
    orders = services.order_stub(services.order(product_server.port))
    pid = create_product(products, price="2.50", stock=100).product_id
    customer = new_id()
    kept = orders.CreateOrder(order_request(customer, (pid, 2)), timeout=10)
    dropped = orders.CreateOrder(order_request(customer, (pid, 4)), timeout=10)
    orders.CancelOrder(opb.CancelOrderRequest(order_id=dropped.order_id), timeout=10)
    got = tap.wait_for(lambda r: sum(m.app_id == "eshop-order" for m in r) == 3, 20, "three order events")
    first_confirmation = next(m for m in got if m.subject == kept.order_id)

    _publish_again(rabbitmq.url, exchange, first_confirmation)

    consumer.read_until(f"skipped (seen) eshop.order.v1.OrderConfirmed {first_confirmation.message_id}")
    wait_until(lambda: len(consumer.lines) >= 4, 10, "every event and the repeat")
    consumer.stop()
    with sqlite3.connect(consumer.database) as database:
        processed = database.execute("SELECT count(*) FROM processed_messages").fetchone()[0]
        totals = database.execute(
            "SELECT open_orders, total_cents FROM customer_totals WHERE customer_id = ?", (customer,)
        ).fetchone()
    assert processed == 3
    assert totals == (1, 500)  # the kept order only: 2 x 2.50, counted once
