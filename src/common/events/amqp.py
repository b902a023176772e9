"""The broker adapter: integration events published to RabbitMQ with aio-pika.

One connection and one channel with publisher confirms, made by the publishing task, never by a call.
The exchange (a durable topic exchange, no arguments) is declared on every connection, so it exists as
soon as a broker is reachable. While the broker is down or refusing, connection attempts follow a capped
exponential backoff with jitter and nothing is tried in between; a publication that fails (the
connection vanished, the broker nacked, no confirmation within the timeout) drops the connection, so
the next attempt starts afresh.

Each message is the contract's (docs/events.md): the routing key and ``type`` are the message's full
name, the body its serialization (``application/protobuf``), persistent, with the event's id as
``message_id`` (the same on every redelivery), the correlation id and ``traceparent`` of the call that
caused it, and the CloudEvents AMQP binding's headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime, timezone
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from loguru import logger
from pamqp.commands import Basic

from common.backoff import Backoff
from common.events.outbox import PendingEvent
from common.outbox.delivery import NotDelivered
from common.redaction import redacted

CONTENT_TYPE = "application/protobuf"
SPEC_VERSION = "1.0"


class NotConfirmed(Exception):
    """The broker answered a publication with a nack."""


def rfc3339(moment: datetime) -> str:
    """``2026-12-07T10:11:12.123456Z`` (CloudEvents' ``time``)."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def message_of(event: PendingEvent, *, app_id: str, source: str) -> aio_pika.Message:
    headers: dict[str, Any] = {
        "cloudEvents:specversion": SPEC_VERSION,
        "cloudEvents:id": str(event.event_id),
        "cloudEvents:source": source,
        "cloudEvents:type": event.event_type,
        "cloudEvents:subject": event.subject,
        "cloudEvents:time": rfc3339(event.time),
    }
    if event.trace_context:
        headers["traceparent"] = event.trace_context
    return aio_pika.Message(
        event.payload,
        headers=headers,
        content_type=CONTENT_TYPE,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(event.event_id),
        correlation_id=event.correlation_id,
        timestamp=event.time,
        type=event.event_type,
        app_id=app_id,
    )


class AmqpBroker:
    def __init__(
        self,
        url: str,
        exchange: str,
        *,
        app_id: str,
        source: str,
        timeout_s: float,
        reconnect: Backoff,
    ) -> None:
        self._url = url
        self._exchange_name = exchange
        self._app_id = app_id
        self._source = source
        self._timeout_s = timeout_s
        self._reconnect = reconnect
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._failures = 0
        self._next_attempt = 0.0  # time.monotonic() before which no connection is tried
        self._lock: asyncio.Lock | None = None

    @property
    def exchange(self) -> str:
        return self._exchange_name

    @property
    def connected(self) -> bool:
        return (
            self._exchange is not None
            and self._channel is not None
            and not self._channel.is_closed
            and self._connection is not None
            and not self._connection.is_closed
        )

    async def ready(self) -> bool:
        if self.connected:
            return True
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # the publications of one pass share one connection attempt
            if self.connected:
                return True
            if time.monotonic() < self._next_attempt:
                return False
            await self._drop()
            try:
                await asyncio.wait_for(self._connect(), self._timeout_s)
            except Exception as error:  # whatever the broker or network did: try later
                self._failed(error)
                return False
            if self._failures:
                logger.info("events broker {} reachable again", redacted(self._url))
            else:
                logger.info(
                    "events broker {}: exchange {} declared", redacted(self._url), self._exchange_name
                )
            self._failures = 0
            return True

    async def publish(self, event: PendingEvent, within_s: float | None) -> None:
        if not await self.ready():
            raise NotDelivered("the events broker is not reachable")
        assert self._exchange is not None
        message = message_of(event, app_id=self._app_id, source=self._source)
        timeout = self._timeout_s if within_s is None else min(within_s, self._timeout_s)
        exchange = self._exchange
        try:
            # Waits for the broker's confirmation: a closed channel or connection raises, and so does a
            # nack (aio-pika 10 raises it; 9, on Python 3.10, returns it).
            confirmation = await asyncio.wait_for(
                exchange.publish(message, routing_key=event.event_type, mandatory=False), timeout
            )
            if isinstance(confirmation, Basic.Nack | Basic.Reject):
                raise NotConfirmed(f"the broker refused the message ({type(confirmation).__name__})")
        except Exception as error:  # not confirmed, whatever the reason: later
            if self._exchange is exchange:  # not dropped already by another publication of the pass
                await self._drop()
                self._failed(error)
            raise NotDelivered(_said(error)) from error

    async def close(self) -> None:
        await self._drop()

    async def _connect(self) -> None:
        """The connection, its channel and the exchange, kept only all together: a connection made but
        not usable (the channel or the exchange refused, the time up) is closed here, not left open on
        the broker."""
        connection = await aio_pika.connect(self._url, timeout=self._timeout_s)
        try:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.declare_exchange(
                self._exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
        except BaseException:
            await _close(connection)
            raise
        self._connection, self._channel, self._exchange = connection, channel, exchange

    async def _drop(self) -> None:
        connection, self._connection, self._channel, self._exchange = self._connection, None, None, None
        if connection is not None:
            await _close(connection)

    def _failed(self, error: BaseException) -> None:
        self._failures += 1
        delay = self._reconnect.delay(self._failures)
        self._next_attempt = time.monotonic() + delay
        if self._failures == 1:
            logger.warning(
                "events broker {} not reachable or refusing ({}); events wait in the outbox, "
                "next attempt in {:.1f} s",
                redacted(self._url),
                _said(error),
                delay,
            )
        else:
            logger.debug(
                "events broker still not reachable ({}); next attempt in {:.1f} s", _said(error), delay
            )


async def _close(connection: AbstractConnection) -> None:
    if not connection.is_closed:
        # A broker that vanished may never answer the close: not waited for past a second.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connection.close(), 1.0)


def _said(error: BaseException) -> str:
    text = str(error).strip()
    if isinstance(error, asyncio.TimeoutError) or not text:
        return type(error).__name__ if not isinstance(error, asyncio.TimeoutError) else "no answer in time"
    return f"{type(error).__name__}: {text}"
