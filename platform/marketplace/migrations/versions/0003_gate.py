"""Policy gate decision log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.core.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gate_decisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("raw_path", sa.String(length=512), nullable=False),
        sa.Column("route_class", sa.String(length=32), nullable=False),
        sa.Column("visitor_class", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("enforced", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("policy", sa.String(length=64), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("bot_score", sa.Integer(), nullable=True),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("agent", sa.String(length=128), nullable=True),
        sa.Column("session", sa.String(length=32), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("team", sa.String(length=64), nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=False),
        sa.Column("latency_us", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_decisions")),
    )
    op.create_index("ix_gate_decisions_at", "gate_decisions", ["at"], unique=False)
    op.create_index(
        "ix_gate_decisions_class_at", "gate_decisions", ["visitor_class", "at"], unique=False
    )
    op.create_index("ix_gate_decisions_action_at", "gate_decisions", ["action", "at"], unique=False)
    op.create_index("ix_gate_decisions_account", "gate_decisions", ["account_id"], unique=False)
    op.create_index(op.f("ix_gate_decisions_session"), "gate_decisions", ["session"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_gate_decisions_session"), table_name="gate_decisions")
    op.drop_index("ix_gate_decisions_account", table_name="gate_decisions")
    op.drop_index("ix_gate_decisions_action_at", table_name="gate_decisions")
    op.drop_index("ix_gate_decisions_class_at", table_name="gate_decisions")
    op.drop_index("ix_gate_decisions_at", table_name="gate_decisions")
    op.drop_table("gate_decisions")
