"""Catalogue management: a category (indexed for ListProducts by category), soft deletion, and a
version that every write moves on (the etag).

Existing products get no category, are live, and start at version 1.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from common.db.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN with a constant default: no table rewrite on PostgreSQL, and SQLite needs no batch copy.
    op.add_column("products", sa.Column("category", sa.String(50), nullable=False, server_default=""))
    op.add_column("products", sa.Column("delete_time", UTCDateTime, nullable=True))
    op.add_column("products", sa.Column("version", sa.BigInteger, nullable=False, server_default="1"))
    op.create_index("ix_products_category_create_time", "products", ["category", "create_time", "product_id"])


def downgrade() -> None:
    op.drop_index("ix_products_category_create_time", "products")
    with op.batch_alter_table("products") as batch:  # SQLite drops columns by copying the table
        batch.drop_column("version")
        batch.drop_column("delete_time")
        batch.drop_column("category")
