"""What every outbox table does alike in SQL, whatever its rows deliver (a release, an event): claim a
row under a lease, put it off after a failed attempt, make every waiting one due at once, and count
what waits. Each outbox says how it adds, offers and finishes its rows (``SqlEventOutbox``, the Order
service's ``SqlReleaseOutbox``), and which of its rows still wait (``_waiting``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Table, func, select, true, update

from common.db.types import UTCDateTime
from common.outbox.delivery import OutboxEntry, OutboxStats

ConnectionSource = Callable[[], Connection]


class SqlOutboxTable:
    def __init__(self, connection: ConnectionSource, table: Table, key: str) -> None:
        """``key``: the column of the rows' ``entry_id``."""
        self._conn = connection
        self._t = table
        self._key = table.c[key]

    def _waiting(self) -> ColumnElement[bool]:
        """The rows not delivered yet: all of them, where a delivered row is deleted."""
        return true()

    def claim(self, entry: OutboxEntry, until: datetime) -> bool:
        # Compare-and-set on the time we saw: of several workers (replicas) only one moves it.
        t = self._t
        result = self._conn().execute(
            update(t)
            .where(
                self._key == entry.entry_id,
                t.c.next_attempt_at == entry.next_attempt_at,
                self._waiting(),
            )
            .values(next_attempt_at=until)
        )
        return result.rowcount == 1

    def retry_later(self, entry_id: int, attempts: int, at: datetime, error: str) -> None:
        self._conn().execute(
            update(self._t)
            .where(self._key == entry_id, self._waiting())
            .values(attempts=attempts, next_attempt_at=at, last_error=error[:1000])
        )

    def retry_now(self, now: datetime) -> int:
        t = self._t
        result = self._conn().execute(
            update(t)
            .where(self._waiting(), t.c.attempts > 0, t.c.next_attempt_at > now)
            .values(next_attempt_at=now)
        )
        return int(result.rowcount)

    def stats(self) -> OutboxStats:
        count, oldest = (
            self._conn()
            .execute(
                select(func.count(), func.min(self._t.c.created_at, type_=UTCDateTime)).where(self._waiting())
            )
            .one()
        )
        return OutboxStats(int(count), oldest)
