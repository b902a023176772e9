"""The Product service's schema (SQLAlchemy Core)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from common.db.event_outbox import event_outbox_table
from common.db.types import UTCDateTime

metadata = MetaData()

products = Table(
    "products",
    metadata,
    Column("product_id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("price_cents", BigInteger, nullable=False),
    Column("stock_quantity", Integer, nullable=False),
    Column("low_stock_threshold", Integer, nullable=False),
    Column("create_time", UTCDateTime, nullable=False, index=True),
    Column("update_time", UTCDateTime, nullable=False),
    # Empty: no category. The server default is for the rows written before categories existed.
    Column("category", String(50), nullable=False, server_default=""),
    Column("delete_time", UTCDateTime, nullable=True),
    # Incremented by every UPDATE of the row, stock moves included: the etag, and what saves compare.
    Column("version", BigInteger, nullable=False, server_default="1"),
    # The last line of defence: whatever the code does, the database refuses negative stock.
    CheckConstraint("stock_quantity >= 0", name="ck_products_stock_not_negative"),
    # ListProducts by category: the equality, then the keyset paging's order.
    Index("ix_products_category_create_time", "category", "create_time", "product_id"),
)

# One row per order id: the primary key is what makes a concurrent duplicate ReserveStock impossible.
reservations = Table(
    "reservations",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("reserve_time", UTCDateTime, nullable=False),
    Column("release_time", UTCDateTime, nullable=True),
)

reservation_lines = Table(
    "reservation_lines",
    metadata,
    Column("order_id", String(36), ForeignKey("reservations.order_id"), primary_key=True),
    Column("product_id", String(36), ForeignKey("products.product_id"), primary_key=True, index=True),
    Column("line_no", Integer, nullable=False),
    Column("product_name", String(200), nullable=False),
    Column("unit_price_cents", BigInteger, nullable=False),
    Column("quantity", Integer, nullable=False),
    CheckConstraint("quantity > 0", name="ck_reservation_lines_quantity_positive"),
)

# Integration events waiting to be published, and published ones until the retention prunes them
# (migration 0004).
event_outbox = event_outbox_table(metadata)
