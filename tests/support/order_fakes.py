"""In-memory fakes of the Order ports (application/storage.py) with the SQL adapters' semantics.

``FakeOrderStore`` holds the *committed* state, shared by every unit of work made from it (as a database
is). A ``FakeOrderUnitOfWork`` opens a working copy lazily on first use, like ``SqlUnitOfWork``;
``commit`` publishes it and ends the transaction, ``rollback`` (and leaving the block) throws it away.
Saves are compare-and-set on ``Order.loaded_status``, and ``add`` refuses a duplicate request_id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from common.call_context import Origin
from common.outbox.backoff import outbox_backoff
from common.transactions import AfterCommit
from order.application.storage import (
    OrderRepository,
    OutboxStats,
    PendingRelease,
    PendingStats,
    ReleaseOutbox,
)
from order.domain.model import Order, OrderStatus

# The release outbox's settings in the unit tests: a lease and a backoff a FixedClock steps through.
LEASE_S = 30.0
BACKOFF = outbox_backoff(initial_s=2.0, max_s=20.0)

T = TypeVar("T")


@dataclass
class State:
    orders: dict[UUID, Order] = field(default_factory=dict)
    outbox: dict[int, PendingRelease] = field(default_factory=dict)
    last_errors: dict[int, str] = field(default_factory=dict)
    next_entry_id: int = 1

    def copy(self) -> State:
        return State(dict(self.orders), dict(self.outbox), dict(self.last_errors), self.next_entry_id)


class FakeOrderStore:
    """The committed state: what another transaction (or the test) reads."""

    def __init__(self) -> None:
        self.committed = State()
        self.commits = 0

    def seed(self, *orders: Order) -> None:
        for order in orders:
            self.committed.orders[order.order_id] = replace(order, loaded_status=None)

    def order(self, order_id: UUID) -> Order:
        return self.committed.orders[order_id]

    @property
    def orders(self) -> list[Order]:
        return list(self.committed.orders.values())

    @property
    def outbox(self) -> list[PendingRelease]:
        return sorted(self.committed.outbox.values(), key=lambda e: e.entry_id)

    def unit_of_work(self) -> FakeOrderUnitOfWork:
        return FakeOrderUnitOfWork(self)


class FakeOrderRepository:
    def __init__(self, state: Callable[[], State]) -> None:
        self._state = state

    def add(self, order: Order) -> bool:
        orders = self._state().orders
        if order.request_id is not None and any(
            (o.customer_id, o.request_id) == (order.customer_id, order.request_id) for o in orders.values()
        ):
            return False
        orders[order.order_id] = replace(order, loaded_status=None)
        return True

    def get(self, order_id: UUID) -> Order | None:
        return _loaded(self._state().orders.get(order_id))

    def get_by_request_id(self, customer_id: UUID, request_id: UUID) -> Order | None:
        found = [
            o
            for o in self._state().orders.values()
            if (o.customer_id, o.request_id) == (customer_id, request_id)
        ]
        return _loaded(found[0]) if found else None

    def save(self, order: Order) -> bool:
        orders = self._state().orders
        stored = orders.get(order.order_id)
        expected = order.loaded_status or OrderStatus.PENDING
        if stored is None or stored.status is not expected:
            return False
        orders[order.order_id] = replace(order, loaded_status=None)
        return True

    def pending_stats(self) -> PendingStats:
        pending = [o.update_time for o in self._state().orders.values() if o.status is OrderStatus.PENDING]
        return PendingStats(len(pending), min(pending, default=None))

    def pending_since_before(self, cutoff: datetime, limit: int) -> list[Order]:
        stale = [
            o
            for o in self._state().orders.values()
            if o.status is OrderStatus.PENDING and o.update_time < cutoff
        ]
        return [_loaded_order(o) for o in sorted(stale, key=lambda o: o.update_time)[:limit]]

    def list_newest_first(
        self, customer_id: UUID | None, before: tuple[datetime, UUID] | None, limit: int
    ) -> list[Order]:
        chosen = [
            o
            for o in self._state().orders.values()
            if (customer_id is None or o.customer_id == customer_id)
            and (before is None or (o.create_time, str(o.order_id)) < (before[0], str(before[1])))
        ]
        chosen.sort(key=lambda o: (o.create_time, str(o.order_id)), reverse=True)
        return [_loaded_order(o) for o in chosen[:limit]]


class FakeReleaseOutbox:
    def __init__(self, state: Callable[[], State]) -> None:
        self._state = state

    def add(
        self, order_id: UUID, origin: Origin, now: datetime, first_attempt_at: datetime
    ) -> PendingRelease:
        state = self._state()
        entry = PendingRelease(
            state.next_entry_id,
            order_id,
            origin.correlation_id,
            0,
            first_attempt_at,
            now,
            origin.trace_context,
        )
        state.outbox[entry.entry_id] = entry
        state.next_entry_id += 1
        return entry

    def due(self, now: datetime, limit: int) -> list[PendingRelease]:
        due = [e for e in self._state().outbox.values() if e.next_attempt_at <= now]
        return sorted(due, key=lambda e: e.next_attempt_at)[:limit]

    def claim(self, entry: PendingRelease, until: datetime) -> bool:
        outbox = self._state().outbox
        stored = outbox.get(entry.entry_id)
        if stored is None or stored.next_attempt_at != entry.next_attempt_at:
            return False
        outbox[entry.entry_id] = replace(stored, next_attempt_at=until)
        return True

    def done(self, entry_id: int, now: datetime) -> None:
        self._state().outbox.pop(entry_id, None)

    def retry_later(self, entry_id: int, attempts: int, at: datetime, error: str) -> None:
        state = self._state()
        state.outbox[entry_id] = replace(state.outbox[entry_id], attempts=attempts, next_attempt_at=at)
        state.last_errors[entry_id] = error

    def retry_now(self, now: datetime) -> int:
        outbox = self._state().outbox
        waiting = [e for e in outbox.values() if e.attempts > 0 and e.next_attempt_at > now]
        for entry in waiting:
            outbox[entry.entry_id] = replace(entry, next_attempt_at=now)
        return len(waiting)

    def stats(self) -> OutboxStats:
        entries = list(self._state().outbox.values())
        return OutboxStats(len(entries), min((e.created_at for e in entries), default=None))


class FakeOrderUnitOfWork:
    def __init__(self, store: FakeOrderStore) -> None:
        self._store = store
        self._working: State | None = None
        self._after_commit = AfterCommit()
        self.orders: OrderRepository = FakeOrderRepository(self._state)
        self.outbox: ReleaseOutbox = FakeReleaseOutbox(self._state)

    def _state(self) -> State:
        if self._working is None:
            self._working = self._store.committed.copy()
        return self._working

    @property
    def in_transaction(self) -> bool:
        return self._working is not None

    def __enter__(self) -> FakeOrderUnitOfWork:
        return self

    async def run(self, body: Callable[..., T], *args: Any) -> T:
        """As the SQL adapter: ``body`` inside this unit of work's block (here inline, like SQLite)."""
        with self:
            return body(*args)

    def __exit__(self, *exc_info: object) -> None:
        self.rollback()

    def commit(self) -> None:
        if self._working is not None:
            self._store.committed = self._working
            self._store.commits += 1
        self._working = None
        self._after_commit.run()

    def after_commit(self, action: Callable[[], None]) -> None:
        self._after_commit.add(action)

    def rollback(self) -> None:
        self._working = None
        self._after_commit.discard()


def _loaded(order: Order | None) -> Order | None:
    return None if order is None else _loaded_order(order)


def _loaded_order(order: Order) -> Order:
    return replace(order, loaded_status=order.status)
