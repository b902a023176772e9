"""The broker adapter against a real RabbitMQ: a connection that is made but cannot be used (its exchange
cannot be declared) is closed again, not left open on the broker until the process ends."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import pytest

from common.backoff import Backoff
from common.events.amqp import AmqpBroker
from tests.support.helpers import wait_until
from tests.support.rabbitmq_broker import PrivateRabbit

pytestmark = [pytest.mark.slow, pytest.mark.once]  # a RabbitMQ node; the backend plays no part


def _connections(rabbitmq: PrivateRabbit) -> int:
    return len([line for line in rabbitmq.ctl("list_connections", "pid").splitlines() if line.strip()])


async def _declare_direct(url: str, name: str) -> None:
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel()
        await channel.declare_exchange(name, aio_pika.ExchangeType.DIRECT, durable=True)


async def _connections_left(rabbitmq: PrivateRabbit, exchange: str) -> int:
    """How many connections the broker still has once a connection attempt failed (on the loop that
    made it, still running: a loop's end would close whatever it left)."""
    broker = AmqpBroker(
        rabbitmq.url, exchange, app_id="eshop-test", source="/test", timeout_s=10, reconnect=Backoff(60, 60)
    )
    assert await broker.ready() is False
    deadline = asyncio.get_running_loop().time() + 10
    while (
        left := await asyncio.to_thread(_connections, rabbitmq)
    ) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
    return left


def test_a_connection_whose_exchange_cannot_be_declared_is_closed(rabbitmq: PrivateRabbit) -> None:
    exchange = f"eshop.events.test-{uuid.uuid4().hex[:10]}"
    asyncio.run(_declare_direct(rabbitmq.url, exchange))  # the adapter's topic declaration is refused
    wait_until(lambda: _connections(rabbitmq) == 0, 30, "no connection to the broker")

    assert asyncio.run(_connections_left(rabbitmq, exchange)) == 0
