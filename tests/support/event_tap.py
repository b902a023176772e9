"""An outside consumer for the tests: a durable queue of its own bound to the events exchange, read on a
loop of its own in a thread, each message kept with every AMQP property and header as delivered. The
queue outlives the broker's restarts and the connections it closes (persistent messages wait in it),
and the tap's connection comes back by itself, so a test that stops the broker loses nothing here."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage


@dataclass(frozen=True)
class Received:
    routing_key: str
    body: bytes
    message_id: str
    type: str
    content_type: str
    correlation_id: str
    app_id: str
    timestamp: datetime | None
    delivery_mode: int
    headers: dict[str, Any]
    redelivered: bool

    @property
    def subject(self) -> str:
        return str(self.headers.get("cloudEvents:subject", ""))


class EventTap:
    def __init__(self, url: str, exchange: str, binding: str = "#") -> None:
        self._url, self._exchange, self._binding = url, exchange, binding
        self._received: list[Received] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="event-tap", daemon=True)
        self._thread.start()
        self._connection: aio_pika.abc.AbstractConnection | None = None
        asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(30)

    async def _open(self) -> None:
        self._connection = await aio_pika.connect_robust(self._url, timeout=10, reconnect_interval=0.5)
        channel = await self._connection.channel()
        # The services declare it too (the same arguments): whoever comes first makes it.
        exchange = await channel.declare_exchange(self._exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        self._queue = await channel.declare_queue(f"tap-{self._exchange}", durable=True)
        await self._queue.bind(exchange, self._binding)
        await self._queue.consume(self._on_message)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        received = Received(
            routing_key=message.routing_key or "",
            body=message.body,
            message_id=message.message_id or "",
            type=message.type or "",
            content_type=message.content_type or "",
            correlation_id=message.correlation_id or "",
            app_id=message.app_id or "",
            timestamp=message.timestamp,
            delivery_mode=int(message.delivery_mode or 0),
            headers=dict(message.headers or {}),
            redelivered=bool(message.redelivered),
        )
        with self._lock:
            self._received.append(received)
        await message.ack()

    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def wait_for(
        self, condition: Callable[[list[Received]], bool], timeout_s: float, what: str
    ) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while True:
            got = self.received()
            if condition(got):
                return got
            if time.monotonic() > deadline:
                kinds = [(r.type.rsplit(".", 1)[-1], r.subject[:8]) for r in got]
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; received {kinds}")
            time.sleep(0.05)

    def close(self) -> None:
        async def shut() -> None:
            if self._connection is not None:
                await self._queue.delete(if_unused=False, if_empty=False)
                await self._connection.close()

        # The broker may be gone (a test stopped it).
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shut(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
