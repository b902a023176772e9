"""Products, reservations and reservation lines.

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
        "products",
        sa.Column("product_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("price_cents", sa.BigInteger, nullable=False),
        sa.Column("stock_quantity", sa.Integer, nullable=False),
        sa.Column("low_stock_threshold", sa.Integer, nullable=False),
        sa.Column("create_time", UTCDateTime, nullable=False),
        sa.Column("update_time", UTCDateTime, nullable=False),
        sa.CheckConstraint("stock_quantity >= 0", name="ck_products_stock_not_negative"),
    )
    op.create_index("ix_products_create_time", "products", ["create_time"])
    op.create_table(
        "reservations",
        sa.Column("order_id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reserve_time", UTCDateTime, nullable=False),
        sa.Column("release_time", UTCDateTime, nullable=True),
    )
    op.create_table(
        "reservation_lines",
        sa.Column("order_id", sa.String(36), sa.ForeignKey("reservations.order_id"), primary_key=True),
        sa.Column("product_id", sa.String(36), sa.ForeignKey("products.product_id"), primary_key=True),
        sa.Column("line_no", sa.Integer, nullable=False),
        sa.Column("product_name", sa.String(200), nullable=False),
        sa.Column("unit_price_cents", sa.BigInteger, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_reservation_lines_quantity_positive"),
    )


def downgrade() -> None:
    op.drop_table("reservation_lines")
    op.drop_table("reservations")
    op.drop_index("ix_products_create_time", "products")
    op.drop_table("products")
