"""Index reservation lines by product: a restock sums the units active reservations hold.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_reservation_lines_product_id", "reservation_lines", ["product_id"])


def downgrade() -> None:
    op.drop_index("ix_reservation_lines_product_id", "reservation_lines")
