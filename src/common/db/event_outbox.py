"""The event outbox table (each service has one, in its own schema) and its SQL store.

Order per subject: a row's ``seq`` is given at insert, and the insert comes at the commit of the change,
after the change has locked the order's or product's row (an UPDATE, or the INSERT that creates it):
of two events of one subject, the later commit holds the larger ``seq``. ``due`` offers of each subject
only its lowest unpublished row, so the next is not even offered before the one ahead is confirmed,
whichever replica publishes.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Select,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    exists,
    select,
    update,
)

from common.db.outbox_table import ConnectionSource, SqlOutboxTable
from common.db.types import UTCDateTime
from common.events.outbox import EncodedEvent, PendingEvent

TABLE = "event_outbox"
# SQLite's rowid alias must be INTEGER PRIMARY KEY to count up by itself.
_SEQ = BigInteger().with_variant(Integer(), "sqlite")


def event_outbox_table(metadata: MetaData) -> Table:
    unpublished = Column("published_at", UTCDateTime, nullable=True)
    table = Table(
        TABLE,
        metadata,
        Column("seq", _SEQ, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("event_type", String(100), nullable=False),
        Column("subject", String(36), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("event_time", UTCDateTime, nullable=False),
        Column("correlation_id", String(128), nullable=False),
        Column("trace_context", String(128), nullable=False, server_default=""),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("next_attempt_at", UTCDateTime, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        unpublished,
        Column("last_error", Text, nullable=False, server_default=""),
    )
    # What waits (each subject's next, what is due) and what the retention deletes.
    Index("ix_event_outbox_subject_seq", table.c.subject, table.c.seq)
    Index("ix_event_outbox_next_attempt_at", table.c.next_attempt_at)
    Index("ix_event_outbox_published_at", table.c.published_at)
    return table


@functools.cache
def _due_statement(table: Table) -> Select[Any]:
    """Of each subject only the earliest unpublished event, if it is due; built once per table (a unit
    of work is made per call, and building a statement costs more than running this one)."""
    earlier = table.alias("earlier")
    return (
        select(table)
        .where(
            table.c.published_at.is_(None),
            table.c.next_attempt_at <= bindparam("p_now"),
            ~exists().where(
                earlier.c.subject == table.c.subject,
                earlier.c.published_at.is_(None),
                earlier.c.seq < table.c.seq,
            ),
        )
        .order_by(table.c.seq)
        .limit(bindparam("p_limit"))
    )


class SqlEventOutbox(SqlOutboxTable):
    """A published event's row stays (``published_at`` set) until the retention prunes it."""

    def __init__(self, connection: ConnectionSource, table: Table) -> None:
        super().__init__(connection, table, key="seq")

    def _waiting(self) -> ColumnElement[bool]:
        return self._t.c.published_at.is_(None)

    def add(
        self, event: EncodedEvent, event_id: UUID, correlation_id: str, trace_context: str, now: datetime
    ) -> None:
        self._conn().execute(
            self._t.insert(),
            {
                "event_id": str(event_id),
                "event_type": event.event_type,
                "subject": event.subject,
                "payload": event.payload,
                "event_time": event.time,
                "correlation_id": correlation_id,
                "trace_context": trace_context,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "last_error": "",
            },
        )

    def due(self, now: datetime, limit: int) -> list[PendingEvent]:
        rows = self._conn().execute(_due_statement(self._t), {"p_now": now, "p_limit": limit})
        return [
            PendingEvent(
                entry_id=r.seq,
                event_id=UUID(r.event_id),
                event_type=r.event_type,
                subject=r.subject,
                payload=bytes(r.payload),
                time=r.event_time,
                correlation_id=r.correlation_id,
                trace_context=r.trace_context,
                attempts=r.attempts,
                next_attempt_at=r.next_attempt_at,
                created_at=r.created_at,
            )
            for r in rows
        ]

    def done(self, entry_id: int, now: datetime) -> None:
        t = self._t
        self._conn().execute(update(t).where(t.c.seq == entry_id).values(published_at=now, last_error=""))

    def prune(self, published_before: datetime, limit: int) -> int:
        t = self._t
        oldest = (
            select(t.c.seq)
            .where(and_(t.c.published_at.is_not(None), t.c.published_at < published_before))
            .order_by(t.c.published_at)
            .limit(limit)
            .scalar_subquery()
        )
        result = self._conn().execute(delete(t).where(t.c.seq.in_(oldest)))
        return int(result.rowcount)
