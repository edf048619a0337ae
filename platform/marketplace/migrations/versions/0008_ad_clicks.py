"""Ad clicks: a sponsored listing opened by a visitor, and what the advertiser pays for it

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.core.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ad_clicks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("impression_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Numeric(precision=12, scale=2, asdecimal=False), nullable=False),
        sa.Column("charged", sa.Boolean(), nullable=False),
        sa.Column("visitor_class", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("session_key", sa.String(length=64), nullable=True),
        sa.Column("created_at", marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["impression_id"],
            ["ad_impressions.id"],
            name=op.f("fk_ad_clicks_impression_id_ad_impressions"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_ad_clicks_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_ad_clicks_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ad_clicks")),
        sa.UniqueConstraint("impression_id", name=op.f("uq_ad_clicks_impression_id")),
    )
    op.create_index("ix_ad_clicks_time", "ad_clicks", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_ad_clicks_time", table_name="ad_clicks")
    op.drop_table("ad_clicks")
