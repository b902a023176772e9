"""Delivering an outbox's due entries, whatever they are: claim them under a lease, send each (in the
trace and with the correlation id of the call that wrote it), then mark it done, or retry it later with
capped exponential backoff and jitter. What an entry is and how it is sent is a ``Delivery``; where
entries are kept is an ``OutboxStore`` in the service's unit of work."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from loguru import logger

from common import call_context, telemetry
from common.backoff import Backoff
from common.clock import Clock
from common.transactions import UnitOfWork


class OutboxEntry(Protocol):
    """An outbox row, as a delivery sees it."""

    @property
    def entry_id(self) -> int: ...
    @property
    def attempts(self) -> int: ...
    @property
    def next_attempt_at(self) -> datetime: ...
    @property
    def correlation_id(self) -> str: ...
    @property
    def trace_context(self) -> str: ...


@dataclass(frozen=True)
class OutboxStats:
    waiting: int
    oldest: datetime | None


E = TypeVar("E", bound=OutboxEntry)
E_contra = TypeVar("E_contra", bound=OutboxEntry, contravariant=True)
U = TypeVar("U", bound=UnitOfWork)


class OutboxStore(Protocol[E]):
    """Where a unit of work keeps one kind of entry."""

    def due(self, now: datetime, limit: int) -> list[E]:
        """Entries to deliver now, at most ``limit``, in the order they must be delivered."""
        ...

    def claim(self, entry: E, until: datetime) -> bool:
        """Take ``entry`` for delivery until ``until`` (a lease); False if another worker took it."""
        ...

    def done(self, entry_id: int, now: datetime) -> None: ...
    def retry_later(self, entry_id: int, attempts: int, at: datetime, error: str) -> None: ...
    def retry_now(self, now: datetime) -> int:
        """Every entry that has failed and waits for a later attempt is due at ``now``; how many."""
        ...

    def stats(self) -> OutboxStats:
        """Entries not delivered yet, and when the oldest was written."""
        ...


class NotDelivered(Exception):
    """The receiver did not acknowledge the entry (down, refusing, too slow): it is retried later."""


class Delivery(Protocol[E_contra]):
    """One kind of entry: how it is sent, and what is said and counted about it."""

    failure_log_level: str
    span_kind: str  # "internal", or "producer" for a message published to a broker

    def describe(self, entry: E_contra) -> str:
        """The entry for a log line: "stock release for order …"."""
        ...

    def log_extras(self, entry: E_contra) -> dict[str, str]: ...
    def span(self, entry: E_contra) -> tuple[str, dict[str, str]]:
        """The name and attributes of the span of one attempt."""
        ...

    async def send(self, entry: E_contra, within_s: float | None) -> None:
        """Deliver ``entry`` in at most ``within_s`` (None: the sender's own timeout); NotDelivered when
        the receiver did not acknowledge it."""
        ...

    def delivered(self, entry: E_contra) -> None:
        """After the entry is marked done (committed)."""
        ...

    def failed(self, entry: E_contra) -> None:
        """After an attempt that did not deliver."""
        ...


class OutboxDelivery(Generic[U, E]):
    def __init__(
        self,
        uow_factory: Callable[[], U],
        store: Callable[[U], OutboxStore[E]],
        delivery: Delivery[E],
        clock: Clock,
        *,
        backoff: Backoff,
        lease_s: float,
    ) -> None:
        self._uow_factory = uow_factory
        self._store = store
        self._delivery = delivery
        self._clock = clock
        self._backoff = backoff
        self._lease = timedelta(seconds=lease_s)

    async def deliver_due(self, limit: int = 50) -> int:
        """Deliver what is due and not leased by another worker, the entries of one pass at the same
        time; returns how many were delivered."""
        now = self._clock()
        reader = self._uow_factory()
        due = await reader.run(lambda: self._store(reader).due(now, limit))
        if not due:
            return 0
        uow = self._uow_factory()
        claimed = await uow.run(self._claim, uow, due, now + self._lease)
        results = await asyncio.gather(*(self.attempt(entry) for entry in claimed), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            # Marking one done failed (the database went away): it stays leased, and is sent again
            # once the lease is over. The others' results stand.
            raise failures[0]
        return sum(1 for r in results if r is True)

    async def attempt(self, entry: E, within_s: float | None = None) -> bool:
        """One attempt, of at most ``within_s`` (None: the sender's own timeout); True when delivered
        (and marked done). Never raises for an outage of the receiver."""
        name, attributes = self._delivery.span(entry)
        trace = telemetry.resumed(entry.trace_context, name, attributes, kind=self._delivery.span_kind)
        with call_context.correlation_bound(entry.correlation_id), trace:
            try:
                await self._delivery.send(entry, within_s)
            except NotDelivered as failure:
                self._delivery.failed(entry)
                await self._retry_later(entry, str(failure))
                return False
            uow = self._uow_factory()
            await uow.run(self._done, uow, entry.entry_id, self._clock())
            self._delivery.delivered(entry)
            return True

    async def retry_waiting_now(self) -> int:
        """Make every entry waiting out its backoff due now (the receiver answers again); returns how
        many. One being delivered by another worker may be delivered twice meanwhile: deliveries are
        at least once, and receivers take a repeat (idempotent calls, consumers that skip an id seen)."""
        uow = self._uow_factory()
        return await uow.run(self._retry_now, uow, self._clock())

    async def stats(self) -> OutboxStats:
        uow = self._uow_factory()
        return await uow.run(lambda: self._store(uow).stats())

    async def _retry_later(self, entry: E, error: str) -> None:
        attempts = entry.attempts + 1
        delay = self._backoff.delay(attempts)
        at: datetime = self._clock() + timedelta(seconds=delay)
        uow = self._uow_factory()
        await uow.run(self._schedule_retry, uow, entry.entry_id, attempts, at, error)
        logger.bind(**self._delivery.log_extras(entry)).log(
            self._delivery.failure_log_level,
            "{} not acknowledged ({}); attempt {} failed, next in {:.1f} s",
            self._delivery.describe(entry),
            error,
            attempts,
            delay,
        )

    # The transactions of a delivery: each a short synchronous function run by the unit of work.

    def _claim(self, uow: U, entries: Sequence[E], until: datetime) -> list[E]:
        store = self._store(uow)
        claimed = [entry for entry in entries if store.claim(entry, until)]
        uow.commit()
        return claimed

    def _done(self, uow: U, entry_id: int, now: datetime) -> None:
        self._store(uow).done(entry_id, now)
        uow.commit()

    def _retry_now(self, uow: U, now: datetime) -> int:
        made_due = self._store(uow).retry_now(now)
        uow.commit()
        return made_due

    def _schedule_retry(self, uow: U, entry_id: int, attempts: int, at: datetime, error: str) -> None:
        self._store(uow).retry_later(entry_id, attempts, at, error)
        uow.commit()
