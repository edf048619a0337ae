"""Workshop fairness: stock held per account, the login client of a session, suspension switch

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stock_holds",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_stock_holds_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_stock_holds_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", "account_id", name=op.f("pk_stock_holds")),
    )
    with op.batch_alter_table("auth_sessions") as batch:
        batch.add_column(sa.Column("client", sa.String(length=32), nullable=True))
    with op.batch_alter_table("workshop_challenges") as batch:
        batch.add_column(
            sa.Column("suspend_accounts", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("workshop_challenges") as batch:
        batch.drop_column("suspend_accounts")
    with op.batch_alter_table("auth_sessions") as batch:
        batch.drop_column("client")
    op.drop_table("stock_holds")
