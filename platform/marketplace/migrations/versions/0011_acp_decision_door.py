"""The decision log records the door a request came through: web, api, ucp, acp or mcp

Rows written before are the store's own doors: `api` under /api/, `web` elsewhere.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gate_decisions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("door", sa.String(length=8), nullable=False, server_default="web")
        )
    decisions = sa.table("gate_decisions", sa.column("door", sa.String()), sa.column("path"))
    op.execute(decisions.update().where(decisions.c.path.like("/api/%")).values(door="api"))


def downgrade() -> None:
    with op.batch_alter_table("gate_decisions", schema=None) as batch_op:
        batch_op.drop_column("door")
