"""Request ids are each customer's own: unique on (customer_id, request_id) instead of request_id alone,
so one customer can neither learn that another's key is taken nor squat it. Every existing table
satisfies the new rule (it is weaker than the old one).

PostgreSQL swaps the constraint in place. SQLite cannot drop a constraint, so ``orders`` is rebuilt; the
lines are moved aside first, as dropping a table that other rows reference fails with foreign keys on.
Plain operations rather than batch mode, so ``eshop order migrate --sql`` renders it without a database.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from common.db.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PER_CUSTOMER = "uq_orders_customer_request_id"
# PostgreSQL's name for the unique column of revision 0001 (``<table>_<column>_key``).
POSTGRES_GLOBAL = "orders_request_id_key"
ORDER_COLUMNS = (
    "order_id, customer_id, status, status_reason, failed_product_ids, request_id, create_time, "
    "update_time, trace_context"
)
LINE_COLUMNS = "order_id, line_no, product_id, quantity, product_name, unit_price_cents"


def upgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        _rebuild_on_sqlite(sa.UniqueConstraint("customer_id", "request_id", name=PER_CUSTOMER))
    else:
        op.drop_constraint(POSTGRES_GLOBAL, "orders", type_="unique")
        op.create_unique_constraint(PER_CUSTOMER, "orders", ["customer_id", "request_id"])


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        _rebuild_on_sqlite(sa.UniqueConstraint("request_id"))
    else:
        op.drop_constraint(PER_CUSTOMER, "orders", type_="unique")
        op.create_unique_constraint(POSTGRES_GLOBAL, "orders", ["request_id"])


def _rebuild_on_sqlite(unique: sa.UniqueConstraint) -> None:
    op.create_table("_orders_rebuilt", *_order_columns(), unique)
    op.execute(f"INSERT INTO _orders_rebuilt ({ORDER_COLUMNS}) SELECT {ORDER_COLUMNS} FROM orders")
    op.create_table("_order_lines_aside", *_line_columns(references=False))
    op.execute(f"INSERT INTO _order_lines_aside ({LINE_COLUMNS}) SELECT {LINE_COLUMNS} FROM order_lines")
    op.drop_table("order_lines")
    op.drop_table("orders")  # its indexes with it
    op.rename_table("_orders_rebuilt", "orders")
    op.create_index("ix_orders_create_time", "orders", ["create_time", "order_id"])
    op.create_index("ix_orders_customer_create_time", "orders", ["customer_id", "create_time", "order_id"])
    op.create_index("ix_orders_status_update_time", "orders", ["status", "update_time"])
    op.create_table("order_lines", *_line_columns(references=True))
    op.execute(f"INSERT INTO order_lines ({LINE_COLUMNS}) SELECT {LINE_COLUMNS} FROM _order_lines_aside")
    op.drop_table("_order_lines_aside")


def _order_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("order_id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text, nullable=False),
        sa.Column("failed_product_ids", sa.Text, nullable=False),
        sa.Column("request_id", sa.String(36), nullable=True),
        sa.Column("create_time", UTCDateTime, nullable=False),
        sa.Column("update_time", UTCDateTime, nullable=False),
        sa.Column("trace_context", sa.String(128), nullable=True),
    ]


def _line_columns(*, references: bool) -> list[sa.Column[Any]]:
    order_id = (
        sa.Column("order_id", sa.String(36), sa.ForeignKey("orders.order_id"), primary_key=True)
        if references
        else sa.Column("order_id", sa.String(36), primary_key=True)
    )
    return [
        order_id,
        sa.Column("line_no", sa.Integer, primary_key=True),
        sa.Column("product_id", sa.String(36), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("product_name", sa.String(200), nullable=True),
        sa.Column("unit_price_cents", sa.BigInteger, nullable=True),
    ]
