"""The event outbox: integration events written with the order changes they come from, published by
the outbox's delivery and kept for the retention once published.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from common.db.event_outbox_migration import create_event_outbox, drop_event_outbox

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_event_outbox()


def downgrade() -> None:
    drop_event_outbox()
