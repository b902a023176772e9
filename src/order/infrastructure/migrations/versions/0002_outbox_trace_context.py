"""The W3C trace context of the call that queued a release, so its later delivery joins that trace.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("release_outbox") as table:
        table.add_column(sa.Column("trace_context", sa.String(128), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("release_outbox") as table:
        table.drop_column("trace_context")
