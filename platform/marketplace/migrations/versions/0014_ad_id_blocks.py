"""Ad impression ids are handed out in blocks from a counter, so a product page can name its
impressions in the click links without inserting them in the request

The counter starts after the highest impression id already written.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "id_blocks",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("next_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_id_blocks")),
    )
    op.execute(
        "INSERT INTO id_blocks (name, next_id) "
        "SELECT 'ad_impressions', COALESCE(MAX(id), 0) + 1 FROM ad_impressions"
    )


def downgrade() -> None:
    op.drop_table("id_blocks")
