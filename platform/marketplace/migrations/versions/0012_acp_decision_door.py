"""The decision log records the door a request came through (web, api, ucp, acp or mcp), and
partners' ACP order-event webhooks get a table

Rows written before are the store's own doors: `api` under /api/, `web` elsewhere.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gate_decisions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("door", sa.String(length=8), nullable=False, server_default="web")
        )
    decisions = sa.table("gate_decisions", sa.column("door", sa.String()), sa.column("path"))
    op.execute(decisions.update().where(decisions.c.path.like("/api/%")).values(door="api"))
    op.create_table(
        "acp_webhooks",
        sa.Column("partner", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("partner"),
    )


def downgrade() -> None:
    op.drop_table("acp_webhooks")
    with op.batch_alter_table("gate_decisions", schema=None) as batch_op:
        batch_op.drop_column("door")
