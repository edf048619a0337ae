"""Gate identity and shared state (partners, nonces, counters, session signals, active policy)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.core.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gate_partners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_partners")),
        sa.UniqueConstraint("name", name=op.f("uq_gate_partners_name")),
    )
    op.create_table(
        "gate_partner_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("keyid", sa.String(length=64), nullable=False),
        sa.Column("jwk", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["gate_partners.id"],
            name=op.f("fk_gate_partner_keys_partner_id_gate_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_partner_keys")),
        sa.UniqueConstraint("keyid", name=op.f("uq_gate_partner_keys_keyid")),
    )
    op.create_table(
        "gate_nonces",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_gate_nonces")),
    )
    op.create_index("ix_gate_nonces_expires", "gate_nonces", ["expires_at"], unique=False)
    op.create_table(
        "gate_counters",
        sa.Column("bucket", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "window_start", name=op.f("pk_gate_counters")),
    )
    op.create_index("ix_gate_counters_expires", "gate_counters", ["expires_at"], unique=False)
    op.create_table(
        "gate_session_signals",
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("first_seen", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("assets", sa.Integer(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("beacons", sa.Integer(), nullable=False),
        sa.Column("webdriver_beacons", sa.Integer(), nullable=False),
        sa.Column("pointer_events", sa.Integer(), nullable=False),
        sa.Column("key_events", sa.Integer(), nullable=False),
        sa.Column("first_interaction_ms", sa.Float(), nullable=True),
        sa.Column("first_checkout", sa.Float(), nullable=True),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_gate_session_signals")),
    )
    op.create_index(
        "ix_gate_session_signals_last_seen", "gate_session_signals", ["last_seen"], unique=False
    )
    op.create_table(
        "gate_kv",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("updated_at", marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_gate_kv")),
    )
    op.create_table(
        "gate_account_strikes",
        sa.Column("account_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("strikes", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_gate_account_strikes")),
    )
    op.create_table(
        "gate_escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("strikes", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_escalations")),
    )
    op.create_index(
        "ix_gate_escalations_account",
        "gate_escalations",
        ["account_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_gate_escalations_account", table_name="gate_escalations")
    op.drop_table("gate_escalations")
    op.drop_table("gate_account_strikes")
    op.drop_table("gate_kv")
    op.drop_index("ix_gate_session_signals_last_seen", table_name="gate_session_signals")
    op.drop_table("gate_session_signals")
    op.drop_index("ix_gate_counters_expires", table_name="gate_counters")
    op.drop_table("gate_counters")
    op.drop_index("ix_gate_nonces_expires", table_name="gate_nonces")
    op.drop_table("gate_nonces")
    op.drop_table("gate_partner_keys")
    op.drop_table("gate_partners")
