"""Orders, order lines and the release outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from common.db.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("order_id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text, nullable=False),
        sa.Column("failed_product_ids", sa.Text, nullable=False),
        sa.Column("request_id", sa.String(36), nullable=True, unique=True),
        sa.Column("create_time", UTCDateTime, nullable=False),
        sa.Column("update_time", UTCDateTime, nullable=False),
    )
    op.create_index("ix_orders_create_time", "orders", ["create_time", "order_id"])
    op.create_index("ix_orders_customer_create_time", "orders", ["customer_id", "create_time", "order_id"])
    op.create_index("ix_orders_status_update_time", "orders", ["status", "update_time"])
    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.String(36), sa.ForeignKey("orders.order_id"), primary_key=True),
        sa.Column("line_no", sa.Integer, primary_key=True),
        sa.Column("product_id", sa.String(36), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("product_name", sa.String(200), nullable=True),
        sa.Column("unit_price_cents", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "release_outbox",
        sa.Column("entry_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.String(36), nullable=False),
        sa.Column("correlation_id", sa.String(128), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
    )
    op.create_index("ix_release_outbox_next_attempt_at", "release_outbox", ["next_attempt_at"])


def downgrade() -> None:
    op.drop_table("release_outbox")
    op.drop_table("order_lines")
    op.drop_index("ix_orders_status_update_time", "orders")
    op.drop_index("ix_orders_customer_create_time", "orders")
    op.drop_index("ix_orders_create_time", "orders")
    op.drop_table("orders")
