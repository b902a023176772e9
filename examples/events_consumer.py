"""An example consumer of the eshop's integration events that processes each event exactly once.

It keeps, per customer, how many orders are confirmed and not cancelled and what they add up to, in a
SQLite file of its own. Delivery is at least once (a message may come again after a crash, a lost
acknowledgement or a publisher's retry), so the consumer deduplicates by ``message_id``: in one
transaction it records the id in ``processed_messages`` (a primary key: a repeat changes nothing) and
does its work; it acknowledges the message only after that transaction has committed. A crash before
the commit leaves the message unacknowledged, and it comes again; a crash after the commit and before
the acknowledgement brings it again too, and it is skipped. One consumer on one queue gets each order's
events in the order they were published.

    python examples/events_consumer.py --broker amqp://guest:guest@127.0.0.1:5672/ --database totals.db

Its queue (``--queue``, durable) is bound to the order events only; events published while it is
stopped wait there. It decodes the bodies with the stubs generated from protos/ (the installed
``eshop-grpc`` package's here; any other consumer compiles protos/ for its own language).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sqlite3
from decimal import Decimal
from pathlib import Path

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from common.generated.eshop.order.v1 import events_pb2

CONFIRMED = "eshop.order.v1.OrderConfirmed"
CANCELLED = "eshop.order.v1.OrderCancelled"
SCHEMA = """
CREATE TABLE IF NOT EXISTS processed_messages (message_id TEXT PRIMARY KEY, event_type TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS customer_totals (
    customer_id TEXT PRIMARY KEY, open_orders INTEGER NOT NULL, total_cents INTEGER NOT NULL
);
"""


def open_database(path: Path) -> sqlite3.Connection:
    database = sqlite3.connect(path, isolation_level=None)  # transactions are ours to say
    database.executescript(SCHEMA)
    return database


def process(database: sqlite3.Connection, message_id: str, event_type: str, body: bytes) -> bool:
    """The message's work and its id, in one transaction; False when the id was processed before."""
    database.execute("BEGIN IMMEDIATE")
    try:
        inserted = database.execute(
            "INSERT OR IGNORE INTO processed_messages (message_id, event_type) VALUES (?, ?)",
            (message_id, event_type),
        ).rowcount
        if inserted == 1:
            _apply(database, event_type, body)
        database.execute("COMMIT")
    except BaseException:
        database.execute("ROLLBACK")
        raise
    return inserted == 1


def _apply(database: sqlite3.Connection, event_type: str, body: bytes) -> None:
    if event_type == CONFIRMED:
        order = events_pb2.OrderConfirmed.FromString(body).order
        sign = 1
    elif event_type == CANCELLED:
        order = events_pb2.OrderCancelled.FromString(body).order
        if not order.items or not order.items[0].unit_price:
            return  # cancelled before it was ever confirmed: it was never counted
        sign = -1
    else:
        return
    cents = sum(int(Decimal(item.unit_price) * 100) * item.quantity for item in order.items)
    database.execute(
        "INSERT INTO customer_totals (customer_id, open_orders, total_cents) VALUES (?, ?, ?) "
        "ON CONFLICT (customer_id) DO UPDATE SET open_orders = open_orders + excluded.open_orders, "
        "total_cents = total_cents + excluded.total_cents",
        (order.customer_id, sign, sign * cents),
    )


async def consume(broker: str, exchange: str, queue_name: str, database: sqlite3.Connection) -> None:
    connection = await aio_pika.connect_robust(broker)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=10)
        events = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(queue_name, durable=True)
        for routing_key in (CONFIRMED, CANCELLED):
            await queue.bind(events, routing_key)
        print(f"consuming {queue_name} (bound to {exchange})", flush=True)

        async def on_message(message: AbstractIncomingMessage) -> None:
            # Acknowledged only once the work has committed; a failure leaves it to come again.
            fresh = process(database, message.message_id or "", message.type or "", message.body)
            await message.ack()
            print(
                f"{'processed' if fresh else 'skipped (seen)'} {message.type} {message.message_id}",
                flush=True,
            )

        await queue.consume(on_message)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--broker", required=True, metavar="URL")
    parser.add_argument("--exchange", default="eshop.events")
    parser.add_argument("--queue", default="example.customer-totals")
    parser.add_argument("--database", type=Path, default=Path("customer-totals.db"))
    args = parser.parse_args()
    database = open_database(args.database)
    with contextlib.closing(database):
        asyncio.run(consume(args.broker, args.exchange, args.queue, database))


if __name__ == "__main__":
    main()
