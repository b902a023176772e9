"""The migration step that creates a service's event outbox (each service's migrations run it once).
Frozen as written: a later change of the table is a new step, never an edit of this one."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from common.db.types import UTCDateTime

TABLE = "event_outbox"


def create_event_outbox() -> None:
    op.create_table(
        TABLE,
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(36), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("event_time", UTCDateTime(), nullable=False),
        sa.Column("correlation_id", sa.String(128), nullable=False),
        sa.Column("trace_context", sa.String(128), nullable=False, server_default=""),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_event_outbox_subject_seq", TABLE, ["subject", "seq"])
    op.create_index("ix_event_outbox_next_attempt_at", TABLE, ["next_attempt_at"])
    op.create_index("ix_event_outbox_published_at", TABLE, ["published_at"])


def drop_event_outbox() -> None:
    op.drop_table(TABLE)
