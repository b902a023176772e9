"""The real services' tables and indexes, as plain DDL (every index is work a write pays for).

A test compares these with the tables the real services create (``test_lean_references.py``).
"""

from __future__ import annotations

ORDER = """
CREATE TABLE orders (
    order_id VARCHAR(36) NOT NULL PRIMARY KEY,
    customer_id VARCHAR(36) NOT NULL,
    status VARCHAR(16) NOT NULL,
    status_reason TEXT NOT NULL,
    failed_product_ids TEXT NOT NULL,
    request_id VARCHAR(36),
    create_time {ts} NOT NULL,
    update_time {ts} NOT NULL,
    trace_context VARCHAR(128),
    CONSTRAINT uq_orders_customer_request_id UNIQUE (customer_id, request_id)
);
CREATE INDEX ix_orders_create_time ON orders (create_time, order_id);
CREATE INDEX ix_orders_customer_create_time ON orders (customer_id, create_time, order_id);
CREATE INDEX ix_orders_status_update_time ON orders (status, update_time);
CREATE TABLE order_lines (
    order_id VARCHAR(36) NOT NULL REFERENCES orders (order_id),
    line_no INTEGER NOT NULL,
    product_id VARCHAR(36) NOT NULL,
    quantity INTEGER NOT NULL,
    product_name VARCHAR(200),
    unit_price_cents BIGINT,
    PRIMARY KEY (order_id, line_no)
);
CREATE TABLE release_outbox (
    entry_id {serial} NOT NULL PRIMARY KEY,
    order_id VARCHAR(36) NOT NULL,
    correlation_id VARCHAR(128) NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at {ts} NOT NULL,
    created_at {ts} NOT NULL,
    last_error TEXT NOT NULL,
    trace_context VARCHAR(128) DEFAULT '' NOT NULL
);
CREATE INDEX ix_release_outbox_next_attempt_at ON release_outbox (next_attempt_at);
"""

PRODUCT = """
CREATE TABLE products (
    product_id VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    description TEXT NOT NULL,
    price_cents BIGINT NOT NULL,
    stock_quantity INTEGER NOT NULL,
    low_stock_threshold INTEGER NOT NULL,
    create_time {ts} NOT NULL,
    update_time {ts} NOT NULL,
    category VARCHAR(50) DEFAULT '' NOT NULL,
    delete_time {ts},
    version BIGINT DEFAULT 1 NOT NULL,
    CONSTRAINT ck_products_stock_not_negative CHECK (stock_quantity >= 0)
);
CREATE INDEX ix_products_create_time ON products (create_time);
CREATE INDEX ix_products_category_create_time ON products (category, create_time, product_id);
CREATE TABLE reservations (
    order_id VARCHAR(36) NOT NULL PRIMARY KEY,
    status VARCHAR(16) NOT NULL,
    reserve_time {ts} NOT NULL,
    release_time {ts}
);
CREATE TABLE reservation_lines (
    order_id VARCHAR(36) NOT NULL REFERENCES reservations (order_id),
    product_id VARCHAR(36) NOT NULL REFERENCES products (product_id),
    line_no INTEGER NOT NULL,
    product_name VARCHAR(200) NOT NULL,
    unit_price_cents BIGINT NOT NULL,
    quantity INTEGER NOT NULL,
    PRIMARY KEY (order_id, product_id),
    CONSTRAINT ck_reservation_lines_quantity_positive CHECK (quantity > 0)
);
CREATE INDEX ix_reservation_lines_product_id ON reservation_lines (product_id);
"""


# Both services' integration events (written only with a broker configured, which the lean references
# leave out: the table is here so that the schemas stay the same).
EVENT_OUTBOX = """
CREATE TABLE event_outbox (
    seq {bigserial} NOT NULL PRIMARY KEY,
    event_id VARCHAR(36) NOT NULL UNIQUE,
    event_type VARCHAR(100) NOT NULL,
    subject VARCHAR(36) NOT NULL,
    payload {blob} NOT NULL,
    event_time {ts} NOT NULL,
    correlation_id VARCHAR(128) NOT NULL,
    trace_context VARCHAR(128) DEFAULT '' NOT NULL,
    attempts INTEGER DEFAULT '0' NOT NULL,
    next_attempt_at {ts} NOT NULL,
    created_at {ts} NOT NULL,
    published_at {ts},
    last_error TEXT DEFAULT '' NOT NULL
);
CREATE INDEX ix_event_outbox_subject_seq ON event_outbox (subject, seq);
CREATE INDEX ix_event_outbox_next_attempt_at ON event_outbox (next_attempt_at);
CREATE INDEX ix_event_outbox_published_at ON event_outbox (published_at);
"""


def ddl(service: str, postgres: bool) -> str:
    template = (ORDER if service == "order" else PRODUCT) + EVENT_OUTBOX
    if postgres:
        return template.format(
            ts="TIMESTAMP WITH TIME ZONE", serial="SERIAL", bigserial="BIGSERIAL", blob="BYTEA"
        )
    return template.format(ts="DATETIME", serial="INTEGER", bigserial="INTEGER", blob="BLOB")
