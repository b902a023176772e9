"""The Order service's schema (SQLAlchemy Core)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from common.db.event_outbox import event_outbox_table
from common.db.types import UTCDateTime

metadata = MetaData()
REQUEST_ID_PER_CUSTOMER = "uq_orders_customer_request_id"

orders = Table(
    "orders",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("customer_id", String(36), nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_reason", Text, nullable=False, default=""),
    Column("failed_product_ids", Text, nullable=False, default=""),  # comma-separated UUIDs
    # AIP-155 idempotency key, each customer's own (migration 0004): unique per customer, so two
    # concurrent creates with one key make one order, and one customer can neither squat another's key
    # nor learn that it is taken.
    Column("request_id", String(36), nullable=True),
    Column("create_time", UTCDateTime, nullable=False),
    Column("update_time", UTCDateTime, nullable=False),
    # The traceparent of the CreateOrder that placed it (migration 0003): the reconciler joins that trace.
    Column("trace_context", String(128), nullable=True),
    UniqueConstraint("customer_id", "request_id", name=REQUEST_ID_PER_CUSTOMER),
    Index("ix_orders_create_time", "create_time", "order_id"),
    Index("ix_orders_customer_create_time", "customer_id", "create_time", "order_id"),
    Index("ix_orders_status_update_time", "status", "update_time"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", String(36), ForeignKey("orders.order_id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("product_id", String(36), nullable=False),
    Column("quantity", Integer, nullable=False),
    # Filled from the reservation when the order is confirmed.
    Column("product_name", String(200), nullable=True),
    Column("unit_price_cents", BigInteger, nullable=True),
)

# Releases not yet acknowledged by the Product service (transactional outbox).
release_outbox = Table(
    "release_outbox",
    metadata,
    Column("entry_id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", String(36), nullable=False),
    Column("correlation_id", String(128), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_error", Text, nullable=False, default=""),
    # The traceparent of the call that queued it (migration 0002): its delivery joins that trace.
    Column("trace_context", String(128), nullable=False, default="", server_default=""),
)

# Integration events waiting to be published, and published ones until the retention prunes them
# (migration 0005).
event_outbox = event_outbox_table(metadata)
